package ops

// BiasSiLURow computes y = silu(x + b) for one row, in place if y is x:
// a convolution's bias and SiLU, applied as it writes each output row (see
// conv.ForwardWith). y must be at least as long as x. It neither checks
// nor splits its work, so that per-row calls stay cheap.
func BiasSiLURow(x, y []float32, b float32) { biasSiluPlane(x, y, b) }

func biasSiluPlane(x, y []float32, b float32) {
	if useAVX512 {
		biasSiluAVX512(x, y[:len(x)], b)
		return
	}
	for i, v := range x {
		y[i] = v + b
	}
	siluRange(y, y)
}
