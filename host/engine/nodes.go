package engine

import (
	"fmt"
	"math"

	"github.com/yoloforge/yoloforge/host/engine/conv"
	"github.com/yoloforge/yoloforge/host/engine/ops"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// sink is where a backward kernel writes one input's gradient: straight
// into the value's gradient, or into scratch that is then added to it
// when the value sums contributions from several consumers.
type sink struct {
	v       *value
	buf     []float32
	workers int
}

func (p *Plan) sink(v *value, slot int) sink {
	if v == nil || !v.needGrad {
		return sink{}
	}
	if v.accumulate {
		return sink{v: v, buf: p.scratch[slot][:len(v.grad)], workers: p.e.workers}
	}
	return sink{v: v, buf: v.grad, workers: p.e.workers}
}

func (s sink) commit() error {
	if s.v != nil && s.v.accumulate {
		return ops.Accumulate(s.v.grad, s.buf, s.workers)
	}
	return nil
}

func commitAll(ss ...sink) error {
	for _, s := range ss {
		if err := s.commit(); err != nil {
			return err
		}
	}
	return nil
}

// in returns the node's i-th input value, or nil for an omitted optional one.
func (p *Plan) in(n *ir.Node, i int) *value {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return nil
	}
	return p.vals[n.Inputs[i]]
}

func (p *Plan) out(n *ir.Node, i int) *value { return p.vals[n.Outputs[i]] }

// identity binds a node whose output is a copy of its input: Reshape,
// Flatten, Identity, ReshapeLike, eval-mode Dropout/DropPath.
func (p *Plan) identity(n *ir.Node, st step, backward bool) step {
	x, y := p.in(n, 0), p.out(n, 0)
	st.fwd = func() error { copy(y.data, x.data); return nil }
	if backward {
		dx := p.sink(x, 0)
		st.bwd = func() error { copy(dx.buf, y.grad); return dx.commit() }
	}
	return st
}

func gradOf(v *value) []float32 {
	if v == nil || !v.needGrad {
		return nil
	}
	return v.grad
}

func dataOf(v *value) []float32 {
	if v == nil {
		return nil
	}
	return v.data
}

// compileNode binds one node to its kernels.
func (p *Plan) compileNode(n *ir.Node) (step, error) {
	st := step{node: n}
	w := p.e.workers
	y := p.out(n, 0)
	x := p.in(n, 0)
	if x == nil && n.Op != "Concat" {
		return st, fmt.Errorf("missing input")
	}
	backward := p.train && y.needGrad
	if p.fusedAway[n.Name] {
		// Computed by the step before it: a BatchNorm+SiLU kernel in
		// training (whose backward covers both), a convolution in eval.
		st.fwd = func() error { return nil }
		return st, nil
	}

	switch n.Op {
	case "Conv":
		wt, b := p.in(n, 1), p.in(n, 2)
		xs, ws := x.shape, wt.shape
		k := n.Attrs.Ints("kernel_shape", []int{ws[2], ws[3]})
		s := n.Attrs.Ints("strides", []int{1, 1})
		pad := n.Attrs.Ints("pads", []int{0, 0, 0, 0})
		d := n.Attrs.Ints("dilations", []int{1, 1})
		g := conv.Geometry{N: xs[0], C: xs[1], H: xs[2], W: xs[3], K: ws[0], KH: k[0], KW: k[1],
			StrideH: s[0], StrideW: s[1], PadT: pad[0], PadL: pad[1], PadB: pad[2], PadR: pad[3],
			DilH: d[0], DilW: d[1], Groups: n.Attrs.Int("group", 1)}
		if err := g.Validate(); err != nil {
			return st, err
		}
		p.ws.Reserve(g)
		var ex conv.Extras
		if p.convSiLU[n.Name] {
			ex.Act = ops.BiasSiLURow
		}
		w, bias := wt.data, dataOf(b)
		if p.frozen && p.constantInputs(n, 1) {
			var fold func()
			if bn := p.convBN[n.Name]; bn != nil {
				w, bias = make([]float32, len(wt.data)), make([]float32, g.K)
				gamma, beta, mean, variance := p.in(bn, 1), p.in(bn, 2), p.in(bn, 3), p.in(bn, 4)
				eps := bn.Attrs.Float("epsilon", 1e-5)
				fold = func() {
					foldConvBN(w, bias, wt.data, dataOf(b), gamma.data, beta.data, mean.data, variance.data, eps)
				}
			}
			pack := func() (err error) {
				if fold != nil {
					fold()
				}
				ex.Weights, err = conv.Pack(p.e.be, g, w, p.ws)
				return err
			}
			if err := pack(); err != nil {
				return st, err
			}
			p.repack = append(p.repack, pack)
		}
		st.fwd = func() error { return conv.ForwardWith(p.e.be, g, x.data, w, bias, y.data, p.ws, ex) }
		if backward {
			dx := p.sink(x, 0)
			dw, db := gradOf(wt), gradOf(b)
			st.bwd = func() error {
				if err := conv.Backward(p.e.be, g, x.data, wt.data, y.grad, dx.buf, dw, db, p.ws); err != nil {
					return err
				}
				return dx.commit()
			}
		}

	case "BatchNormalization":
		gamma, beta, mean, variance := p.in(n, 1), p.in(n, 2), p.in(n, 3), p.in(n, 4)
		s := x.nchw()
		// ONNX momentum weighs the old running value; PyTorch's the new one.
		prm := ops.BatchNormParams{Gamma: gamma.data, Beta: beta.data, RunningMean: mean.data, RunningVar: variance.data,
			Eps: n.Attrs.Float("epsilon", 1e-5), Momentum: 1 - n.Attrs.Float("momentum", 0.9)}
		dx := p.sink(x, 0)
		dg, dbeta := gradOf(gamma), gradOf(beta)
		if z := p.bnSiLU[n.Name]; z != nil {
			saveMean, saveInv := make([]float32, s.C), make([]float32, s.C)
			st.fwd = func() error { return ops.BatchNormSiLUTrain(s, prm, x.data, z.data, saveMean, saveInv, w) }
			if backward {
				st.bwd = func() error {
					if err := ops.BatchNormSiLUTrainBackward(s, prm, x.data, saveMean, saveInv, z.grad, y.grad, dx.buf, dg, dbeta, w); err != nil {
						return err
					}
					return dx.commit()
				}
			}
		} else if p.train {
			saveMean, saveInv := make([]float32, s.C), make([]float32, s.C)
			st.fwd = func() error { return ops.BatchNormTrain(s, prm, x.data, y.data, saveMean, saveInv, w) }
			if backward {
				st.bwd = func() error {
					if err := ops.BatchNormTrainBackward(s, prm, x.data, saveMean, saveInv, y.grad, dx.buf, dg, dbeta, w); err != nil {
						return err
					}
					return dx.commit()
				}
			}
		} else {
			st.fwd = func() error { return ops.BatchNormEval(s, prm, x.data, y.data, w) }
		}

	case "SiLU", "Sigmoid", "Relu", "HardSwish", "HardSigmoid", "LeakyRelu", "Clip":
		fwd, bwd, err := activation(n)
		if err != nil {
			return st, err
		}
		st.fwd = func() error { return fwd(x.data, y.data, w) }
		if backward {
			dx := p.sink(x, 0)
			st.bwd = func() error {
				if err := bwd(x.data, y.data, y.grad, dx.buf, w); err != nil {
					return err
				}
				return dx.commit()
			}
		}

	case "Add", "Mul":
		a, b := x, p.in(n, 1)
		ia, ib := 0, 1
		if numel(a.shape) < numel(b.shape) { // the kernels broadcast their second operand
			a, b, ia, ib = b, a, 1, 0
		}
		as, bs, err := binaryShapes(a.shape, b.shape)
		if err != nil {
			return st, err
		}
		if n.Op == "Add" {
			st.fwd = func() error { return ops.Add(as, bs, a.data, b.data, y.data, w) }
		} else {
			st.fwd = func() error { return ops.Mul(as, bs, a.data, b.data, y.data, w) }
		}
		if backward {
			da, db := p.sink(a, ia), p.sink(b, ib)
			st.bwd = func() error {
				var err error
				if n.Op == "Add" {
					err = ops.AddBackward(as, bs, y.grad, da.buf, db.buf, w)
				} else {
					err = ops.MulBackward(as, bs, a.data, b.data, y.grad, da.buf, db.buf, w)
				}
				if err != nil {
					return err
				}
				return commitAll(da, db)
			}
		}

	case "Concat":
		axis := n.Attrs.Int("axis", 1)
		if axis < 0 {
			axis += len(y.shape)
		}
		outer, inner := numel(y.shape[:axis]), numel(y.shape[axis+1:])
		xs := make([][]float32, len(n.Inputs))
		sizes := make([]int, len(n.Inputs))
		for i := range n.Inputs {
			xs[i], sizes[i] = p.in(n, i).data, p.in(n, i).shape[axis]
		}
		st.fwd = func() error { return ops.Concat(outer, inner, sizes, xs, y.data, w) }
		if backward {
			sinks := make([]sink, len(n.Inputs))
			dxs := make([][]float32, len(n.Inputs))
			for i := range n.Inputs {
				sinks[i] = p.sink(p.in(n, i), i)
				dxs[i] = sinks[i].buf
			}
			st.bwd = func() error {
				if err := ops.ConcatBackward(outer, inner, sizes, y.grad, dxs, w); err != nil {
					return err
				}
				return commitAll(sinks...)
			}
		}

	case "Split":
		axis := n.Attrs.Int("axis", 0)
		if axis < 0 {
			axis += len(x.shape)
		}
		outer, inner := numel(x.shape[:axis]), numel(x.shape[axis+1:])
		ys := make([][]float32, len(n.Outputs))
		sizes := make([]int, len(n.Outputs))
		for i := range n.Outputs {
			ys[i], sizes[i] = p.out(n, i).data, p.out(n, i).shape[axis]
		}
		st.fwd = func() error { return ops.Split(outer, inner, sizes, x.data, ys, w) }
		if backward {
			dx := p.sink(x, 0)
			dys := make([][]float32, len(n.Outputs))
			for i := range n.Outputs {
				dys[i] = p.out(n, i).grad
			}
			st.bwd = func() error {
				if err := ops.SplitBackward(outer, inner, sizes, dys, dx.buf, w); err != nil {
					return err
				}
				return dx.commit()
			}
		}

	case "Resize":
		sc := n.Attrs.Floats("scales", nil)
		if n.Attrs.String("mode", "nearest") != "nearest" || len(sc) != 4 || sc[0] != 1 || sc[1] != 1 || sc[2] != sc[3] || sc[2] != math.Trunc(sc[2]) || sc[2] < 1 {
			return st, fmt.Errorf("only nearest upsampling by an integer factor is supported (scales %v)", sc)
		}
		f := int(sc[2])
		s := x.nchw()
		st.fwd = func() error { return ops.UpsampleNearest(s, f, x.data, y.data, w) }
		if backward {
			dx := p.sink(x, 0)
			st.bwd = func() error {
				if err := ops.UpsampleNearestBackward(s, f, y.grad, dx.buf, w); err != nil {
					return err
				}
				return dx.commit()
			}
		}

	case "MaxPool", "AveragePool":
		pool, err := pool2d(n)
		if err != nil {
			return st, err
		}
		s := x.nchw()
		if n.Op == "AveragePool" {
			st.fwd = func() error { return ops.AvgPool2d(pool, s, x.data, y.data, w) }
			if backward {
				dx := p.sink(x, 0)
				st.bwd = func() error {
					if err := ops.AvgPool2dBackward(pool, s, y.grad, dx.buf, w); err != nil {
						return err
					}
					return dx.commit()
				}
			}
			break
		}
		var idx []int32
		if backward {
			idx = make([]int32, len(y.data))
		}
		st.fwd = func() error { return ops.MaxPool2d(pool, s, x.data, y.data, idx, w) }
		if backward {
			dx := p.sink(x, 0)
			st.bwd = func() error {
				if err := ops.MaxPool2dBackward(pool, s, idx, y.grad, dx.buf, w); err != nil {
					return err
				}
				return dx.commit()
			}
		}

	case "GlobalAveragePool":
		s := x.nchw()
		st.fwd = func() error { return ops.GlobalAvgPool(s, x.data, y.data, w) }
		if backward {
			dx := p.sink(x, 0)
			st.bwd = func() error {
				if err := ops.GlobalAvgPoolBackward(s, y.grad, dx.buf, w); err != nil {
					return err
				}
				return dx.commit()
			}
		}

	case "GlobalMaxPool":
		s := x.nchw()
		idx := make([]int32, len(y.data))
		st.fwd = func() error { return ops.GlobalMaxPool(s, x.data, y.data, idx, w) }
		if backward {
			dx := p.sink(x, 0)
			st.bwd = func() error {
				if err := ops.GlobalMaxPoolBackward(s, idx, y.grad, dx.buf, w); err != nil {
					return err
				}
				return dx.commit()
			}
		}

	case "Reshape", "Flatten", "Identity":
		st = p.identity(n, st, backward)

	case "Transpose":
		perm := n.Attrs.Ints("perm", nil)
		shape := x.shape
		st.fwd = func() error { return ops.Transpose(shape, perm, x.data, y.data, w) }
		if backward {
			dx := p.sink(x, 0)
			st.bwd = func() error {
				if err := ops.TransposeBackward(shape, perm, y.grad, dx.buf, w); err != nil {
					return err
				}
				return dx.commit()
			}
		}

	case "Slice":
		r, err := sliceRanges(n, x.shape)
		if err != nil {
			return st, err
		}
		s := x.nchw()
		st.fwd = func() error { return ops.Slice(s, r, x.data, y.data, w) }
		if backward {
			dx := p.sink(x, 0)
			st.bwd = func() error {
				if err := ops.SliceBackward(s, r, y.grad, dx.buf, false, w); err != nil {
					return err
				}
				return dx.commit()
			}
		}

	case "Gemm":
		wt, b := p.in(n, 1), p.in(n, 2)
		in, out := wt.shape[1], wt.shape[0]
		rows := numel(x.shape) / in
		gemm := p.e.be.Sgemm
		st.fwd = func() error { return ops.Linear(gemm, rows, in, out, x.data, wt.data, dataOf(b), y.data, w) }
		if backward {
			dx := p.sink(x, 0)
			dw, db := gradOf(wt), gradOf(b)
			st.bwd = func() error {
				if err := ops.LinearBackward(gemm, rows, in, out, x.data, wt.data, y.grad, dx.buf, dw, db, w); err != nil {
					return err
				}
				return dx.commit()
			}
		}

	case "Softmax":
		if a := n.Attrs.Int("axis", -1); a != -1 && a != len(x.shape)-1 {
			return st, fmt.Errorf("Softmax over axis %d: only the last axis is supported", a)
		}
		cols := x.shape[len(x.shape)-1]
		rows := numel(x.shape) / cols
		st.fwd = func() error { return ops.Softmax(rows, cols, x.data, y.data, w) }
		if backward {
			dx := p.sink(x, 0)
			st.bwd = func() error {
				if err := ops.SoftmaxBackward(rows, cols, y.data, y.grad, dx.buf, w); err != nil {
					return err
				}
				return dx.commit()
			}
		}

	case "LayerNormalization":
		gamma, beta := p.in(n, 1), p.in(n, 2)
		if a := n.Attrs.Int("axis", -1); a != -1 && a != len(x.shape)-1 {
			return st, fmt.Errorf("LayerNormalization over axis %d: only the last axis is supported", a)
		}
		cols := x.shape[len(x.shape)-1]
		rows := numel(x.shape) / cols
		eps := n.Attrs.Float("epsilon", 1e-5)
		mean, rstd := make([]float32, rows), make([]float32, rows)
		st.fwd = func() error {
			return ops.LayerNorm(rows, cols, eps, x.data, gamma.data, dataOf(beta), y.data, mean, rstd, w)
		}
		if backward {
			dx := p.sink(x, 0)
			dg, db := gradOf(gamma), gradOf(beta)
			st.bwd = func() error {
				if err := ops.LayerNormBackward(rows, cols, x.data, gamma.data, mean, rstd, y.grad, dx.buf, dg, db, w); err != nil {
					return err
				}
				return dx.commit()
			}
		}

	case "ReduceMean", "ReduceMax":
		// CBAM's spatial attention: the mean and max over channels.
		axes := n.Attrs.Ints("axes", nil)
		if len(x.shape) != 4 || len(axes) != 1 || (axes[0] != 1 && axes[0] != -3) || n.Attrs.Int("keepdims", 1) != 1 {
			return st, fmt.Errorf("%s over axes %v of %v: only channels (axis 1, keepdims) of a 4-D tensor are supported", n.Op, axes, x.shape)
		}
		s := x.nchw()
		if n.Op == "ReduceMean" {
			st.fwd = func() error { return ops.ChannelMean(s, x.data, y.data, w) }
			if backward {
				dx := p.sink(x, 0)
				st.bwd = func() error {
					if err := ops.ChannelMeanBackward(s, y.grad, dx.buf, w); err != nil {
						return err
					}
					return dx.commit()
				}
			}
			break
		}
		idx := make([]int32, len(y.data))
		st.fwd = func() error { return ops.ChannelMax(s, x.data, y.data, idx, w) }
		if backward {
			dx := p.sink(x, 0)
			st.bwd = func() error {
				if err := ops.ChannelMaxBackward(s, idx, y.grad, dx.buf, w); err != nil {
					return err
				}
				return dx.commit()
			}
		}

	case "MatMul":
		b := p.in(n, 1)
		d, err := matmulDims(x.shape, b.shape)
		if err != nil {
			return st, err
		}
		gemm := p.e.be.Sgemm
		st.fwd = func() error { return ops.MatMul(gemm, d, x.data, b.data, y.data, w) }
		if backward {
			da, db := p.sink(x, 0), p.sink(b, 1)
			st.bwd = func() error {
				if err := ops.MatMulBackward(gemm, d, x.data, b.data, y.grad, da.buf, db.buf, w); err != nil {
					return err
				}
				return commitAll(da, db)
			}
		}

	case "DetectDecode":
		anchors := n.Attrs.Floats("anchors", nil)
		strides := n.Attrs.Floats("strides", nil)
		if len(strides) != len(n.Inputs) {
			return st, fmt.Errorf("%d strides for %d levels", len(strides), len(n.Inputs))
		}
		na, no := x.shape[1], x.shape[4]
		if len(anchors) != 2*na*len(n.Inputs) {
			return st, fmt.Errorf("%d anchor numbers for %d levels of %d anchors", len(anchors), len(n.Inputs), na)
		}
		levels := make([]ops.DetectLevel, len(n.Inputs))
		for i := range n.Inputs {
			v := p.in(n, i)
			a := make([]float32, 2*na)
			for j := range a {
				a[j] = float32(anchors[2*na*i+j])
			}
			levels[i] = ops.DetectLevel{Raw: v.data, NY: v.shape[2], NX: v.shape[3], Stride: float32(strides[i]), Anchors: a}
		}
		batch := x.shape[0]
		st.fwd = func() error { return ops.DetectDecode(batch, na, no, levels, y.data, w) }

	default:
		compile, ok := moreKernels[n.Op]
		if !ok {
			return st, fmt.Errorf("the engine has no kernel for %s yet", n.Op)
		}
		return compile(p, n, st, backward)
	}
	return st, nil
}

// nodeCompiler binds one node of an op kept outside compileNode's switch;
// st already names the node, backward says whether it needs a gradient.
type nodeCompiler func(p *Plan, n *ir.Node, st step, backward bool) (step, error)

// moreKernels holds the op families added with the light backbones and the
// accuracy modules, each in its own file.
var moreKernels = mergeKernels(lightKernels, accKernels)

func mergeKernels(sets ...map[string]nodeCompiler) map[string]nodeCompiler {
	all := map[string]nodeCompiler{}
	for _, set := range sets {
		for op, c := range set {
			all[op] = c
		}
	}
	return all
}

// matmulDims maps ONNX MatMul operands (..., M, K) × (..., K, N) to the
// kernel's batched form; a rank-2 operand is shared by every batch.
func matmulDims(a, b []int) (ops.MatMulDims, error) {
	if len(a) < 2 || len(b) < 2 {
		return ops.MatMulDims{}, fmt.Errorf("MatMul needs operands of rank >= 2, got %v and %v", a, b)
	}
	d := ops.MatMulDims{M: a[len(a)-2], K: a[len(a)-1], N: b[len(b)-1]}
	ba, bb := numel(a[:len(a)-2]), numel(b[:len(b)-2])
	switch {
	case ba == bb:
		d.Batch = ba
	case len(b) == 2:
		d.Batch, d.BroadcastB = ba, true
	case len(a) == 2:
		d.Batch, d.BroadcastA = bb, true
	default:
		return ops.MatMulDims{}, fmt.Errorf("MatMul batch shapes %v and %v: only equal batches or a rank-2 operand are supported", a, b)
	}
	return d, nil
}

type unaryFwd func(x, y []float32, w int) error
type unaryBwd func(x, y, dy, dx []float32, w int) error

// activation picks an element-wise kernel pair; each backward reads
// whichever of x and y its formula needs.
func activation(n *ir.Node) (unaryFwd, unaryBwd, error) {
	switch n.Op {
	case "SiLU":
		return ops.SiLU, func(x, _, dy, dx []float32, w int) error { return ops.SiLUBackward(x, dy, dx, w) }, nil
	case "Sigmoid":
		return ops.Sigmoid, func(_, y, dy, dx []float32, w int) error { return ops.SigmoidBackward(y, dy, dx, w) }, nil
	case "Relu":
		return ops.ReLU, func(_, y, dy, dx []float32, w int) error { return ops.ReLUBackward(y, dy, dx, w) }, nil
	case "HardSwish":
		return ops.Hardswish, func(x, _, dy, dx []float32, w int) error { return ops.HardswishBackward(x, dy, dx, w) }, nil
	case "HardSigmoid":
		// PyTorch's hardsigmoid is ONNX HardSigmoid with alpha 1/6, beta 1/2.
		if a, b := n.Attrs.Float("alpha", 0.2), n.Attrs.Float("beta", 0.5); math.Abs(a-1.0/6) > 1e-6 || b != 0.5 {
			return nil, nil, fmt.Errorf("HardSigmoid with alpha %v, beta %v: only PyTorch's (1/6, 1/2) is supported", a, b)
		}
		return ops.Hardsigmoid, func(x, _, dy, dx []float32, w int) error { return ops.HardsigmoidBackward(x, dy, dx, w) }, nil
	case "LeakyRelu":
		alpha := float32(n.Attrs.Float("alpha", 0.01))
		return func(x, y []float32, w int) error { return ops.LeakyReLU(alpha, x, y, w) },
			func(_, y, dy, dx []float32, w int) error { return ops.LeakyReLUBackward(alpha, y, dy, dx, w) }, nil
	case "Clip":
		if lo, hi := n.Attrs.Float("min", math.Inf(-1)), n.Attrs.Float("max", math.Inf(1)); lo != 0 || hi != 6 {
			return nil, nil, fmt.Errorf("Clip to [%v, %v]: only ReLU6 (0, 6) is supported", lo, hi)
		}
		return ops.ReLU6, func(_, y, dy, dx []float32, w int) error { return ops.ReLU6Backward(y, dy, dx, w) }, nil
	}
	return nil, nil, fmt.Errorf("no activation kernel for %s", n.Op)
}

func pool2d(n *ir.Node) (ops.Pool2d, error) {
	k := n.Attrs.Ints("kernel_shape", nil)
	s := n.Attrs.Ints("strides", []int{1, 1})
	pad := n.Attrs.Ints("pads", []int{0, 0, 0, 0})
	d := n.Attrs.Ints("dilations", []int{1, 1})
	if len(k) != 2 || len(s) != 2 || len(pad) != 4 {
		return ops.Pool2d{}, fmt.Errorf("pooling needs 2-D kernel_shape, strides and 4 pads")
	}
	if pad[0] != pad[2] || pad[1] != pad[3] {
		return ops.Pool2d{}, fmt.Errorf("asymmetric pooling pads %v are not supported", pad)
	}
	if n.Attrs.Int("ceil_mode", 0) != 0 || d[0] != 1 || d[1] != 1 {
		return ops.Pool2d{}, fmt.Errorf("ceil_mode and dilated pooling are not supported")
	}
	return ops.Pool2d{KH: k[0], KW: k[1], SH: s[0], SW: s[1], PH: pad[0], PW: pad[1]}, nil
}

// sliceRanges turns ONNX Slice attributes into per-dimension ranges of a
// rank-4 tensor.
func sliceRanges(n *ir.Node, shape []int) ([4]ops.Range, error) {
	var r [4]ops.Range
	if len(shape) != 4 {
		return r, fmt.Errorf("Slice of a rank-%d tensor is not supported", len(shape))
	}
	starts, ends := n.Attrs.Ints("starts", nil), n.Attrs.Ints("ends", nil)
	axes, steps := n.Attrs.Ints("axes", nil), n.Attrs.Ints("steps", nil)
	for i := range starts {
		ax := i
		if axes != nil {
			ax = axes[i]
		}
		if ax < 0 {
			ax += 4
		}
		step := 1
		if steps != nil {
			step = steps[i]
		}
		end := ends[i]
		if end >= math.MaxInt32 {
			end = ops.End
		}
		r[ax] = ops.Range{Start: starts[i], Stop: end, Step: step}
	}
	return r, nil
}
