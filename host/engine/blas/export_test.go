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

// UseAVX512Pack switches the assembly panel packers on or off (where the
// CPU has them) and returns the previous setting.
func UseAVX512Pack(on bool) bool {
	prev := useAVX512Pack
	useAVX512Pack = on && packAsmAvailable()
	return prev
}

// PackRows32 exposes packRows32.
func PackRows32(dst, b []float32, ldb, pc, kb, c0 int) { packRows32(dst, b, ldb, pc, kb, c0) }
