package ops

// Exported for the external test package only.
var ExpInPlace = expInPlace
