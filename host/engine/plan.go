package engine

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/yoloforge/yoloforge/host/engine/conv"
	"github.com/yoloforge/yoloforge/host/engine/ops"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// CompileOptions say what a plan is for.
type CompileOptions struct {
	// Inputs gives the concrete shape of every graph input by name.
	Inputs ir.Shapes
	// Train selects train mode: BatchNorm uses and updates batch
	// statistics, activations are kept for Backward, and trained
	// parameters get gradient buffers.
	Train bool
	// InputGrad also computes the gradient with respect to the inputs.
	InputGrad bool
	// Unfused compiles every node as its own kernel call, turning off the
	// fusions that save memory passes (for tests and per-node profiles).
	Unfused bool
	// FrozenWeights promises that the parameters do not change while the
	// plan is in use, so an eval plan packs its convolution weights for
	// the matrix kernels once, at compile time, instead of on every
	// forward pass. After changing parameters anyway, call
	// Plan.RepackWeights. Train plans ignore it.
	FrozenWeights bool
	// Seed drives the random ops of train plans (Dropout, DropPath): each
	// node draws from its own stream keyed by the seed and its name, so a
	// plan's masks are reproducible and independent of node order.
	Seed uint64
}

// value is one tensor of a plan: an input, an activation or a parameter.
type value struct {
	name       string
	shape      []int
	data       []float32
	grad       []float32
	param      *Param
	needGrad   bool // a gradient flows into it in Backward
	consumers  int  // nodes reading it, plus one for a graph output
	accumulate bool // several contributions: grads are summed via scratch
	output     bool
	elided     bool // computed inside a fused kernel and never stored: no data buffer
}

func (v *value) nchw() ops.NCHW { return toNCHW(v.shape) }

// toNCHW right-aligns a shape of rank <= 4 into N, C, H, W.
func toNCHW(s []int) ops.NCHW {
	d := [4]int{1, 1, 1, 1}
	for i := range s {
		d[4-len(s)+i] = s[i]
	}
	return ops.NCHW{N: d[0], C: d[1], H: d[2], W: d[3]}
}

// step is one node compiled: its forward kernel call and, when gradients
// flow through it, its backward one.
type step struct {
	node *ir.Node
	fwd  func() error
	bwd  func() error
}

// Plan is a graph compiled for fixed input shapes. It is not safe for
// concurrent use.
type Plan struct {
	e       *Engine
	params  *Params
	train   bool
	seed    uint64
	vals    map[string]*value
	steps   []step
	inputs  []string
	outputs []string
	ws      *conv.Workspace
	// scratch[i] receives the gradient for a node's i-th input when that
	// input sums contributions from several consumers.
	scratch [][]float32
	// zeroed are the values whose gradients are sums, reset by Backward.
	zeroed []*value
	// convSiLU lists an eval plan's Conv nodes that apply the SiLU after
	// them and convBN maps those that fold the BatchNormalization after
	// them to it (see fuseConvSiLU); bnSiLU maps a train plan's
	// BatchNormalization node to the output of the SiLU fused into it.
	// fusedAway lists the nodes whose work another step does.
	convSiLU  map[string]bool
	convBN    map[string]*ir.Node
	bnSiLU    map[string]*value
	fusedAway map[string]bool
	// frozen is CompileOptions.FrozenWeights for an eval plan; repack
	// re-packs each convolution's weights (see RepackWeights).
	frozen bool
	repack []func() error
}

// RepackWeights packs the convolution weights of a plan compiled with
// FrozenWeights again, after its parameters changed. Other plans have
// nothing to repack.
func (p *Plan) RepackWeights() error {
	for _, f := range p.repack {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// Compile turns g into a plan for the given input shapes, using params
// (NewParams(g), possibly shared with other plans) for its tensors.
func (e *Engine) Compile(g *ir.Graph, params *Params, opts CompileOptions) (*Plan, error) {
	shapes, err := g.InferShapes(opts.Inputs)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	p := &Plan{e: e, params: params, train: opts.Train, seed: opts.Seed, vals: map[string]*value{}, outputs: g.Outputs,
		ws: conv.NewWorkspaceOn(e.pool, e.gemm), frozen: opts.FrozenWeights && !opts.Train}
	for _, in := range g.Inputs {
		s := shapes[in.Name]
		for _, d := range s {
			if d < 0 {
				return nil, fmt.Errorf("compile: input %q needs a concrete shape, got %v", in.Name, s)
			}
		}
		p.vals[in.Name] = &value{name: in.Name, shape: s, needGrad: opts.Train && opts.InputGrad}
		p.inputs = append(p.inputs, in.Name)
	}
	for _, gp := range g.Params {
		prm, ok := params.Get(gp.Name)
		if !ok || !slices.Equal(prm.Shape, gp.Shape) {
			return nil, fmt.Errorf("compile: parameter %s %v is not in the parameter set with that shape", gp.Name, gp.Shape)
		}
		v := &value{name: gp.Name, shape: prm.Shape, data: prm.Data, param: prm}
		if opts.Train && gp.Role.Trainable() {
			if prm.Grad == nil {
				prm.Grad = make([]float32, len(prm.Data))
			}
			v.grad, v.needGrad = prm.Grad, true
		}
		p.vals[gp.Name] = v
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		for _, in := range n.Inputs {
			if v := p.vals[in]; v != nil {
				v.consumers++
			}
		}
		for _, o := range n.Outputs {
			p.vals[o] = &value{name: o, shape: shapes[o]}
		}
	}
	for _, o := range g.Outputs {
		p.vals[o].consumers++
		p.vals[o].output = true
	}
	for _, v := range p.vals {
		if v.param != nil && v.needGrad && v.consumers > 1 {
			return nil, fmt.Errorf("compile: parameter %s is used by %d nodes; shared parameters are not supported", v.name, v.consumers)
		}
	}
	// Gradients flow into a node's outputs when any of its inputs wants one.
	if opts.Train {
		for i := range g.Nodes {
			n := &g.Nodes[i]
			if !differentiable(n.Op) {
				continue
			}
			for _, in := range n.Inputs {
				if v := p.vals[in]; v != nil && v.needGrad {
					for _, o := range n.Outputs {
						p.vals[o].needGrad = true
					}
					break
				}
			}
		}
	}
	switch {
	case opts.Unfused:
	case opts.Train:
		p.fuseBatchNormSiLU(g)
	default:
		p.fuseConvSiLU(g)
	}
	if err := p.allocate(g); err != nil {
		return nil, err
	}
	if opts.Train {
		maxIn, largest := 0, 0
		for i := range g.Nodes {
			maxIn = max(maxIn, len(g.Nodes[i].Inputs))
		}
		for _, v := range p.vals {
			if v.accumulate && v.param == nil {
				largest = max(largest, len(v.data))
			}
		}
		p.scratch = make([][]float32, maxIn)
		for i := range p.scratch {
			p.scratch[i] = make([]float32, largest)
		}
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		st, err := p.compileNode(n)
		if err != nil {
			return nil, fmt.Errorf("compile node %s (%s): %w", n.Name, n.Op, err)
		}
		p.steps = append(p.steps, st)
	}
	return p, nil
}

// fuseConvSiLU finds the Conv nodes of an eval plan whose output only
// feeds a SiLU and has the convolution apply it, bias included, as it
// writes its output (conv.ForwardWith) instead of in a pass of its own. The
// SiLU's output shares the convolution's buffer and its step does nothing.
// With frozen weights it first folds each BatchNormalization that alone
// reads a convolution's output into that convolution's weights and bias
// (as ONNX Runtime does when it loads a model, and FoldBatchNorm does to a
// graph), so Conv→BatchNorm→SiLU becomes one step too.
func (p *Plan) fuseConvSiLU(g *ir.Graph) {
	readers := readersOf(g)
	p.convSiLU, p.convBN, p.fusedAway = map[string]bool{}, map[string]*ir.Node{}, map[string]bool{}
	// soleReader is the node that alone reads n's output, if any.
	soleReader := func(n *ir.Node) *ir.Node {
		if len(n.Outputs) != 1 {
			return nil
		}
		y := p.vals[n.Outputs[0]]
		r := readers[n.Outputs[0]]
		if y == nil || y.output || len(r) != 1 || len(r[0].Outputs) != 1 || len(y.shape) != 4 {
			return nil
		}
		return r[0]
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		if n.Op != "Conv" {
			continue
		}
		last := n
		if bn := soleReader(n); p.frozen && bn != nil && bn.Op == "BatchNormalization" && len(bn.Inputs) == 5 && p.constantInputs(bn, 1) && p.constantInputs(n, 1) {
			p.convBN[n.Name] = bn
			p.fusedAway[bn.Name] = true
			last = bn
		}
		if r := soleReader(last); r != nil && r.Op == "SiLU" {
			p.convSiLU[n.Name] = true
			p.fusedAway[r.Name] = true
		}
	}
}

// constantInputs reports whether n's inputs from index first on are all
// parameters (or absent): what an eval plan may fold or pack at compile
// time.
func (p *Plan) constantInputs(n *ir.Node, first int) bool {
	for _, in := range n.Inputs[min(first, len(n.Inputs)):] {
		if v := p.vals[in]; in != "" && (v == nil || v.param == nil) {
			return false
		}
	}
	return true
}

// fuseBatchNormSiLU finds the train-mode BatchNormalization nodes whose
// output only feeds a SiLU and computes both in one kernel
// (ops.BatchNormSiLUTrain): the normalised tensor is never stored, and its
// gradient buffer serves as the kernel's scratch in Backward.
func (p *Plan) fuseBatchNormSiLU(g *ir.Graph) {
	readers := readersOf(g)
	p.bnSiLU, p.fusedAway = map[string]*value{}, map[string]bool{}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		if n.Op != "BatchNormalization" || len(n.Outputs) != 1 || len(n.Inputs) != 5 {
			continue
		}
		y := p.vals[n.Outputs[0]]
		r := readers[n.Outputs[0]]
		if y == nil || y.output || len(r) != 1 || r[0].Op != "SiLU" || len(r[0].Outputs) != 1 {
			continue
		}
		p.bnSiLU[n.Name] = p.vals[r[0].Outputs[0]]
		p.fusedAway[r[0].Name] = true
		y.elided = true
	}
}

func readersOf(g *ir.Graph) map[string][]*ir.Node {
	readers := map[string][]*ir.Node{}
	for i := range g.Nodes {
		for _, in := range g.Nodes[i].Inputs {
			readers[in] = append(readers[in], &g.Nodes[i])
		}
	}
	return readers
}

// differentiable reports whether gradients pass through an op.
func differentiable(op string) bool {
	switch op {
	case "DetectDecode":
		return false
	}
	return true
}

// allocate gives every activation its buffers. Eval plans share buffers
// between values whose lifetimes do not overlap; train plans keep every
// activation for Backward.
func (p *Plan) allocate(g *ir.Graph) error {
	for _, name := range p.inputs {
		v := p.vals[name]
		v.data = make([]float32, numel(v.shape))
		if v.needGrad {
			v.grad = make([]float32, len(v.data))
			v.accumulate = v.consumers > 1
		}
	}
	if p.train {
		for i := range g.Nodes {
			for _, o := range g.Nodes[i].Outputs {
				v := p.vals[o]
				if !v.elided {
					v.data = make([]float32, numel(v.shape))
				}
				if v.needGrad {
					v.grad = make([]float32, numel(v.shape))
					v.accumulate = v.consumers > 1
					if v.accumulate || v.output {
						p.zeroed = append(p.zeroed, v)
					}
				}
			}
		}
		return nil
	}
	lastUse := map[string]int{}
	for i := range g.Nodes {
		for _, in := range g.Nodes[i].Inputs {
			lastUse[in] = i
		}
	}
	var free [][]float32
	take := func(n int) []float32 {
		best := -1
		for i, b := range free {
			if cap(b) >= n && (best < 0 || cap(b) < cap(free[best])) {
				best = i
			}
		}
		if best < 0 {
			return make([]float32, n)
		}
		b := free[best]
		free = append(free[:best], free[best+1:]...)
		return b[:n]
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		if p.fusedAway[n.Name] {
			// Computed in place by the convolution before it (a folded
			// BatchNorm, a SiLU): the output takes over the input's
			// buffer, which is not freed here.
			v := p.vals[n.Outputs[0]]
			v.data = p.vals[n.Inputs[0]].data
			v.output = v.output || v.consumers == 0
			continue
		}
		for _, o := range n.Outputs {
			v := p.vals[o]
			v.data = take(numel(v.shape))
		}
		for _, in := range n.Inputs {
			v := p.vals[in]
			if v == nil || v.param != nil || v.output || lastUse[in] != i || slices.Contains(p.inputs, in) {
				continue
			}
			free = append(free, v.data[:cap(v.data)])
		}
		// An output nobody reads is still a result: keep it.
		for _, o := range n.Outputs {
			if v := p.vals[o]; v.consumers == 0 {
				v.output = true
			}
		}
	}
	return nil
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Input returns the buffer of a graph input, to be filled before Forward.
func (p *Plan) Input(name string) ([]float32, error) {
	if !slices.Contains(p.inputs, name) {
		return nil, fmt.Errorf("plan has no input %q (inputs: %v)", name, p.inputs)
	}
	return p.vals[name].data, nil
}

// Output returns the buffer of a graph output, valid after Forward until
// the next Forward.
func (p *Plan) Output(name string) ([]float32, error) {
	v, ok := p.vals[name]
	if !ok || !v.output {
		return nil, fmt.Errorf("plan has no output %q (outputs: %v)", name, p.outputs)
	}
	return v.data, nil
}

// Shape returns the shape of any value of the plan.
func (p *Plan) Shape(name string) ([]int, bool) {
	v, ok := p.vals[name]
	if !ok {
		return nil, false
	}
	return v.shape, true
}

// Outputs lists the graph's outputs in order.
func (p *Plan) Outputs() []string { return p.outputs }

// OutputGrad returns the buffer to fill with d loss / d output before
// Backward (train plans). Outputs whose gradient is left zero contribute
// nothing.
func (p *Plan) OutputGrad(name string) ([]float32, error) {
	v, ok := p.vals[name]
	if !ok || !v.output {
		return nil, fmt.Errorf("plan has no output %q (outputs: %v)", name, p.outputs)
	}
	if v.grad == nil {
		return nil, fmt.Errorf("output %q takes no gradient (eval plan, or nothing trainable before it)", name)
	}
	return v.grad, nil
}

// InputGrad returns d loss / d input after Backward, when compiled with InputGrad.
func (p *Plan) InputGrad(name string) ([]float32, error) {
	v, ok := p.vals[name]
	if !ok || !slices.Contains(p.inputs, name) || v.grad == nil {
		return nil, fmt.Errorf("no gradient for input %q: compile with Train and InputGrad", name)
	}
	return v.grad, nil
}

// ZeroOutputGrads clears every output gradient.
func (p *Plan) ZeroOutputGrads() {
	for _, name := range p.outputs {
		if v := p.vals[name]; v.grad != nil {
			clear(v.grad)
		}
	}
}

// Forward runs the graph on the current inputs.
func (p *Plan) Forward() error {
	for i := range p.steps {
		if err := p.steps[i].fwd(); err != nil {
			n := p.steps[i].node
			return fmt.Errorf("forward %s (%s): %w", n.Name, n.Op, err)
		}
	}
	return nil
}

// Backward propagates the output gradients (OutputGrad) back through the
// tape, overwriting every parameter's Grad (and the input gradient). It
// must follow a Forward of a train plan.
func (p *Plan) Backward() error {
	if !p.train {
		return fmt.Errorf("backward needs a plan compiled with Train")
	}
	for _, v := range p.zeroed {
		if !v.output {
			clear(v.grad)
		}
	}
	for _, name := range p.inputs {
		if v := p.vals[name]; v.grad != nil {
			clear(v.grad)
		}
	}
	for i := len(p.steps) - 1; i >= 0; i-- {
		st := &p.steps[i]
		if st.bwd == nil {
			continue
		}
		if err := st.bwd(); err != nil {
			return fmt.Errorf("backward %s (%s): %w", st.node.Name, st.node.Op, err)
		}
	}
	return nil
}

// MemoryFloats is the number of float32s the plan's activation and
// gradient buffers hold (parameters excluded), counting shared buffers once.
func (p *Plan) MemoryFloats() int {
	seen := map[*float32]bool{}
	total := 0
	count := func(b []float32) {
		if cap(b) == 0 {
			return
		}
		k := &b[:1][0]
		if !seen[k] {
			seen[k] = true
			total += cap(b)
		}
	}
	names := make([]string, 0, len(p.vals))
	for k := range p.vals {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := p.vals[k]
		if v.param != nil {
			continue
		}
		count(v.data)
		count(v.grad)
	}
	for _, s := range p.scratch {
		count(s)
	}
	return total
}

// StepTime is how long one node took in one profiled iteration.
type StepTime struct {
	Node, Op          string
	Forward, Backward time.Duration
}

// Profile runs Forward (and Backward for train plans) once more, timing
// every node, for finding where a model's time goes
// (`yoloforge bench engine --profile`).
func (p *Plan) Profile() ([]StepTime, error) {
	out := make([]StepTime, len(p.steps))
	for i := range p.steps {
		st := &p.steps[i]
		out[i] = StepTime{Node: st.node.Name, Op: st.node.Op}
		start := time.Now()
		if err := st.fwd(); err != nil {
			return nil, err
		}
		out[i].Forward = time.Since(start)
	}
	if !p.train {
		return out, nil
	}
	for _, v := range p.zeroed {
		if !v.output {
			clear(v.grad)
		}
	}
	for i := len(p.steps) - 1; i >= 0; i-- {
		st := &p.steps[i]
		if st.bwd == nil {
			continue
		}
		start := time.Now()
		if err := st.bwd(); err != nil {
			return nil, err
		}
		out[i].Backward = time.Since(start)
	}
	return out, nil
}
