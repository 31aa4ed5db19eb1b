package ops

// Activations, forward and backward. Each backward takes whichever of the
// forward input x or output y it needs, preferring y: a Conv→BN→act chain
// keeps the activation's output anyway (it is the next layer's input), so a
// y-based backward lets the tape free x. Sigmoid, ReLU, ReLU6 and LeakyReLU
// (alpha >= 0) use y; SiLU, Hardswish and Hardsigmoid need x, because y does
// not determine the gradient (SiLU and Hardswish are not invertible, and
// Hardsigmoid's y rounds to 1 just below x = 3, where PyTorch's gradient is
// still 1/6).
//
// SiLU and Sigmoid and their backwards run the AVX-512 kernels of
// kernel_amd64.s where the CPU has them. The forwards and SiLU's backward
// use a float32 exponential (1.01 ulps at most) and float32 arithmetic:
// SiLU is within 2.8 ulps of the exact value, Sigmoid 2.4 (maxima over
// every float32, which kernel_test.go measures), SiLU's gradient 5.2 where
// 1 + x·(1-s) does not cancel. Elsewhere they are evaluated in float64 and
// rounded once, within about half an ulp. PyTorch's float32 arithmetic is
// within a couple of ulps, so all agree to ~4e-7 relative. Non-finite inputs follow PyTorch:
// silu(-Inf) and SiLU's gradient at ±Inf are NaN (Inf·0 and Inf/Inf
// there).
//
// All forwards may run in place (y = x) and all backwards may write dx over
// dy.

import (
	"fmt"
	"math"
)

// elementwise checks the lengths of an element-wise kernel's slices and
// decides how many workers to use (cost: element operations per element).
func elementwise(op string, workers, cost int, n int, names []string, bufs ...[]float32) (int, error) {
	for i, b := range bufs {
		if len(b) != n {
			return 0, shapeErr(op, "len(%s) = %d, want %d (len(%s))", names[i], len(b), n, names[0])
		}
	}
	if err := checkWorkers(op, workers); err != nil {
		return 0, err
	}
	return plan(workers, n, cost), nil
}

var (
	namesXY     = []string{"x", "y"}
	namesXDyDx  = []string{"x", "dy", "dx"}
	namesYDyDx  = []string{"y", "dy", "dx"}
	namesDyDx   = []string{"dy", "dx"}
	namesDstSrc = []string{"dst", "src"}
)

// expCost is the cost in element operations of one element of an
// exp-based activation, for work planning.
const expCost = 8

// actExpCost is expCost for SiLU and Sigmoid, whose AVX-512 kernels take
// about an eighth of the float64 loops' time: splitting as much less work
// as before would spend more on waking a worker than it saves.
func actExpCost() int {
	if useAVX512 {
		return 1
	}
	return expCost
}

// SiLU computes y = x·sigmoid(x) = x/(1+e^-x) (nn.SiLU, YOLOv5's default).
func SiLU(x, y []float32, workers int) error {
	w, err := elementwise("SiLU", workers, actExpCost(), len(x), namesXY, x, y)
	if err != nil {
		return err
	}
	split2(w, x, y, siluRange)
	return nil
}

func siluRange(x, y []float32) {
	if useAVX512 {
		siluAVX512(x, y[:len(x)])
		return
	}
	var v, e [chunk]float64
	for len(x) > 0 {
		n := min(len(x), chunk)
		for i, xv := range x[:n] {
			v[i] = float64(xv)
			e[i] = -v[i]
		}
		expInPlace(e[:n])
		for i := range y[:n] {
			y[i] = float32(v[i] / (1 + e[i]))
			if math.IsInf(v[i], -1) { // e is clamped: -Inf/(1+Inf) in PyTorch
				y[i] = float32(math.NaN())
			}
		}
		x, y = x[n:], y[n:]
	}
}

// SiLUBackward computes dx = dy·s·(1 + x·(1-s)), s = sigmoid(x), from the
// forward input x.
func SiLUBackward(x, dy, dx []float32, workers int) error {
	w, err := elementwise("SiLUBackward", workers, actExpCost(), len(x), namesXDyDx, x, dy, dx)
	if err != nil {
		return err
	}
	split3(w, x, dy, dx, siluBackRange)
	return nil
}

func siluBackRange(x, dy, dx []float32) {
	if useAVX512 {
		siluBackAVX512(x, dy[:len(x)], dx[:len(x)])
		return
	}
	var v, e [chunk]float64
	for len(x) > 0 {
		n := min(len(x), chunk)
		for i, xv := range x[:n] {
			v[i] = float64(xv)
			e[i] = -v[i]
		}
		expInPlace(e[:n])
		g := dy[:n]
		for i := range dx[:n] {
			s := 1 / (1 + e[i])
			// 1-s = e·s without cancellation; e·s <= 1 first, so that x·e
			// cannot overflow where e is clamped (x < -708).
			dx[i] = float32(float64(g[i]) * s * (1 + v[i]*(e[i]*s)))
			if math.IsInf(v[i], 0) { // Inf·0 in PyTorch's formula
				dx[i] = float32(math.NaN())
			}
		}
		x, dy, dx = x[n:], dy[n:], dx[n:]
	}
}

// Sigmoid computes y = 1/(1+e^-x).
func Sigmoid(x, y []float32, workers int) error {
	w, err := elementwise("Sigmoid", workers, actExpCost(), len(x), namesXY, x, y)
	if err != nil {
		return err
	}
	split2(w, x, y, sigmoidRange)
	return nil
}

func sigmoidRange(x, y []float32) {
	if useAVX512 {
		sigmoidAVX512(x, y[:len(x)])
		return
	}
	var e [chunk]float64
	for len(x) > 0 {
		n := min(len(x), chunk)
		for i, xv := range x[:n] {
			e[i] = -float64(xv)
		}
		expInPlace(e[:n])
		for i := range y[:n] {
			y[i] = float32(1 / (1 + e[i]))
		}
		x, y = x[n:], y[n:]
	}
}

// SigmoidBackward computes dx = dy·y·(1-y) from the forward output y.
func SigmoidBackward(y, dy, dx []float32, workers int) error {
	w, err := elementwise("SigmoidBackward", workers, 2, len(y), namesYDyDx, y, dy, dx)
	if err != nil {
		return err
	}
	split3(w, y, dy, dx, sigmoidBackRange)
	return nil
}

func sigmoidBackRange(y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	if useAVX512 {
		sigmoidBackAVX512(y, dy, dx) // the same float64 operations, vectorised
		return
	}
	for i, v := range y {
		s := float64(v)
		dx[i] = float32(float64(dy[i]) * s * (1 - s))
	}
}

// ReLU computes y = max(x, 0) (NaN stays NaN, as in PyTorch).
func ReLU(x, y []float32, workers int) error {
	w, err := elementwise("ReLU", workers, 1, len(x), namesXY, x, y)
	if err != nil {
		return err
	}
	split2(w, x, y, reluRange)
	return nil
}

func reluRange(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		if v < 0 {
			v = 0
		}
		y[i] = v
	}
}

// ReLUBackward computes dx = dy where y > 0, else 0, from the forward
// output y (PyTorch's threshold_backward on the result).
func ReLUBackward(y, dy, dx []float32, workers int) error {
	w, err := elementwise("ReLUBackward", workers, 1, len(y), namesYDyDx, y, dy, dx)
	if err != nil {
		return err
	}
	split3(w, y, dy, dx, reluBackRange)
	return nil
}

func reluBackRange(y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		g := dy[i]
		if !(v > 0) {
			g = 0
		}
		dx[i] = g
	}
}

// ReLU6 computes y = min(max(x, 0), 6) (nn.ReLU6, i.e. hardtanh(0, 6)).
func ReLU6(x, y []float32, workers int) error {
	w, err := elementwise("ReLU6", workers, 1, len(x), namesXY, x, y)
	if err != nil {
		return err
	}
	split2(w, x, y, relu6Range)
	return nil
}

func relu6Range(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		if v < 0 {
			v = 0
		}
		if v > 6 {
			v = 6
		}
		y[i] = v
	}
}

// ReLU6Backward computes dx = dy where 0 < y < 6, else 0, from the forward
// output y. This equals PyTorch's hardtanh_backward on x (0 < x < 6), since
// y = x exactly on that interval.
func ReLU6Backward(y, dy, dx []float32, workers int) error {
	w, err := elementwise("ReLU6Backward", workers, 1, len(y), namesYDyDx, y, dy, dx)
	if err != nil {
		return err
	}
	split3(w, y, dy, dx, relu6BackRange)
	return nil
}

func relu6BackRange(y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		g := dy[i]
		if !(v > 0 && v < 6) {
			g = 0
		}
		dx[i] = g
	}
}

// LeakyReLU computes y = x for x > 0, alpha·x otherwise.
func LeakyReLU(alpha float32, x, y []float32, workers int) error {
	w, err := elementwise("LeakyReLU", workers, 1, len(x), namesXY, x, y)
	if err != nil {
		return err
	}
	if w > 1 {
		run(w, len(x), func(lo, hi int) { leakyRange(alpha, x[lo:hi], y[lo:hi]) })
	} else {
		leakyRange(alpha, x, y)
	}
	return nil
}

func leakyRange(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		if !(v > 0) {
			v *= alpha
		}
		y[i] = v
	}
}

// LeakyReLUBackward computes dx = dy where y > 0, alpha·dy otherwise, from
// the forward output y. For alpha >= 0, y > 0 exactly when x > 0; a negative
// alpha is rejected (PyTorch refuses it for the in-place, result-based
// backward too).
func LeakyReLUBackward(alpha float32, y, dy, dx []float32, workers int) error {
	const op = "LeakyReLUBackward"
	if !(alpha >= 0) {
		return fmt.Errorf("ops.%s: alpha = %v, the output-based backward needs alpha >= 0", op, alpha)
	}
	w, err := elementwise(op, workers, 1, len(y), namesYDyDx, y, dy, dx)
	if err != nil {
		return err
	}
	if w > 1 {
		run(w, len(y), func(lo, hi int) { leakyBackRange(alpha, y[lo:hi], dy[lo:hi], dx[lo:hi]) })
	} else {
		leakyBackRange(alpha, y, dy, dx)
	}
	return nil
}

func leakyBackRange(alpha float32, y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		g := dy[i]
		if !(v > 0) {
			g *= alpha
		}
		dx[i] = g
	}
}

// relu6f is min(max(v, 0), 6) with NaN propagating (std::min/max order).
func relu6f(v float32) float32 {
	if v < 0 {
		v = 0
	}
	if v > 6 {
		v = 6
	}
	return v
}

// Hardswish computes y = x·relu6(x+3)/6 (nn.Hardswish), in PyTorch's order
// of float32 operations.
func Hardswish(x, y []float32, workers int) error {
	w, err := elementwise("Hardswish", workers, 2, len(x), namesXY, x, y)
	if err != nil {
		return err
	}
	split2(w, x, y, hardswishRange)
	return nil
}

func hardswishRange(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = float32(v*relu6f(v+3)) / 6
	}
}

// HardswishBackward computes, from the forward input x, PyTorch 1.13's
// gradient: 0 for x < -3, dy·(x/3 + 1/2) for -3 <= x <= 3, dy for x > 3.
func HardswishBackward(x, dy, dx []float32, workers int) error {
	w, err := elementwise("HardswishBackward", workers, 2, len(x), namesXDyDx, x, dy, dx)
	if err != nil {
		return err
	}
	split3(w, x, dy, dx, hardswishBackRange)
	return nil
}

func hardswishBackRange(x, dy, dx []float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		g := dy[i]
		switch {
		case v < -3:
			g = 0
		case v <= 3:
			g *= v/3 + 0.5
		}
		dx[i] = g
	}
}

// Hardsigmoid computes y = relu6(x+3)/6 (nn.Hardsigmoid).
func Hardsigmoid(x, y []float32, workers int) error {
	w, err := elementwise("Hardsigmoid", workers, 1, len(x), namesXY, x, y)
	if err != nil {
		return err
	}
	split2(w, x, y, hardsigmoidRange)
	return nil
}

func hardsigmoidRange(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = relu6f(v+3) / 6
	}
}

// HardsigmoidBackward computes dx = dy/6 where -3 < x < 3, else 0, from the
// forward input x.
func HardsigmoidBackward(x, dy, dx []float32, workers int) error {
	w, err := elementwise("HardsigmoidBackward", workers, 1, len(x), namesXDyDx, x, dy, dx)
	if err != nil {
		return err
	}
	split3(w, x, dy, dx, hardsigmoidBackRange)
	return nil
}

func hardsigmoidBackRange(x, dy, dx []float32) {
	const sixth = float32(1.0 / 6)
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		var g float32
		if v > -3 && v < 3 {
			g = dy[i] * sixth
		}
		dx[i] = g
	}
}
