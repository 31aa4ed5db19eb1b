// Package conformance checks a deploy backend against the engine: every IR
// operator the backend declares, in a one-node graph with seeded random
// inputs and weights, at each precision it declares, and then whole models.
// Each check converts the graph with the backend, loads and runs it, runs
// the same graph through the engine's eval plan, and compares every output
// within the precision's tolerance. The report is one row per check; a
// check that fails names its op or model.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// Tolerance bounds the difference between a backend's output b and the
// engine's r elementwise: |b - r| <= Abs + Rel*|r| (numpy's allclose), or
// with OfRange |b - r| <= Abs + Rel*max|r|, relative to the largest value
// of the whole output.
type Tolerance struct {
	Abs     float64 `json:"abs"`
	Rel     float64 `json:"rel"`
	OfRange bool    `json:"of_range,omitempty"`
}

// DefaultTolerance is the tolerance of a precision. float32 allows for a
// different summation order and exp implementation; float16 for weights
// (and possibly arithmetic) rounded to 11 significant bits; int8 for
// quantization steps.
func DefaultTolerance(p deploy.Precision) Tolerance {
	switch p {
	case deploy.FP16:
		return Tolerance{Abs: 1e-2, Rel: 1e-2}
	case deploy.INT8:
		return Tolerance{Abs: 1e-1, Rel: 1e-1}
	}
	return Tolerance{Abs: 1e-4, Rel: 1e-3}
}

// DefaultModelTolerance is the tolerance of a whole model at a precision:
// fp32 as for one op (the golden files' own bounds: raw maps 1e-4 abs,
// decoded output 1e-3 rel). At fp16 and int8 the rounding of some sixty
// layers adds up, and the decode's (2·sigmoid)²·anchor turns a logit off
// by 0.03 into a box side off by several percent, so a few values of a
// correct model differ by more than any elementwise bound that would still
// catch a wrong one; there the bound is relative to the output's range.
// The operators themselves are held to the elementwise bounds.
func DefaultModelTolerance(p deploy.Precision) Tolerance {
	switch p {
	case deploy.FP16:
		return Tolerance{Abs: 1e-2, Rel: 2e-2, OfRange: true}
	case deploy.INT8:
		return Tolerance{Abs: 1e-1, Rel: 1e-1, OfRange: true}
	}
	return DefaultTolerance(p)
}

// Model is a whole model to check: its graph (BatchNorm folded, as
// exporters write it) with weights, and the input to run it on.
type Model struct {
	Name   string
	Graph  *ir.Graph
	Params *engine.Params
	// Input is the image shape (N, C, H, W); Graph's input is fixed to it.
	Input []int
	// Data is the input; nil draws uniform [0, 1) values from the seed.
	Data []float32
	// Err, when set, is why the model could not be built; its check
	// reports it as an error instead of running.
	Err error
}

// Options say what to check.
type Options struct {
	Backend deploy.Backend
	Engine  *engine.Engine
	// Precisions to check; nil means every one the backend declares.
	Precisions []deploy.Precision
	// Ops restricts the operator checks to these ops; nil means every op
	// the backend declares and the kit has a case for; empty non-nil
	// means none.
	Ops []string
	// Models are the whole models to check after the operators.
	Models []Model
	// Seed makes inputs and weights reproducible.
	Seed uint64
	// Iterations of Time per check (0: 3).
	Iterations int
	// WorkDir receives the converted files, one directory per check; ""
	// uses a temporary directory removed afterwards.
	WorkDir string
	// ConvertOnly checks conversion alone (for a backend that cannot run
	// here); every converted check reports StatusConverted.
	ConvertOnly bool
	// Tolerances and ModelTolerances override DefaultTolerance (ops) and
	// DefaultModelTolerance (whole models) per precision.
	Tolerances, ModelTolerances map[deploy.Precision]Tolerance
	// Progress, when set, receives every result as it is made.
	Progress func(Result)
}

// Status of one check.
const (
	StatusPass      = "pass"
	StatusFail      = "FAIL"      // outputs differ beyond the tolerance
	StatusError     = "ERROR"     // convert, load or run failed
	StatusConverted = "converted" // convert-only mode: files written, not run
	// StatusSkip: a whole model using an op the backend does not declare.
	// Not a failure (a backend may serve a subset of the models); every
	// op it does declare is checked on its own.
	StatusSkip = "skip"
)

// Result is one check: an op case or a model at a precision.
type Result struct {
	Kind      string           `json:"kind"` // "op" or "model"
	Name      string           `json:"name"` // the op (with its variant) or the model
	Op        string           `json:"op,omitempty"`
	Precision deploy.Precision `json:"precision"`
	Status    string           `json:"status"`
	MaxAbs    float64          `json:"max_abs_err"`
	MaxRel    float64          `json:"max_rel_err"`
	Tolerance Tolerance        `json:"tolerance"`
	LatencyMS float64          `json:"latency_ms,omitempty"`
	// Output is the output with the largest error, or the failing one.
	Output string `json:"output,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// OK reports whether the check passed (or converted, in convert-only
// mode, or was skipped).
func (r Result) OK() bool {
	return r.Status == StatusPass || r.Status == StatusConverted || r.Status == StatusSkip
}

// Report is the whole run.
type Report struct {
	Backend deploy.Info `json:"backend"`
	Results []Result    `json:"results"`
	// SkippedOps are ops the backend declares that the kit has no case
	// for or the engine cannot run; UncheckedOps are kit ops the backend
	// does not declare (not failures: a backend may support a subset).
	SkippedOps   []string `json:"skipped_ops,omitempty"`
	UncheckedOps []string `json:"unchecked_ops,omitempty"`
	ConvertOnly  bool     `json:"convert_only,omitempty"`
}

// Failures lists the checks that did not pass, as "name (precision)".
func (r *Report) Failures() []string {
	var out []string
	for _, res := range r.Results {
		if !res.OK() {
			out = append(out, fmt.Sprintf("%s (%s)", res.Name, res.Precision))
		}
	}
	return out
}

// Passed reports whether every check passed.
func (r *Report) Passed() bool { return len(r.Failures()) == 0 }

// Run runs every check. Its error is for failures of the kit itself (no
// backend, the engine refusing a model); the backend's failures are
// results.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Backend == nil || opts.Engine == nil {
		return nil, errors.New("conformance: a backend and an engine are needed")
	}
	info, err := opts.Backend.Describe(ctx)
	if err != nil {
		return nil, fmt.Errorf("conformance: describe backend: %w", err)
	}
	runner, _ := opts.Backend.(deploy.Runner)
	if !opts.ConvertOnly && (!info.CanInfer || runner == nil) {
		why := info.Reason
		if why == "" {
			why = "it declares no runtime"
		}
		return nil, fmt.Errorf("conformance: backend %q cannot run inference here (%s); run with convert-only to check its conversions alone", info.Name, why)
	}
	precisions := opts.Precisions
	if precisions == nil {
		precisions = info.Precisions
	}
	for _, p := range precisions {
		if !info.Supports(p) {
			return nil, fmt.Errorf("conformance: backend %q does not declare precision %s (it declares %v)", info.Name, p, info.Precisions)
		}
	}
	if len(precisions) == 0 {
		return nil, fmt.Errorf("conformance: backend %q declares no precision", info.Name)
	}
	work := opts.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "yoloforge-conformance-"); err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
		defer os.RemoveAll(work)
	}
	r := &run{opts: opts, info: info, runner: runner, work: work, report: &Report{Backend: info, ConvertOnly: opts.ConvertOnly}}
	if r.opts.Iterations <= 0 {
		r.opts.Iterations = 3
	}

	cases := opCases()
	have := map[string]bool{}
	for _, c := range cases {
		have[c.op] = true
	}
	for _, op := range info.Ops {
		if !have[op] {
			r.report.SkippedOps = append(r.report.SkippedOps, op)
		}
	}
	for op := range have {
		if !slices.Contains(info.Ops, op) {
			r.report.UncheckedOps = append(r.report.UncheckedOps, op)
		}
	}
	slices.Sort(r.report.UncheckedOps)
	for _, prec := range precisions {
		for i, c := range cases {
			if !slices.Contains(info.Ops, c.op) || (opts.Ops != nil && !slices.Contains(opts.Ops, c.op)) ||
				slices.ContainsFunc(c.pre, func(op string) bool { return !slices.Contains(info.Ops, op) }) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return r.report, err
			}
			r.add(r.opCheck(ctx, c, i, prec))
		}
		for _, m := range opts.Models {
			if err := ctx.Err(); err != nil {
				return r.report, err
			}
			r.add(r.modelCheck(ctx, m, prec))
		}
	}
	return r.report, nil
}

type run struct {
	opts   Options
	info   deploy.Info
	runner deploy.Runner
	work   string
	report *Report
	n      int
}

func (r *run) add(res Result) {
	r.report.Results = append(r.report.Results, res)
	if r.opts.Progress != nil {
		r.opts.Progress(res)
	}
}

func (r *run) tolerance(p deploy.Precision) Tolerance {
	if t, ok := r.opts.Tolerances[p]; ok {
		return t
	}
	return DefaultTolerance(p)
}

func (r *run) modelTolerance(p deploy.Precision) Tolerance {
	if t, ok := r.opts.ModelTolerances[p]; ok {
		return t
	}
	return DefaultModelTolerance(p)
}

// opCheck runs one op case: random weights and input from the seed and
// the case's index, so each case is reproducible on its own.
func (r *run) opCheck(ctx context.Context, c opCase, idx int, prec deploy.Precision) Result {
	res := Result{Kind: "op", Name: c.name(), Op: c.op, Precision: prec, Tolerance: r.tolerance(prec)}
	g := c.graph()
	rng := rand.New(rand.NewPCG(r.opts.Seed, uint64(idx)+1))
	params := engine.NewParams(g)
	for i, cp := range c.params {
		p, _ := params.Get(g.Params[i].Name)
		for k := range p.Data {
			if cp.positive {
				p.Data[k] = 0.5 + rng.Float32()
			} else {
				p.Data[k] = 2*rng.Float32() - 1
			}
		}
	}
	in := make([]float32, numel(c.input))
	for k := range in {
		in[k] = c.lo + (c.hi-c.lo)*rng.Float32()
	}
	return r.check(ctx, res, g, params, c.input, in)
}

func (r *run) modelCheck(ctx context.Context, m Model, prec deploy.Precision) Result {
	res := Result{Kind: "model", Name: m.Name, Precision: prec, Tolerance: r.modelTolerance(prec)}
	if m.Err != nil {
		res.Status, res.Detail = StatusError, "build model: "+m.Err.Error()
		return res
	}
	if m.Graph == nil || len(m.Graph.Inputs) != 1 || m.Params == nil {
		res.Status, res.Detail = StatusError, "the model has no graph with one image input, or no weights"
		return res
	}
	g := *m.Graph
	g.Inputs = slices.Clone(g.Inputs)
	g.Inputs[0].Shape = slices.Clone(m.Input)
	in := m.Data
	if in == nil {
		rng := rand.New(rand.NewPCG(r.opts.Seed, 0xc0ffee))
		in = make([]float32, numel(m.Input))
		for k := range in {
			in[k] = rng.Float32()
		}
	}
	if len(in) != numel(m.Input) {
		res.Status, res.Detail = StatusError, fmt.Sprintf("input has %d values, shape %v needs %d", len(in), m.Input, numel(m.Input))
		return res
	}
	return r.check(ctx, res, &g, m.Params, m.Input, in)
}

// check converts, runs and compares one graph.
func (r *run) check(ctx context.Context, res Result, g *ir.Graph, params *engine.Params, shape []int, in []float32) Result {
	fail := func(status, format string, args ...any) Result {
		res.Status, res.Detail = status, fmt.Sprintf(format, args...)
		return res
	}
	if err := deploy.CheckOps(r.info, g, false); err != nil {
		status := StatusError // an op case names only ops the backend declares
		if res.Kind == "model" {
			status = StatusSkip
		}
		return fail(status, "%v", err)
	}
	// The engine is the reference: compute it first, so that a graph the
	// engine refuses is the kit's problem, reported as such.
	want, err := r.engineRun(g, params, shape, in)
	if err != nil {
		return fail(StatusError, "engine (the reference) failed: %v", err)
	}
	r.n++
	dir := filepath.Join(r.work, fmt.Sprintf("%03d-%s-%s", r.n, sanitize(res.Name), res.Precision))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(StatusError, "create %s: %v", dir, err)
	}
	wfile := filepath.Join(dir, "weights.safetensors")
	w := deploy.Weights{}
	for _, name := range params.Names() {
		p, _ := params.Get(name)
		w[name] = deploy.Tensor{Name: name, Shape: p.Shape, Data: p.Data}
	}
	if err := deploy.WriteWeights(wfile, w); err != nil {
		return fail(StatusError, "write weights: %v", err)
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fail(StatusError, "create %s: %v", out, err)
	}
	conv, err := r.opts.Backend.Convert(ctx, deploy.ConvertRequest{Graph: g, WeightsFile: wfile, OutDir: out, Precision: res.Precision})
	if err != nil {
		return fail(StatusError, "convert: %v", err)
	}
	if len(conv.Files) == 0 {
		return fail(StatusError, "convert reported no files")
	}
	for _, f := range conv.Files {
		if !filepath.IsAbs(f) {
			f = filepath.Join(out, f)
		}
		if _, err := os.Stat(f); err != nil {
			return fail(StatusError, "convert reported %s, which does not exist: %v", f, err)
		}
	}
	if r.opts.ConvertOnly {
		res.Status = StatusConverted
		return res
	}
	sess, err := r.runner.Load(ctx, deploy.LoadRequest{Dir: out, Files: conv.Files, Precision: res.Precision})
	if err != nil {
		return fail(StatusError, "load: %v", err)
	}
	defer r.runner.Unload(context.WithoutCancel(ctx), sess)
	inputs := []deploy.Tensor{{Name: g.Inputs[0].Name, Shape: shape, Data: in}}
	got, err := r.runner.Infer(ctx, sess, inputs)
	if err != nil {
		return fail(StatusError, "infer: %v", err)
	}
	res = compare(res, want, got)
	if t, err := r.runner.Time(ctx, sess, inputs, r.opts.Iterations); err == nil {
		res.LatencyMS = t.MedianMS
	} else if res.Status == StatusPass {
		return fail(StatusError, "time: %v", err)
	}
	return res
}

// engineRun runs g in an eval plan and returns its outputs by name.
func (r *run) engineRun(g *ir.Graph, params *engine.Params, shape []int, in []float32) ([]deploy.Tensor, error) {
	plan, err := r.opts.Engine.Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{g.Inputs[0].Name: shape}, FrozenWeights: true})
	if err != nil {
		return nil, err
	}
	buf, err := plan.Input(g.Inputs[0].Name)
	if err != nil {
		return nil, err
	}
	copy(buf, in)
	if err := plan.Forward(); err != nil {
		return nil, err
	}
	var out []deploy.Tensor
	for _, name := range plan.Outputs() {
		v, err := plan.Output(name)
		if err != nil {
			return nil, err
		}
		s, _ := plan.Shape(name)
		out = append(out, deploy.Tensor{Name: name, Shape: slices.Clone(s), Data: slices.Clone(v)})
	}
	return out, nil
}

// compare matches the backend's outputs to the engine's by name (by
// position when the backend renamed them all) and fills in the errors.
func compare(res Result, want, got []deploy.Tensor) Result {
	byName := map[string]deploy.Tensor{}
	for _, t := range got {
		byName[t.Name] = t
	}
	tol := res.Tolerance
	res.Status = StatusPass
	worst := -1.0
	for i, w := range want {
		b, ok := byName[w.Name]
		if !ok {
			if len(got) != len(want) {
				res.Status, res.Output = StatusFail, w.Name
				res.Detail = fmt.Sprintf("output %q missing: the backend returned %s", w.Name, names(got))
				return res
			}
			b = got[i]
		}
		if !slices.Equal(b.Shape, w.Shape) || len(b.Data) != len(w.Data) {
			res.Status, res.Output = StatusFail, w.Name
			res.Detail = fmt.Sprintf("output %q has shape %v (%d values), the engine's is %v", w.Name, b.Shape, len(b.Data), w.Shape)
			return res
		}
		bad := 0
		firstBad := -1
		scale := 0.0 // max|r| of the output, for OfRange
		if tol.OfRange {
			for _, rv := range w.Data {
				scale = math.Max(scale, math.Abs(float64(rv)))
			}
		}
		for k, rv := range w.Data {
			bv := b.Data[k]
			d := math.Abs(float64(bv) - float64(rv))
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			if d > res.MaxAbs {
				res.MaxAbs = d
			}
			ref := math.Abs(float64(rv))
			if tol.OfRange {
				ref = scale
			}
			if rel := d / math.Max(ref, tol.Abs); rel > res.MaxRel {
				res.MaxRel = rel
			}
			if d > tol.Abs+tol.Rel*ref {
				bad++
				if firstBad < 0 {
					firstBad = k
				}
			}
			if d > worst && res.Status == StatusPass { // a failure keeps naming its output
				worst, res.Output = d, w.Name
			}
		}
		if bad > 0 && res.Status == StatusPass {
			res.Status, res.Output = StatusFail, w.Name
			res.Detail = fmt.Sprintf("output %q: %d of %d values beyond the tolerance; first at index %d: backend %g, engine %g",
				w.Name, bad, len(w.Data), firstBad, b.Data[firstBad], w.Data[firstBad])
		}
	}
	return res
}

func names(ts []deploy.Tensor) string {
	var s []string
	for _, t := range ts {
		s = append(s, fmt.Sprintf("%q", t.Name))
	}
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// sanitize makes a check name usable as a directory name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}
