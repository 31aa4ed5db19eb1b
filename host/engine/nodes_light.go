package engine

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	"github.com/yoloforge/yoloforge/host/engine/ops"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// lightKernels are the ops the light backbones need beyond compileNode's.
var lightKernels = map[string]nodeCompiler{
	"Dropout":  compileDropout,
	"DropPath": compileDropPath,
}

// nodeRand is the random stream of one node of a train plan: PCG keyed by
// the plan's seed and the node's name, so masks do not depend on which
// other random nodes the graph has or in which order they run.
func (p *Plan) nodeRand(n *ir.Node) *rand.PCG {
	h := fnv.New64a()
	h.Write([]byte(n.Name))
	return rand.NewPCG(p.seed, h.Sum64())
}

// compileDropout is nn.Dropout: attribute "ratio" (ONNX's default 0.5) is
// the probability of zeroing an element in training.
func compileDropout(p *Plan, n *ir.Node, st step, backward bool) (step, error) {
	ratio := n.Attrs.Float("ratio", 0.5)
	if !(ratio >= 0 && ratio < 1) {
		return st, fmt.Errorf("ratio %v: want 0 <= ratio < 1", ratio)
	}
	if !p.train || ratio == 0 {
		return p.identity(n, st, backward), nil
	}
	x, y, w := p.in(n, 0), p.out(n, 0), p.e.workers
	mask := make([]uint8, len(y.data))
	src := p.nodeRand(n)
	st.fwd = func() error { return ops.Dropout(src, ratio, x.data, y.data, mask, w) }
	if backward {
		dx := p.sink(x, 0)
		st.bwd = func() error {
			if err := ops.DropoutBackward(ratio, mask, y.grad, dx.buf, w); err != nil {
				return err
			}
			return dx.commit()
		}
	}
	return st, nil
}

// compileDropPath is per-sample stochastic depth: attribute "drop_prob" is
// the probability of zeroing a whole sample (axis 0) in training.
func compileDropPath(p *Plan, n *ir.Node, st step, backward bool) (step, error) {
	prob := n.Attrs.Float("drop_prob", 0)
	if !(prob >= 0 && prob < 1) {
		return st, fmt.Errorf("drop_prob %v: want 0 <= drop_prob < 1", prob)
	}
	if !p.train || prob == 0 {
		return p.identity(n, st, backward), nil
	}
	x, y, w := p.in(n, 0), p.out(n, 0), p.e.workers
	if len(x.shape) == 0 || x.shape[0] < 1 {
		return st, fmt.Errorf("input %v has no batch axis", x.shape)
	}
	batch := x.shape[0]
	sampleLen := len(x.data) / batch
	scale := make([]float32, batch)
	src := p.nodeRand(n)
	st.fwd = func() error { return ops.DropPath(src, prob, batch, sampleLen, x.data, y.data, scale, w) }
	if backward {
		dx := p.sink(x, 0)
		st.bwd = func() error {
			if err := ops.DropPathBackward(batch, sampleLen, scale, y.grad, dx.buf, w); err != nil {
				return err
			}
			return dx.commit()
		}
	}
	return st, nil
}
