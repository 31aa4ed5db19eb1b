package blas

// KernelNames lists the micro-kernels usable on this machine, best first.
func KernelNames() []string {
	var names []string
	for _, k := range kernels() {
		names = append(names, k.name)
	}
	return names
}

// NewGoWithKernel builds a Go backend forced onto the named micro-kernel.
func NewGoWithKernel(threads int, name string) *Go {
	for _, k := range kernels() {
		if k.name == name {
			return newGo(threads, k)
		}
	}
	panic("unknown kernel " + name)
}
