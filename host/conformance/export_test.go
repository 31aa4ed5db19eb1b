package conformance

// Compare exposes compare to the tests.
var Compare = compare
