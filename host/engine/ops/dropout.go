package ops

import (
	"fmt"
	"math"
)

// Source is a stream of random 64-bit values. *rand.PCG and *rand.ChaCha8
// (math/rand/v2) implement it; the caller owns and seeds it.
type Source interface{ Uint64() uint64 }

// splitmix64 is SplitMix64's output function: a bijective mix that turns
// the counter key+i into a well-distributed 64-bit value.
func splitmix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func checkP(op string, p float64) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("ops.%s: drop probability %v, want 0..1", op, p)
	}
	return nil
}

// keepScale is the survivors' multiplier as PyTorch computes it: the float32
// reciprocal of the float32 keep probability.
func keepScale(p float64) float32 {
	if p >= 1 {
		return 0
	}
	return 1 / float32(1-p)
}

// Dropout is nn.Dropout in training mode (in eval mode it is the identity
// and needs no kernel): each element is zeroed with probability p and
// survivors are scaled by 1/(1-p). mask (one byte per element) records 1
// for kept elements, for DropoutBackward.
//
// Dropout draws exactly one value from src per call and derives element i's
// draw from it by counter hashing (SplitMix64), so the mask depends only on
// src's state, never on the worker count. y may be x.
func Dropout(src Source, p float64, x, y []float32, mask []uint8, workers int) error {
	const op = "Dropout"
	if err := checkP(op, p); err != nil {
		return err
	}
	if src == nil {
		return fmt.Errorf("ops.%s: nil Source", op)
	}
	w, err := elementwise(op, workers, 4, len(x), namesXY, x, y)
	if err != nil {
		return err
	}
	if len(mask) != len(x) {
		return shapeErr(op, "len(mask) = %d, want %d", len(mask), len(x))
	}
	key := src.Uint64()
	// Keep when the top 53 bits, as a fraction of 2^53, are below 1-p.
	thr := uint64(math.Ldexp(1-p, 53))
	scale := keepScale(p)
	if w > 1 {
		run(w, len(x), func(lo, hi int) { dropoutRange(key, thr, scale, x, y, mask, lo, hi) })
	} else {
		dropoutRange(key, thr, scale, x, y, mask, 0, len(x))
	}
	return nil
}

func dropoutRange(key, thr uint64, scale float32, x, y []float32, mask []uint8, lo, hi int) {
	for i := lo; i < hi; i++ {
		if splitmix64(key+uint64(i)*0x9e3779b97f4a7c15)>>11 < thr {
			mask[i] = 1
			y[i] = x[i] * scale
		} else {
			mask[i] = 0
			y[i] = 0
		}
	}
}

// DropoutBackward computes dx = dy·mask/(1-p) with the mask and p of the
// forward. dx may be dy.
func DropoutBackward(p float64, mask []uint8, dy, dx []float32, workers int) error {
	const op = "DropoutBackward"
	if err := checkP(op, p); err != nil {
		return err
	}
	w, err := elementwise(op, workers, 1, len(dy), namesDyDx, dy, dx)
	if err != nil {
		return err
	}
	if len(mask) != len(dy) {
		return shapeErr(op, "len(mask) = %d, want %d", len(mask), len(dy))
	}
	scale := keepScale(p)
	if w > 1 {
		run(w, len(dy), func(lo, hi int) { dropoutBackRange(scale, mask, dy, dx, lo, hi) })
	} else {
		dropoutBackRange(scale, mask, dy, dx, 0, len(dy))
	}
	return nil
}

func dropoutBackRange(scale float32, mask []uint8, dy, dx []float32, lo, hi int) {
	for i := lo; i < hi; i++ {
		if mask[i] != 0 {
			dx[i] = dy[i] * scale
		} else {
			dx[i] = 0
		}
	}
}

// DropPath is stochastic depth in training mode (timm's drop_path, the
// reference's MBConv drop-connect): each of the n samples of x (sampleLen
// elements each) is dropped whole with probability p, survivors are scaled
// by 1/(1-p). scale (length n) receives each sample's multiplier, 0 or
// 1/(1-p), for DropPathBackward. It draws n values from src, one per
// sample. y may be x.
func DropPath(src Source, p float64, n, sampleLen int, x, y, scale []float32, workers int) error {
	const op = "DropPath"
	if err := checkP(op, p); err != nil {
		return err
	}
	if src == nil {
		return fmt.Errorf("ops.%s: nil Source", op)
	}
	if err := samplesCheck(op, n, sampleLen, x, y, scale, "x", "y", workers); err != nil {
		return err
	}
	s := keepScale(p)
	for i := range scale {
		// A uniform [0,1) draw below the keep probability keeps the sample.
		if float64(src.Uint64()>>11)*0x1p-53 < 1-p {
			scale[i] = s
		} else {
			scale[i] = 0
		}
	}
	return scaleSamples(sampleLen, scale, x, y, workers)
}

// DropPathBackward computes dx = dy·scale[sample] with the forward's scale.
// dx may be dy.
func DropPathBackward(n, sampleLen int, scale, dy, dx []float32, workers int) error {
	const op = "DropPathBackward"
	if err := samplesCheck(op, n, sampleLen, dy, dx, scale, "dy", "dx", workers); err != nil {
		return err
	}
	return scaleSamples(sampleLen, scale, dy, dx, workers)
}

func samplesCheck(op string, n, sampleLen int, a, b, scale []float32, an, bn string, workers int) error {
	total, ok := product(n, sampleLen)
	if !ok {
		return shapeErr(op, "n %d, sampleLen %d are negative or too large", n, sampleLen)
	}
	if err := checkLen(op, an, a, total); err != nil {
		return err
	}
	if err := checkLen(op, bn, b, total); err != nil {
		return err
	}
	if err := checkLen(op, "scale", scale, n); err != nil {
		return err
	}
	return checkWorkers(op, workers)
}

func scaleSamples(sampleLen int, scale, x, y []float32, workers int) error {
	if w := plan(workers, len(scale), sampleLen); w > 1 {
		run(w, len(scale), func(lo, hi int) { scaleSamplesRange(sampleLen, scale, x, y, lo, hi) })
	} else {
		scaleSamplesRange(sampleLen, scale, x, y, 0, len(scale))
	}
	return nil
}

func scaleSamplesRange(sampleLen int, scale, x, y []float32, s0, s1 int) {
	for s := s0; s < s1; s++ {
		binScalar(true, x[s*sampleLen:(s+1)*sampleLen], scale[s], y[s*sampleLen:(s+1)*sampleLen])
	}
}
