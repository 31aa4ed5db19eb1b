package data

import (
	"math/rand/v2"
	"testing"
)

func benchImage(w, h int) *Image {
	m := NewImage(w, h)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.IntN(256))
	}
	return m
}

func BenchmarkWarp640(b *testing.B) {
	src := benchImage(1280, 1280)
	dst := NewImage(640, 640)
	M := mat3{{0.8, 0.05, -300}, {-0.05, 0.8, -280}, {0, 0, 1}}
	inv := M.inverse()
	for b.Loop() {
		warp(dst, src, inv, false)
	}
}

func BenchmarkHSV640(b *testing.B) {
	m := benchImage(640, 640)
	t := newHSVTables()
	for b.Loop() {
		applyHSV(m, 1.01, 1.3, 0.8, t)
	}
}

func BenchmarkCHW640(b *testing.B) {
	m := benchImage(640, 640)
	l := &Loader{}
	out := make([]float32, 3*640*640)
	for b.Loop() {
		l.writeCHW(out, m, true, false)
	}
}
