package ops

import "math"

func rowsCheck(op string, rows, cols int, names []string, bufs ...[]float32) error {
	n, ok := product(rows, cols)
	if !ok {
		return shapeErr(op, "rows %d, cols %d are negative or too large", rows, cols)
	}
	for i, b := range bufs {
		if err := checkLen(op, names[i], b, n); err != nil {
			return err
		}
	}
	return nil
}

// Softmax is softmax over the last dimension of a rows×cols tensor:
// y = e^(x-max) / Σ e^(x-max), exponentials in float64. y may be x.
func Softmax(rows, cols int, x, y []float32, workers int) error {
	const op = "Softmax"
	if err := rowsCheck(op, rows, cols, namesXY, x, y); err != nil {
		return err
	}
	if err := checkWorkers(op, workers); err != nil || len(x) == 0 {
		return err
	}
	if w := plan(workers, rows, expCost*cols); w > 1 {
		run(w, rows, func(lo, hi int) { softmaxRange(cols, x, y, lo, hi) })
	} else {
		softmaxRange(cols, x, y, 0, rows)
	}
	return nil
}

func softmaxRange(cols int, x, y []float32, r0, r1 int) {
	var e [chunk]float64
	for r := r0; r < r1; r++ {
		xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
		m := float32(math.Inf(-1))
		for _, v := range xr {
			if v > m || v != v {
				m = v
			}
		}
		mf := float64(m)
		var sum float64
		// Exponentials go to y (rounded once), the sum stays exact-ish.
		for j0 := 0; j0 < cols; j0 += chunk {
			j1 := min(j0+chunk, cols)
			b := e[:j1-j0]
			for j, v := range xr[j0:j1] {
				b[j] = float64(v) - mf
			}
			expInPlace(b)
			for j, v := range b {
				sum += v
				yr[j0+j] = float32(v)
			}
		}
		inv := 1 / sum
		for j, v := range yr {
			yr[j] = float32(float64(v) * inv)
		}
	}
}

// SoftmaxBackward computes dx = y ⊙ (dy - Σ dy⊙y) per row from the forward
// output y. dx may be dy.
func SoftmaxBackward(rows, cols int, y, dy, dx []float32, workers int) error {
	const op = "SoftmaxBackward"
	if err := rowsCheck(op, rows, cols, namesYDyDx, y, dy, dx); err != nil {
		return err
	}
	if err := checkWorkers(op, workers); err != nil || len(y) == 0 {
		return err
	}
	if w := plan(workers, rows, 3*cols); w > 1 {
		run(w, rows, func(lo, hi int) { softmaxBackRange(cols, y, dy, dx, lo, hi) })
	} else {
		softmaxBackRange(cols, y, dy, dx, 0, rows)
	}
	return nil
}

func softmaxBackRange(cols int, y, dy, dx []float32, r0, r1 int) {
	for r := r0; r < r1; r++ {
		yr, gr, dr := y[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
		s := dot64(yr, gr)
		for j, v := range yr {
			dr[j] = float32(float64(v) * (float64(gr[j]) - s))
		}
	}
}

// LayerNorm is nn.LayerNorm(cols, eps) over the last dimension of a
// rows×cols tensor: y = (x-mean)/sqrt(var+eps)·gamma + beta with the biased
// variance, statistics in float64. gamma and beta (length cols) may be nil
// (elementwise_affine=False). mean and rstd (length rows, optional) receive
// the statistics LayerNormBackward needs. y may be x.
func LayerNorm(rows, cols int, eps float64, x, gamma, beta, y, mean, rstd []float32, workers int) error {
	const op = "LayerNorm"
	if err := rowsCheck(op, rows, cols, namesXY, x, y); err != nil {
		return err
	}
	if err := lnParamCheck(op, rows, cols, eps, gamma, beta, mean, rstd, workers); err != nil {
		return err
	}
	if len(x) == 0 {
		// Empty rows (cols = 0) still have statistics; rows may be huge
		// only when nothing is saved.
		for r := range len(mean) {
			mean[r] = 0
		}
		for r := range len(rstd) {
			rstd[r] = float32(1 / math.Sqrt(eps))
		}
		return nil
	}
	if w := plan(workers, rows, 3*cols); w > 1 {
		run(w, rows, func(lo, hi int) { layerNormRange(cols, eps, x, gamma, beta, y, mean, rstd, lo, hi) })
	} else {
		layerNormRange(cols, eps, x, gamma, beta, y, mean, rstd, 0, rows)
	}
	return nil
}

func lnParamCheck(op string, rows, cols int, eps float64, gamma, beta, mean, rstd []float32, workers int) error {
	if !(eps >= 0) || math.IsInf(eps, 0) {
		return shapeErr(op, "eps = %v, want a finite value >= 0", eps)
	}
	if err := checkOpt(op, "gamma", gamma, cols); err != nil {
		return err
	}
	if err := checkOpt(op, "beta", beta, cols); err != nil {
		return err
	}
	if err := checkOpt(op, "mean", mean, rows); err != nil {
		return err
	}
	if err := checkOpt(op, "rstd", rstd, rows); err != nil {
		return err
	}
	return checkWorkers(op, workers)
}

// lnStats returns a row's mean and 1/sqrt(var+eps), rounded to float32 as
// PyTorch stores them.
func lnStats(xr []float32, eps float64) (float32, float32) {
	if len(xr) == 0 {
		return 0, float32(1 / math.Sqrt(eps))
	}
	n := float64(len(xr))
	m := float32(sum64(xr) / n)
	v := sqDev64(xr, float64(m)) / n
	return m, float32(1 / math.Sqrt(v+eps))
}

func layerNormRange(cols int, eps float64, x, gamma, beta, y, mean, rstd []float32, r0, r1 int) {
	for r := r0; r < r1; r++ {
		xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
		m, rs := lnStats(xr, eps)
		if mean != nil {
			mean[r] = m
		}
		if rstd != nil {
			rstd[r] = rs
		}
		// PyTorch's CPU kernel: y = (x·rstd + (-rstd·mean))·gamma + beta.
		bias := -float32(rs * m)
		for j, v := range xr {
			t := float32(v*rs) + bias
			if gamma != nil {
				t = float32(t * gamma[j])
			}
			if beta != nil {
				t += beta[j]
			}
			yr[j] = t
		}
	}
}

// LayerNormBackward is the backward of LayerNorm, from the forward input x
// and its saved mean and rstd: with x̂ = (x-mean)·rstd and g = dy⊙gamma,
//
//	dx = rstd·(g - mean(g) - x̂·mean(g⊙x̂)),  dgamma = Σ_rows dy⊙x̂,  dbeta = Σ_rows dy.
//
// gamma may be nil (no affine); any of dx, dgamma, dbeta may be nil.
func LayerNormBackward(rows, cols int, x, gamma, mean, rstd, dy, dx, dgamma, dbeta []float32, workers int) error {
	const op = "LayerNormBackward"
	if err := rowsCheck(op, rows, cols, namesXDyDx[:2], x, dy); err != nil {
		return err
	}
	if err := checkOpt(op, "dx", dx, rows*cols); err != nil {
		return err
	}
	if err := lnParamCheck(op, rows, cols, 0, gamma, nil, mean, rstd, workers); err != nil {
		return err
	}
	if mean == nil || rstd == nil {
		return shapeErr(op, "mean and rstd from the forward are required")
	}
	if err := checkOpt(op, "dgamma", dgamma, cols); err != nil {
		return err
	}
	if err := checkOpt(op, "dbeta", dbeta, cols); err != nil {
		return err
	}
	if len(x) == 0 {
		clear(dgamma)
		clear(dbeta)
		return nil
	}
	if dx != nil {
		if w := plan(workers, rows, 4*cols); w > 1 {
			run(w, rows, func(lo, hi int) { lnBackRange(cols, x, gamma, mean, rstd, dy, dx, lo, hi) })
		} else {
			lnBackRange(cols, x, gamma, mean, rstd, dy, dx, 0, rows)
		}
	}
	if dgamma != nil || dbeta != nil {
		blocks := (cols + chunk - 1) / chunk
		if w := plan(workers, blocks, 2*rows*min(cols, chunk)); w > 1 {
			run(w, blocks, func(lo, hi int) { lnParamGradRange(rows, cols, x, mean, rstd, dy, dgamma, dbeta, lo, hi) })
		} else {
			lnParamGradRange(rows, cols, x, mean, rstd, dy, dgamma, dbeta, 0, blocks)
		}
	}
	return nil
}

func lnBackRange(cols int, x, gamma, mean, rstd, dy, dx []float32, r0, r1 int) {
	for r := r0; r < r1; r++ {
		xr, gr, dr := x[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
		m, rs := float64(mean[r]), float64(rstd[r])
		var sg, sgx float64
		for j, v := range xr {
			g := float64(gr[j])
			if gamma != nil {
				g *= float64(gamma[j])
			}
			sg += g
			sgx += g * (float64(v) - m) * rs
		}
		n := float64(cols)
		sg, sgx = sg/n, sgx/n
		for j, v := range xr {
			g := float64(gr[j])
			if gamma != nil {
				g *= float64(gamma[j])
			}
			dr[j] = float32(rs * (g - sg - (float64(v)-m)*rs*sgx))
		}
	}
}

func lnParamGradRange(rows, cols int, x, mean, rstd, dy, dgamma, dbeta []float32, b0, b1 int) {
	var ag, ab [chunk]float64
	for b := b0; b < b1; b++ {
		j0, j1 := b*chunk, min(b*chunk+chunk, cols)
		g, s := ag[:j1-j0], ab[:j1-j0]
		clear(g)
		clear(s)
		for r := range rows {
			m, rs := float64(mean[r]), float64(rstd[r])
			xr := x[r*cols+j0 : r*cols+j1]
			for j, d := range dy[r*cols+j0 : r*cols+j1] {
				g[j] += float64(d) * (float64(xr[j]) - m) * rs
				s[j] += float64(d)
			}
		}
		for j := range g {
			if dgamma != nil {
				dgamma[j0+j] = float32(g[j])
			}
			if dbeta != nil {
				dbeta[j0+j] = float32(s[j])
			}
		}
	}
}
