package ncnnfmt

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Report is what Validate found in a valid model.
type Report struct {
	Layers   int
	Blobs    int
	BinBytes int
	// Outputs are the blobs no layer consumes, in order of production.
	Outputs []string
	// Shapes are the blob shapes, outermost first as ncnn's c,h,w (no batch),
	// inferred from the Input layers' sizes; nil when an input has no size.
	Shapes  map[string][]int
	Weights []LayerWeights
}

// floatIDs are the parameters ncnn reads as floats, per layer type; every
// other id of the layers below is read as an int. A value of the wrong kind
// would be reinterpreted bit for bit by ncnn, so it is an error here.
var floatIDs = map[string][]int{
	"Convolution": {10, 18}, "ConvolutionDepthWise": {10, 18}, "InnerProduct": {10},
	"Interp": {1, 2}, "BinaryOp": {2}, "ReLU": {0}, "Clip": {0, 1}, "HardSwish": {0, 1},
	"HardSigmoid": {0, 1}, "BatchNorm": {1}, "LayerNorm": {1}, "Reduction": {2}, "Padding": {5},
}

// ReadAndValidate parses a .param file and validates it with its .bin.
func ReadAndValidate(param, bin []byte) (*Report, error) {
	pf, err := ReadParam(param)
	if err != nil {
		return nil, err
	}
	return Validate(pf, bin)
}

// Validate checks a model as ncnn would load and run it: counts, names,
// blob flow (every blob produced once before use and consumed at most once;
// fan-out needs Split), parameter kinds, shapes through the graph where the
// inputs have sizes, weight sizes against those shapes, and the .bin file
// size against what the layers read.
func Validate(pf *ParamFile, bin []byte) (*Report, error) {
	var errs []string
	fail := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if len(pf.Layers) == 0 {
		return nil, errors.New("validate: no layers")
	}
	if n := pf.CountBlobs(); n != pf.BlobCount {
		fail("blob count is %d, the layers use %d distinct blobs", pf.BlobCount, n)
	}
	names := map[string]bool{}
	producer := map[string]string{}
	consumer := map[string]string{}
	var order []string
	for i := range pf.Layers {
		l := &pf.Layers[i]
		if names[l.Name] {
			fail("layer name %s used twice", l.Name)
		}
		names[l.Name] = true
		for _, b := range l.Inputs {
			if _, ok := producer[b]; !ok {
				fail("layer %s: input blob %s is not produced by an earlier layer", l.Name, b)
			}
			if c, ok := consumer[b]; ok {
				fail("blob %s is consumed by %s and %s: fan-out needs a Split layer", b, c, l.Name)
			}
			consumer[b] = l.Name
		}
		for _, b := range l.Outputs {
			if p, ok := producer[b]; ok {
				fail("blob %s is produced by %s and %s", b, p, l.Name)
			}
			producer[b] = l.Name
			order = append(order, b)
		}
		if err := checkArity(l); err != nil {
			errs = append(errs, err.Error())
		}
		for _, p := range l.Params {
			if fl, ok := floatIDs[l.Type]; ok || noWeights[l.Type] || l.Type == "MemoryData" || l.Type == "Padding" {
				want := slices.Contains(fl, p.ID)
				if p.Value.Float != want && p.Value.Len() > 0 {
					kind := "an int"
					if want {
						kind = "a float"
					}
					fail("layer %s (%s): parameter %d must be %s, got %s", l.Name, l.Type, p.ID, kind, p.String())
				}
			}
		}
	}
	rep := &Report{Layers: len(pf.Layers), Blobs: pf.BlobCount}
	for _, b := range order {
		if _, ok := consumer[b]; !ok {
			rep.Outputs = append(rep.Outputs, b)
		}
	}
	if len(errs) == 0 {
		shapes, err := inferShapes(pf)
		if err != nil {
			errs = append(errs, err.Error())
		}
		rep.Shapes = shapes
	}
	if len(errs) == 0 {
		w, err := ReadBin(pf, bin)
		if err != nil {
			errs = append(errs, err.Error())
		}
		rep.Weights = w
		rep.BinBytes = len(bin)
	}
	if len(errs) > 0 {
		if len(errs) > 20 {
			errs = append(errs[:20], fmt.Sprintf("... and %d more", len(errs)-20))
		}
		return nil, fmt.Errorf("validate:\n  %s", strings.Join(errs, "\n  "))
	}
	return rep, nil
}

func checkArity(l *Layer) error {
	in, out := len(l.Inputs), len(l.Outputs)
	bad := func(want string) error {
		return fmt.Errorf("layer %s (%s): has %d inputs and %d outputs, want %s", l.Name, l.Type, in, out, want)
	}
	switch l.Type {
	case "Input", "MemoryData":
		if in != 0 || out != 1 {
			return bad("0 and 1")
		}
	case "Split", "Slice":
		if in != 1 || out < 1 {
			return bad("1 and at least 1")
		}
	case "Concat":
		if in < 1 || out != 1 {
			return bad("at least 1 and 1")
		}
	case "MatMul":
		if in != 2 || out != 1 {
			return bad("2 and 1")
		}
	case "BinaryOp":
		want := 2
		if l.Int(1, 0) != 0 {
			want = 1
		}
		if in != want || out != 1 {
			return bad(fmt.Sprintf("%d and 1", want))
		}
	case "Convolution", "ConvolutionDepthWise":
		if l.Int(19, 0) != 0 {
			return fmt.Errorf("layer %s: dynamic-weight convolution is not supported", l.Name)
		}
		fallthrough
	default:
		if in != 1 || out != 1 {
			return bad("1 and 1")
		}
	}
	return nil
}
