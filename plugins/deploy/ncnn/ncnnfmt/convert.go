package ncnnfmt

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// SupportedOps are the IR operators Convert maps to ncnn layers.
var SupportedOps = []string{
	"Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv", "CropLike", "DetectDecode", "Div",
	"DropPath", "Dropout", "Exp", "Flatten", "Gather", "Gelu", "Gemm", "GlobalAveragePool", "GlobalMaxPool",
	"HardSigmoid", "HardSwish", "Identity", "LayerNormalization", "LeakyRelu", "MatMul", "Max", "MaxPool", "Mul",
	"Neg", "Pad", "ReduceMax", "ReduceMean", "Relu", "Reshape", "ReshapeLike", "Resize", "ShiftWindowMask", "SiLU",
	"Sigmoid", "Slice", "Softmax", "Split", "Sqrt", "Sub", "Transpose",
}

// Options control a conversion.
type Options struct {
	// FP16 stores convolution and inner-product weights as float16 with
	// ncnn's fp16 tag (as ncnn2mem and ncnnoptimize do); biases and other
	// arrays stay float32, as ncnn always reads them.
	FP16 bool
	// Inputs overrides the graph inputs' shapes (batch 1 first; an image
	// is N, C, H, W). Unknown dimensions left in the graph must be given
	// here.
	Inputs ir.Shapes
}

// Export is a converted model.
type Export struct {
	Param   *ParamFile
	Bin     []byte
	Sidecar Sidecar
}

// Sidecar is what a user of the files needs besides them: the input and
// output blobs, and for raw detection maps the anchors and strides to
// decode them with (decoding is left to the application, as in ncnn's
// yolov5 example).
type Sidecar struct {
	Format    string       `json:"format"`
	Precision string       `json:"precision"`
	Input     BlobInfo     `json:"input"`
	Outputs   []OutputInfo `json:"outputs"`
	NC        int          `json:"nc,omitempty"`
	NA        int          `json:"na,omitempty"`
	Decode    string       `json:"decode,omitempty"`
}

// BlobInfo names a blob and its ncnn shape (outermost first: c,h,w).
type BlobInfo struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	Note  string `json:"note,omitempty"`
}

// OutputInfo is an output blob; raw head maps carry their level's stride
// and anchors (pixels, w,h pairs).
type OutputInfo struct {
	BlobInfo
	Stride  int         `json:"stride,omitempty"`
	Anchors [][]float64 `json:"anchors,omitempty"`
}

// value is where an IR value lives in the ncnn model: a blob and the
// shape that blob has there (outermost first, no batch). Reshape and
// Flatten cost nothing until a consumer needs another shape.
type value struct {
	blob  string
	shape []int
}

type emitted struct {
	layer  Layer
	arrays []array
}

type array struct {
	data   []float32
	tagged bool
}

type converter struct {
	g          *ir.Graph
	w          deploy.Weights
	opts       Options
	shapes     ir.Shapes
	vals       map[string]value
	alias      map[string]string // BN output -> folded conv output
	uses       map[string]int    // IR consumers per value (graph outputs count)
	producer   map[string]int
	out        []emitted
	layerNames map[string]int
	reshapes   map[string]string // value+shape -> blob already reshaped
	skip       map[int]bool
	fold       map[int]int   // conv node -> BN node folded into it
	fuse       map[int]int   // conv node -> activation node fused into it
	focus      map[int][]int // concat node -> its four slice nodes
	decode     *ir.Node
	consts     map[string]deploy.Tensor // weights computed at export time (split, gathered, ...)
}

// Convert maps a graph with its weights to an ncnn model. BatchNorm that
// follows a Conv is folded into it; activations ncnn's Convolution can apply
// (ReLU, LeakyReLU, Clip, Sigmoid, HardSwish) are fused; SiLU becomes a
// Swish layer; DetectDecode is left out so the outputs are the raw head
// maps. An operator or a form of one ncnn cannot express is an error naming
// the node and the op.
func Convert(g *ir.Graph, w deploy.Weights, opts Options) (*Export, error) {
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("ncnn: %w", err)
	}
	inputs := ir.Shapes{}
	for _, in := range g.Inputs {
		s := slices.Clone(in.Shape)
		if o, ok := opts.Inputs[in.Name]; ok {
			s = slices.Clone(o)
		}
		if len(s) > 0 && s[0] == -1 {
			s[0] = 1
		}
		for _, d := range s {
			if d <= 0 {
				return nil, fmt.Errorf("ncnn: input %s has shape %v: ncnn models have a fixed size, give it", in.Name, s)
			}
		}
		if len(s) < 2 || len(s) > 5 || s[0] != 1 {
			return nil, fmt.Errorf("ncnn: input %s has shape %v: want batch 1 and 1 to 4 more dimensions", in.Name, s)
		}
		inputs[in.Name] = s
	}
	shapes, err := g.InferShapes(inputs)
	if err != nil {
		return nil, fmt.Errorf("ncnn: shapes at %v: %w", inputs, err)
	}
	c := &converter{g: g, w: w, opts: opts, shapes: shapes, vals: map[string]value{}, alias: map[string]string{},
		uses: map[string]int{}, producer: map[string]int{}, layerNames: map[string]int{}, reshapes: map[string]string{},
		skip: map[int]bool{}, fold: map[int]int{}, fuse: map[int]int{}, focus: map[int][]int{},
		consts: map[string]deploy.Tensor{}}
	live := map[int]bool{}
	for _, i := range deploy.LiveNodes(g, rawOutputs(g)) {
		live[i] = true
	}
	for i := range g.Nodes {
		if !live[i] && g.Nodes[i].Op != "DetectDecode" {
			c.skip[i] = true
		}
	}
	if err := c.foldConstants(); err != nil {
		return nil, err
	}
	if err := c.plan(); err != nil {
		return nil, err
	}
	for _, in := range g.Inputs {
		s := inputs[in.Name][1:]
		l := Layer{Type: "Input", Name: c.layerName(in.Name), Outputs: []string{blobName(in.Name)}, Params: reshapeParams(s)}
		c.emit(l)
		c.vals[in.Name] = value{blob: blobName(in.Name), shape: s}
	}
	for i := range g.Nodes {
		if c.skip[i] {
			continue
		}
		if err := c.node(i); err != nil {
			n := &g.Nodes[i]
			return nil, fmt.Errorf("ncnn: node %s (%s): %w", n.Name, n.Op, err)
		}
	}
	side, err := c.outputs()
	if err != nil {
		return nil, err
	}
	c.insertSplits()
	pf := &ParamFile{}
	var bw binWriter
	for _, e := range c.out {
		pf.Layers = append(pf.Layers, e.layer)
		for _, a := range e.arrays {
			if a.tagged {
				bw.tagged(a.data, opts.FP16)
			} else {
				bw.raw(a.data)
			}
		}
	}
	pf.BlobCount = pf.CountBlobs()
	side.Precision = "fp32"
	if opts.FP16 {
		side.Precision = "fp16"
	}
	return &Export{Param: pf, Bin: bw.buf, Sidecar: side}, nil
}

// rawOutputs are the graph outputs with DetectDecode's replaced by the raw
// head maps it decodes.
func rawOutputs(g *ir.Graph) []string {
	var out []string
	for _, o := range g.Outputs {
		found := false
		for _, n := range g.Nodes {
			if n.Op == "DetectDecode" && slices.Contains(n.Outputs, o) {
				out = append(out, n.Inputs...)
				found = true
			}
		}
		if !found {
			out = append(out, o)
		}
	}
	return out
}

// blobName makes an IR value name a valid ncnn blob name (no white space).
func blobName(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}

func (c *converter) layerName(base string) string {
	base = blobName(base)
	k := c.layerNames[base]
	c.layerNames[base] = k + 1
	if k == 0 {
		return base
	}
	return fmt.Sprintf("%s_%d", base, k)
}

func (c *converter) emit(l Layer, arrays ...array) {
	c.out = append(c.out, emitted{layer: l, arrays: arrays})
}

// plan finds what to fold, fuse and skip before emitting.
func (c *converter) plan() error {
	for i, n := range c.g.Nodes {
		for _, in := range n.Inputs {
			c.uses[in]++
		}
		for _, o := range n.Outputs {
			c.producer[o] = i
		}
	}
	for _, o := range c.g.Outputs {
		c.uses[o]++
	}
	for i, n := range c.g.Nodes {
		switch n.Op {
		case "BatchNormalization":
			ci, ok := c.producer[n.Inputs[0]]
			if ok && c.g.Nodes[ci].Op == "Conv" && c.uses[n.Inputs[0]] == 1 {
				c.fold[ci] = i
				c.skip[i] = true
				c.alias[n.Outputs[0]] = n.Inputs[0]
			}
		case "Concat":
			if sl := c.focusSlices(&n); sl != nil {
				c.focus[i] = sl
				for _, s := range sl {
					c.skip[s] = true
				}
			}
		case "DetectDecode":
			if c.decode != nil {
				return fmt.Errorf("ncnn: node %s: a second DetectDecode (first %s)", n.Name, c.decode.Name)
			}
			c.decode = &c.g.Nodes[i]
			c.skip[i] = true
		}
	}
	// Activations ncnn's Convolution applies itself.
	for i, n := range c.g.Nodes {
		if _, ok := fusedActivation(&n); !ok || c.skip[i] {
			continue
		}
		in := n.Inputs[0]
		src := in
		if bi, ok := c.producer[in]; ok && c.g.Nodes[bi].Op == "BatchNormalization" && c.skip[bi] {
			src = c.g.Nodes[bi].Inputs[0]
		}
		ci, ok := c.producer[src]
		if !ok || c.g.Nodes[ci].Op != "Conv" || c.uses[in] != 1 || c.uses[src] != 1 {
			continue
		}
		if _, done := c.fuse[ci]; done {
			continue
		}
		c.fuse[ci] = i
		c.skip[i] = true
		c.alias[n.Outputs[0]] = in
	}
	return nil
}

// outputs resolves the graph outputs to blobs; the decoded DetectDecode
// output is replaced by the raw head maps it would decode.
func (c *converter) outputs() (Sidecar, error) {
	side := Sidecar{Format: "ncnn"}
	in := c.g.Inputs[0]
	side.Input = BlobInfo{Name: blobName(in.Name), Shape: c.vals[in.Name].shape,
		Note: "RGB, values scaled to 0..1 (substract_mean_normalize with norm 1/255), letterboxed to this size"}
	var outs []string
	levels := map[string]int{}
	var anchors, strides []float64
	if d := c.decode; d != nil {
		for k, v := range d.Inputs {
			levels[v] = k
		}
		anchors = d.Attrs.Floats("anchors", nil)
		strides = d.Attrs.Floats("strides", nil)
		side.NC = d.Attrs.Int("nc", 0)
		if len(d.Inputs) > 0 && len(strides) == len(d.Inputs) {
			side.NA = len(anchors) / 2 / len(d.Inputs)
		}
		side.Decode = "per level blob (na, ny*nx, no): element [a][y*nx+x][k] is the raw logit k of anchor a at cell (y,x); " +
			"s = sigmoid(logit), xy = (2*s[0:2] - 0.5 + (x,y)) * stride, wh = (2*s[2:4])^2 * anchor, obj = s[4], classes = s[5:]"
	}
	for _, o := range c.g.Outputs {
		if c.decode != nil && slices.Contains(c.decode.Outputs, o) {
			outs = append(outs, c.decode.Inputs...)
			continue
		}
		outs = append(outs, o)
	}
	seen := map[string]bool{}
	for _, o := range outs {
		if seen[o] {
			continue
		}
		seen[o] = true
		v, err := c.namedOutput(o)
		if err != nil {
			return side, fmt.Errorf("ncnn: graph output %s: %w", o, err)
		}
		info := OutputInfo{BlobInfo: BlobInfo{Name: v.blob, Shape: v.shape}}
		if k, ok := levels[o]; ok && side.NA > 0 {
			info.Stride = int(strides[k])
			for a := 0; a < side.NA; a++ {
				j := (k*side.NA + a) * 2
				info.Anchors = append(info.Anchors, []float64{anchors[j], anchors[j+1]})
			}
		}
		side.Outputs = append(side.Outputs, info)
	}
	return side, nil
}

// namedOutput makes sure a graph output has a blob of its own name: an
// output that is a view of another blob (a Reshape, an Identity) gets a
// Reshape layer named after it, a weight a MemoryData layer.
func (c *converter) namedOutput(o string) (value, error) {
	if c.isConst(o) {
		// A weight output (a mask computed at export time) becomes a
		// MemoryData blob; more than 4 axes are merged from the front.
		s := c.irShape(o)
		for len(s) > 4 {
			s = append([]int{s[0] * s[1]}, s[2:]...)
		}
		b, err := c.operand(o, s)
		return value{blob: b, shape: s}, err
	}
	v, ok := c.vals[c.resolve(o)]
	if !ok {
		return value{}, fmt.Errorf("no blob")
	}
	if v.blob == blobName(o) {
		return v, nil
	}
	want := c.irShape(o)
	if len(want) > 4 {
		want = v.shape
	}
	l := Layer{Type: "Reshape", Name: c.layerName(o), Inputs: []string{v.blob}, Outputs: []string{blobName(o)}, Params: reshapeParams(want)}
	c.emit(l)
	nv := value{blob: blobName(o), shape: want}
	c.vals[o] = nv
	return nv, nil
}

// insertSplits gives every blob with several consumers a Split layer right
// after its producer, one output per consumer, as ncnn requires.
func (c *converter) insertSplits() {
	uses := map[string]int{}
	for _, e := range c.out {
		for _, in := range e.layer.Inputs {
			uses[in]++
		}
	}
	var res []emitted
	next := map[string]int{}
	n := 0
	for _, e := range c.out {
		for k, in := range e.layer.Inputs {
			if uses[in] > 1 {
				e.layer.Inputs[k] = in + "_splitncnn_" + strconv.Itoa(next[in])
				next[in]++
			}
		}
		res = append(res, e)
		for _, o := range e.layer.Outputs {
			if uses[o] <= 1 {
				continue
			}
			sp := Layer{Type: "Split", Name: "splitncnn_" + strconv.Itoa(n), Inputs: []string{o}}
			n++
			for k := 0; k < uses[o]; k++ {
				sp.Outputs = append(sp.Outputs, o+"_splitncnn_"+strconv.Itoa(k))
			}
			res = append(res, emitted{layer: sp})
		}
	}
	c.out = res
}
