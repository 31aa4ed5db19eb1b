package loss

// SetGR changes the objectness iou ratio (the reference fixes it at 1);
// with 0 the objectness target no longer depends on the box prediction,
// which lets finite differences check the box gradient.
func SetGR(l *Loss, gr float64) { l.gr = gr }

// FreezeAlpha records CIoU's alpha for every match on the next Compute and
// uses the recorded values from then on, so that finite differences see
// the function PyTorch's autograd differentiates (alpha is computed under
// no_grad there). The returned func undoes it.
func FreezeAlpha(l *Loss) (unfreeze func()) {
	type key struct{ i, k int }
	rec := map[key]float64{}
	l.alphaHook = func(i, k int, a float64) float64 {
		if v, ok := rec[key{i, k}]; ok {
			return v
		}
		rec[key{i, k}] = a
		return a
	}
	return func() { l.alphaHook = nil }
}
