package assemble

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/yoloforge/yoloforge/host/config"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/nn"
)

// Reference is a model in the reference project's layer-list format
// (Ultralytics yaml): global settings plus rows [from, number, module, args].
type Reference struct {
	File                         string
	NC                           int
	DepthMultiple, WidthMultiple float64
	Anchors                      [][]float64
	// AnchorsPerLevel stands in for Anchors when a file gives only a count
	// (anchors: 3): the reference then uses placeholder anchors 0..2n-1.
	AnchorsPerLevel int
	Rows            [][]any // backbone rows followed by head rows
	InChannels      int     // 3 when zero
}

// ReferenceOf takes a loaded reference-format config as the builder's input.
func ReferenceOf(m *config.Model) *Reference {
	return &Reference{File: m.File, NC: m.NC, DepthMultiple: m.DepthMultiple, WidthMultiple: m.WidthMultiple,
		Anchors: m.Anchors, AnchorsPerLevel: m.AnchorsPerLevel, Rows: append(append([][]any{}, m.RefBackbone...), m.RefHead...)}
}

// LoadReference reads a reference layer-list yaml with nc classes and
// builds it.
func LoadReference(path string, nc int) (*ir.Graph, error) {
	m, err := config.LoadModel(config.Source{File: path, Sets: []string{fmt.Sprintf("nc=%d", nc)}})
	if err != nil {
		return nil, err
	}
	if m.Format != config.FormatReference {
		return nil, fmt.Errorf("%s is not a reference layer-list yaml", path)
	}
	return BuildReference(ReferenceOf(m))
}

// refLayer turns one row into layers of the graph. args are the row's
// arguments after name evaluation (nc, anchors, None, quoted strings).
type refLayer func(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error)

// refModules lists the modules of the reference understood, by the name the
// yaml uses: the YOLOv5 core here, the light backbones' blocks and the
// accuracy modules in their own files.
var refModules = mergeModules(refCoreModules, refLightModules, refAccModules)

func mergeModules(sets ...map[string]refLayer) map[string]refLayer {
	all := map[string]refLayer{}
	for _, set := range sets {
		for name, build := range set {
			all[name] = build
		}
	}
	return all
}

var refCoreModules = map[string]refLayer{
	"Conv":        refConv,
	"Focus":       refFocus,
	"C3":          refC3,
	"SPPF":        refSPPF,
	"SPP":         refSPP,
	"nn.Upsample": refUpsample,
	"Concat":      refConcat,
	"Detect":      refDetect,
}

type refBuild struct {
	spec    *Reference
	b       *nn.Builder
	outs    []nn.T // output of every layer so far
	detect  *nn.DetectOutputs
	noTotal int // na·(nc+5): widths equal to it are not scaled (parse_model's `c2 != no`)
}

// BuildReference builds the graph the reference's parse_model would.
func BuildReference(spec *Reference) (*ir.Graph, error) {
	na := spec.AnchorsPerLevel
	if len(spec.Anchors) > 0 {
		na = len(spec.Anchors[0]) / 2
	}
	if na < 1 {
		return nil, fmt.Errorf("%s: anchors must be a non-empty list of levels or a count of anchors per level", spec.File)
	}
	inC := spec.InChannels
	if inC == 0 {
		inC = 3
	}
	r := &refBuild{spec: spec, b: nn.NewBuilder(nn.Options{WidthMultiple: spec.WidthMultiple, DepthMultiple: spec.DepthMultiple})}
	r.noTotal = na * (spec.NC + 5)
	img := r.b.Image("images", inC)
	for i, row := range spec.Rows {
		where := fmt.Sprintf("%s: layer %d", spec.File, i)
		if len(row) != 4 {
			return nil, fmt.Errorf("%s: expected [from, number, module, args], got %d fields", where, len(row))
		}
		from, err := r.from(row[0], i, img)
		if err != nil {
			return nil, fmt.Errorf("%s: from: %w", where, err)
		}
		n, ok := asInt(row[1])
		if !ok || n < 1 {
			return nil, fmt.Errorf("%s: number: expected an integer >= 1, got %v", where, row[1])
		}
		name, ok := row[2].(string)
		if !ok {
			return nil, fmt.Errorf("%s: module: expected a name, got %v", where, row[2])
		}
		build, ok := refModules[name]
		if !ok {
			return nil, fmt.Errorf("%s: module %q is not supported (supported: %s)", where, name, strings.Join(supportedModules(), ", "))
		}
		rawArgs, ok := row[3].([]any)
		if !ok {
			return nil, fmt.Errorf("%s: args: expected a list, got %v", where, row[3])
		}
		args := make([]any, len(rawArgs))
		for j, a := range rawArgs {
			args[j] = r.eval(a)
		}
		out, err := build(r, i, from, r.b.Depth(n), args)
		if err != nil {
			return nil, fmt.Errorf("%s (%s %s): %w", where, name, ir.FormatArgs(rawArgs...), err)
		}
		if err := r.b.Err(); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", where, name, err)
		}
		r.outs = append(r.outs, out)
	}
	if r.detect == nil {
		return nil, fmt.Errorf("%s: the model has no Detect layer", spec.File)
	}
	g, err := r.b.Finish(append([]nn.T{r.detect.Output}, r.detect.Raw...)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.File, err)
	}
	return g, nil
}

func supportedModules() []string {
	var names []string
	for k := range refModules {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// from resolves a row's from field (-1, an index, or a list of them).
func (r *refBuild) from(v any, i int, img nn.T) ([]nn.T, error) {
	var idx []int
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			k, ok := asInt(e)
			if !ok {
				return nil, fmt.Errorf("expected layer indices, got %v", v)
			}
			idx = append(idx, k)
		}
	default:
		k, ok := asInt(v)
		if !ok {
			return nil, fmt.Errorf("expected a layer index or a list of them, got %v", v)
		}
		idx = []int{k}
	}
	out := make([]nn.T, len(idx))
	for j, k := range idx {
		if k < 0 {
			k += i
		}
		switch {
		case k == -1 && i == 0:
			out[j] = img
		case k < 0 || k >= i:
			return nil, fmt.Errorf("layer %d refers to layer %d, which is not before it", i, idx[j])
		default:
			out[j] = r.outs[k]
		}
	}
	return out, nil
}

// eval mimics parse_model's eval of string arguments: the names nc and
// anchors, None, booleans and quoted strings.
func (r *refBuild) eval(a any) any {
	s, ok := a.(string)
	if !ok {
		return a
	}
	switch s {
	case "nc":
		return r.spec.NC
	case "anchors":
		if r.spec.Anchors == nil {
			return r.spec.AnchorsPerLevel
		}
		return r.spec.Anchors
	case "None":
		return nil
	case "True":
		return true
	case "False":
		return false
	}
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return ir.PyStr(s[1 : len(s)-1])
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return ir.PyStr(s)
}

// width applies parse_model's channel rule, with the pruned models' optional
// trailing keep ratio: c2 = max(make_divisible(c·ratio·gw, 8), 8) unless c
// is the detection output width.
func (r *refBuild) width(c int, ratio float64) int {
	if c == r.noTotal {
		return c
	}
	return max(nn.MakeDivisible(float64(c)*ratio*r.spec.WidthMultiple, 8), 8)
}

// splitRatio removes a trailing float keep ratio from args (pruned yaml).
func splitRatio(args []any) ([]any, float64) {
	if len(args) > 0 {
		if f, ok := args[len(args)-1].(float64); ok {
			return args[:len(args)-1], f
		}
	}
	return args, 1
}

func single(from []nn.T) (nn.T, error) {
	if len(from) != 1 {
		return nn.T{}, fmt.Errorf("takes one input, got %d", len(from))
	}
	return from[0], nil
}

func refConv(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	args, ratio := splitRatio(args)
	if len(args) < 1 {
		return x, fmt.Errorf("needs at least the output channels")
	}
	c, ok := asInt(args[0])
	if !ok {
		return x, fmt.Errorf("output channels: expected an integer, got %v", args[0])
	}
	c2 := r.width(c, ratio)
	k, stride, g := 1, 1, 1
	var pad *int
	act := "SiLU"
	for j, dst := range []*int{&k, &stride} {
		if j+1 >= len(args) {
			break
		}
		v, ok := asInt(args[j+1])
		if !ok {
			return x, fmt.Errorf("argument %d: expected an integer, got %v", j+1, args[j+1])
		}
		*dst = v
	}
	if len(args) > 3 && args[3] != nil {
		p, ok := asInt(args[3])
		if !ok {
			return x, fmt.Errorf("padding: expected an integer or None, got %v", args[3])
		}
		pad = &p
	}
	if len(args) > 4 {
		if g, ok = asInt(args[4]); !ok {
			return x, fmt.Errorf("groups: expected an integer, got %v", args[4])
		}
	}
	if len(args) > 5 {
		if b, ok := args[5].(bool); ok && !b {
			act = "Identity"
		}
	}
	printed := append([]any{x.C, c2}, args[1:]...)
	return repeat(r, "models.common.Conv", n, printed, from, func(s *nn.Scope, x nn.T) nn.T {
		return nn.Conv(s, x, c2, k, stride, nn.ConvOpts{Pad: pad, Groups: g, Act: act})
	}), nil
}

// repeat emits one layer whose body is the module, or nn.Sequential of n
// copies (parameters model.i.0..., model.i.1...) when n > 1.
func repeat(r *refBuild, module string, n int, printed []any, from []nn.T, body func(s *nn.Scope, x nn.T) nn.T) nn.T {
	return r.b.Layer(module, n, ir.FormatArgs(printed...), from, func(s *nn.Scope) nn.T {
		x := from[0]
		if n == 1 {
			return body(s, x)
		}
		for j := 0; j < n; j++ {
			x = body(s.Sub(strconv.Itoa(j)), x)
		}
		return x
	})
}

func refFocus(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	args, ratio := splitRatio(args)
	c, ok := asInt(firstOr(args, nil))
	if !ok {
		return x, fmt.Errorf("output channels: expected an integer, got %v", firstOr(args, nil))
	}
	c2 := r.width(c, ratio)
	k := 1
	if len(args) > 1 {
		if k, ok = asInt(args[1]); !ok {
			return x, fmt.Errorf("kernel: expected an integer, got %v", args[1])
		}
	}
	printed := append([]any{x.C, c2}, args[1:]...)
	return repeat(r, "models.common.Focus", n, printed, from, func(s *nn.Scope, x nn.T) nn.T {
		return nn.Focus(s, x, c2, k, nn.ConvOpts{})
	}), nil
}

func refC3(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	args, ratio := splitRatio(args)
	if len(args) < 1 {
		return x, fmt.Errorf("needs at least the output channels")
	}
	c, ok := asInt(args[0])
	if !ok {
		return x, fmt.Errorf("output channels: expected an integer, got %v", args[0])
	}
	c2o := r.width(c, 1)
	c2 := r.width(c, ratio)
	shortcut, g := true, 1
	e := []float64{0.5, 0.5}
	rates := make([]float64, n)
	for j := range rates {
		rates[j] = 1
	}
	if len(args) > 1 {
		if shortcut, ok = args[1].(bool); !ok {
			return x, fmt.Errorf("shortcut: expected a boolean, got %v", args[1])
		}
	}
	if len(args) > 2 {
		if g, ok = asInt(args[2]); !ok {
			return x, fmt.Errorf("groups: expected an integer, got %v", args[2])
		}
	}
	if len(args) > 3 {
		if e, ok = asFloats(args[3]); !ok || len(e) != 2 {
			return x, fmt.Errorf("expansion: expected [e_cv1, e_cv2], got %v", args[3])
		}
	}
	if len(args) > 4 {
		rs, ok := asFloats(args[4])
		if !ok || len(rs) < n {
			return x, fmt.Errorf("bottleneck rates: expected at least %d numbers, got %v", n, args[4])
		}
		rates = rs[:n]
	}
	printed := append([]any{x.C, c2, c2o, n}, args[1:]...)
	return r.b.Layer("models.common.C3", n, ir.FormatArgs(printed...), from, func(s *nn.Scope) nn.T {
		return nn.PrunedC3(s, x, c2, c2o, n, shortcut, g, [2]float64{e[0], e[1]}, rates)
	}), nil
}

func refSPPF(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	// SPPF keeps its trailing float: it is the hidden expansion, not a keep ratio.
	c, ok := asInt(firstOr(args, nil))
	if !ok {
		return x, fmt.Errorf("output channels: expected an integer, got %v", firstOr(args, nil))
	}
	c2 := r.width(c, 1)
	k, e := 5, 0.5
	if len(args) > 1 {
		if k, ok = asInt(args[1]); !ok {
			return x, fmt.Errorf("kernel: expected an integer, got %v", args[1])
		}
	}
	if len(args) > 2 {
		if e, ok = asFloat(args[2]); !ok {
			return x, fmt.Errorf("expansion: expected a number, got %v", args[2])
		}
	}
	printed := append([]any{x.C, c2}, args[1:]...)
	return repeat(r, "models.common.SPPF", n, printed, from, func(s *nn.Scope, x nn.T) nn.T {
		return nn.SPPF(s, x, c2, k, e)
	}), nil
}

func refSPP(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	c, ok := asInt(firstOr(args, nil))
	if !ok {
		return x, fmt.Errorf("output channels: expected an integer, got %v", firstOr(args, nil))
	}
	c2 := r.width(c, 1)
	ks := []int{5, 9, 13}
	if len(args) > 1 {
		fs, ok := asFloats(args[1])
		if !ok {
			return x, fmt.Errorf("kernels: expected a list of integers, got %v", args[1])
		}
		ks = ks[:0]
		for _, f := range fs {
			ks = append(ks, int(f))
		}
	}
	printed := append([]any{x.C, c2}, args[1:]...)
	return repeat(r, "models.common.SPP", n, printed, from, func(s *nn.Scope, x nn.T) nn.T {
		return nn.SPP(s, x, c2, ks)
	}), nil
}

func refUpsample(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	if len(args) < 2 {
		return x, fmt.Errorf("expected [size, scale_factor, mode]")
	}
	f, ok := asInt(args[1])
	if !ok || f < 1 {
		return x, fmt.Errorf("scale_factor: expected an integer >= 1, got %v", args[1])
	}
	if len(args) > 2 {
		if m, _ := args[2].(ir.PyStr); m != "nearest" {
			return x, fmt.Errorf("mode: only 'nearest' is supported, got %v", args[2])
		}
	}
	return r.b.Layer("torch.nn.modules.upsampling.Upsample", n, ir.FormatArgs(args...), from, func(s *nn.Scope) nn.T {
		return s.Upsample(x, f)
	}), nil
}

func refConcat(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	if d, ok := asInt(firstOr(args, 1)); !ok || d != 1 {
		return nn.T{}, fmt.Errorf("only channel concatenation (dimension 1) is supported, got %v", args)
	}
	return r.b.Layer("models.common.Concat", n, ir.FormatArgs(args...), from, func(s *nn.Scope) nn.T {
		return s.Concat(from, 1)
	}), nil
}

func refDetect(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	if len(args) < 2 {
		return nn.T{}, fmt.Errorf("expected [nc, anchors]")
	}
	nc, ok := asInt(args[0])
	if !ok || nc < 1 {
		return nn.T{}, fmt.Errorf("nc: expected an integer >= 1, got %v", args[0])
	}
	anchors, ok := args[1].([][]float64)
	if count, isCount := asInt(args[1]); isCount && count > 0 {
		// parse_model: a count becomes [0, 1, ..., 2n-1] on every level.
		anchors, ok = make([][]float64, len(from)), true
		for l := range anchors {
			for v := 0; v < 2*count; v++ {
				anchors[l] = append(anchors[l], float64(v))
			}
		}
	}
	if !ok {
		return nn.T{}, fmt.Errorf("anchors: expected the model's anchors or a count, got %v", args[1])
	}
	if len(anchors) != len(from) {
		return nn.T{}, fmt.Errorf("%d anchor levels for %d inputs", len(anchors), len(from))
	}
	res := r.b.Detect(from, nc, anchors)
	if res.Output.Name == "" {
		return nn.T{}, r.b.Err()
	}
	r.detect = &res
	return res.Output, nil
}

func firstOr(args []any, def any) any {
	if len(args) == 0 {
		return def
	}
	return args[0]
}

func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case uint64:
		return int(x), true
	case float64:
		if x == math.Trunc(x) {
			return int(x), true
		}
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int, int64, uint64:
		i, _ := asInt(x)
		return float64(i), true
	}
	return 0, false
}

func asFloats(v any) ([]float64, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]float64, len(list))
	for i, e := range list {
		if out[i], ok = asFloat(e); !ok {
			return nil, false
		}
	}
	return out, true
}
