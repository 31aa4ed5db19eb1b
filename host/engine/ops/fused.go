package ops

// BiasSiLU computes y = silu(x + bias[c]) over planes of hw floats, plane p
// belonging to channel p mod len(bias): a convolution's bias and its SiLU
// in one pass over the output, for eval plans where nothing needs the
// pre-activation values. It may run in place (y = x).
func BiasSiLU(x, y, bias []float32, hw int, workers int) error {
	w, err := elementwise("BiasSiLU", workers, actExpCost(), len(x), namesXY, x, y)
	if err != nil {
		return err
	}
	if hw <= 0 || len(bias) == 0 || len(x)%(hw*len(bias)) != 0 {
		return shapeErr("BiasSiLU", "len(x) = %d is not a whole number of %d planes of %d", len(x), len(bias), hw)
	}
	planes := len(x) / hw
	if w = min(w, planes); w > 1 {
		run(w, planes, func(lo, hi int) { biasSiluPlanes(x, y, bias, hw, lo, hi) })
	} else {
		biasSiluPlanes(x, y, bias, hw, 0, planes)
	}
	return nil
}

func biasSiluPlanes(x, y, bias []float32, hw, p0, p1 int) {
	for p := p0; p < p1; p++ {
		biasSiluPlane(x[p*hw:(p+1)*hw], y[p*hw:(p+1)*hw], bias[p%len(bias)])
	}
}

// BiasSiLURow computes y = silu(x + b) for one row, in place if y is x:
// the activation a convolution applies to each output row itself (see
// conv.ForwardWith). y must be at least as long as x. Unlike BiasSiLU it
// neither checks nor splits its work, so that per-row calls stay cheap.
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
