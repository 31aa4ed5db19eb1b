package engine

// lightKernels are the ops the light backbones need beyond compileNode's.
var lightKernels = map[string]nodeCompiler{}
