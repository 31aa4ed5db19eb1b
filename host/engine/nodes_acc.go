package engine

// accKernels are the ops the accuracy modules (attention, Swin) need beyond
// compileNode's.
var accKernels = map[string]nodeCompiler{}
