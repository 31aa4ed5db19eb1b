package conv_test

import (
	"math"

	"github.com/yoloforge/yoloforge/host/engine/conv"
)

// full returns g with zero strides, dilations and groups made explicit, so
// the reference code below does not depend on the package's defaults.
func full(g conv.Geometry) conv.Geometry {
	for _, p := range []*int{&g.StrideH, &g.StrideW, &g.DilH, &g.DilW, &g.Groups} {
		if *p == 0 {
			*p = 1
		}
	}
	return g
}

// forEachTap calls f for every (n, k, oh, ow, ci, kh, kw) whose input
// position (c, ih, iw) lies inside the image, i.e. every term of the direct
// convolution sum, with flat indices into x, w and y.
func forEachTap(g conv.Geometry, f func(xi, wi, yi int)) {
	g = full(g)
	oh, ow := g.OutH(), g.OutW()
	cg, kg := g.C/g.Groups, g.K/g.Groups
	for n := range g.N {
		for k := range g.K {
			grp := k / kg
			for y := range oh {
				for x := range ow {
					yi := ((n*g.K+k)*oh+y)*ow + x
					for ci := range cg {
						c := grp*cg + ci
						for kh := range g.KH {
							ih := y*g.StrideH - g.PadT + kh*g.DilH
							if ih < 0 || ih >= g.H {
								continue
							}
							for kw := range g.KW {
								iw := x*g.StrideW - g.PadL + kw*g.DilW
								if iw < 0 || iw >= g.W {
									continue
								}
								xi := ((n*g.C+c)*g.H+ih)*g.W + iw
								wi := ((k*cg+ci)*g.KH+kh)*g.KW + kw
								f(xi, wi, yi)
							}
						}
					}
				}
			}
		}
	}
}

// refResult holds float64 values and float32 rounding-error bounds.
type refResult struct {
	val, tol []float64
}

func newRef(n int) refResult {
	return refResult{val: make([]float64, n), tol: make([]float64, n)}
}

// bound turns accumulated absolute sums and term counts into tolerances:
// any float32 summation order is within (count+4)*eps*sum|terms|.
func (r refResult) bound(abs []float64, count []int) {
	for i := range r.tol {
		r.tol[i] = float64(count[i]+4)*1.2e-7*abs[i] + 1e-6
	}
}

// refForward is the direct convolution in float64.
func refForward(g conv.Geometry, x, w, bias []float32) refResult {
	r := newRef(g.OutputSize())
	abs := make([]float64, len(r.val))
	count := make([]int, len(r.val))
	forEachTap(g, func(xi, wi, yi int) {
		p := float64(x[xi]) * float64(w[wi])
		r.val[yi] += p
		abs[yi] += math.Abs(p)
		count[yi]++
	})
	if bias != nil {
		per := g.OutH() * g.OutW()
		for i := range r.val {
			b := float64(bias[(i/per)%g.K])
			r.val[i] += b
			abs[i] += math.Abs(b)
		}
	}
	r.bound(abs, count)
	return r
}

// refBackward is the direct convolution's adjoint in float64.
func refBackward(g conv.Geometry, x, w, dy []float32) (dx, dw, db refResult) {
	dx, dw, db = newRef(g.InputSize()), newRef(g.WeightSize()), newRef(g.K)
	dxAbs, dwAbs := make([]float64, len(dx.val)), make([]float64, len(dw.val))
	dxN, dwN := make([]int, len(dx.val)), make([]int, len(dw.val))
	forEachTap(g, func(xi, wi, yi int) {
		d := float64(dy[yi])
		dx.val[xi] += d * float64(w[wi])
		dxAbs[xi] += math.Abs(d * float64(w[wi]))
		dxN[xi]++
		dw.val[wi] += d * float64(x[xi])
		dwAbs[wi] += math.Abs(d * float64(x[xi]))
		dwN[wi]++
	})
	dbAbs, dbN := make([]float64, g.K), make([]int, g.K)
	per := g.OutH() * g.OutW()
	for i, v := range dy {
		k := (i / per) % g.K
		db.val[k] += float64(v)
		dbAbs[k] += math.Abs(float64(v))
		dbN[k]++
	}
	dx.bound(dxAbs, dxN)
	dw.bound(dwAbs, dwN)
	db.bound(dbAbs, dbN)
	return dx, dw, db
}
