package blas

// PackRuns32 packs one whole 32-column B micro-panel from runs of a flat
// buffer: row p of the panel is src[offs[p]+c0 : offs[p]+c0+32]. It is the
// packing step of a PanelSource whose rows are contiguous runs (see
// conv's implicit path) and runs as vector moves where the CPU has them.
// maxOff must be at least every offs[p]; it bounds the reads once instead
// of per row.
func PackRuns32(dst, src []float32, offs []int32, maxOff, c0 int) {
	kb := len(offs)
	if kb == 0 {
		return
	}
	if len(dst) < 32*kb || c0 < 0 || maxOff+c0+32 > len(src) {
		panic("blas: PackRuns32 out of bounds")
	}
	if useAVX512Pack {
		packRuns32AVX512(&dst[0], &src[c0], &offs[0], kb)
		return
	}
	for p, o := range offs {
		if o < 0 || int(o) > maxOff {
			panic("blas: PackRuns32 offset out of range")
		}
		copy(dst[p*32:p*32+32], src[int(o)+c0:])
	}
}

// packRows32 packs rows [pc, pc+kb) x columns [c0, c0+32) of a row-major
// matrix b (leading dimension ldb) into a 32-wide micro-panel.
func packRows32(dst, b []float32, ldb, pc, kb, c0 int) {
	if kb == 0 {
		return
	}
	start := pc*ldb + c0
	if len(dst) < 32*kb || start+(kb-1)*ldb+32 > len(b) {
		panic("blas: packRows32 out of bounds")
	}
	if useAVX512Pack {
		packRows32AVX512(&dst[0], &b[start], ldb, kb)
		return
	}
	for p := range kb {
		copy(dst[p*32:p*32+32], b[start+p*ldb:])
	}
}
