package engine

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// Initialize fills every parameter from its ir.Init recipe with a random
// stream seeded by seed, in the graph's parameter order, so the same seed
// always gives the same model. The recipes are PyTorch's defaults (see
// ir.Init) plus YOLOv5's Detect bias prior.
func (ps *Params) Initialize(g *ir.Graph, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for _, gp := range g.Params {
		p, ok := ps.Get(gp.Name)
		if !ok {
			return fmt.Errorf("initialize: parameter %s missing", gp.Name)
		}
		if err := initTensor(p.Data, gp.Init, rng); err != nil {
			return fmt.Errorf("initialize %s: %w", gp.Name, err)
		}
	}
	return nil
}

func initTensor(d []float32, in ir.Init, rng *rand.Rand) error {
	arg := func(i int) (float64, error) {
		if i >= len(in.Values) {
			return 0, fmt.Errorf("init %q needs %d values, has %v", in.Kind, i+1, in.Values)
		}
		return in.Values[i], nil
	}
	uniform := func(lo, hi float64) {
		for i := range d {
			d[i] = float32(lo + (hi-lo)*rng.Float64())
		}
	}
	switch in.Kind {
	case "", "zeros":
		clear(d)
	case "ones":
		for i := range d {
			d[i] = 1
		}
	case "constant":
		v, err := arg(0)
		if err != nil {
			return err
		}
		for i := range d {
			d[i] = float32(v)
		}
	case "uniform":
		lo, err := arg(0)
		if err != nil {
			return err
		}
		hi, err := arg(1)
		if err != nil {
			return err
		}
		uniform(lo, hi)
	case "kaiming_uniform", "fan_in_uniform":
		// kaiming_uniform_(a=√5) and the bias default both come to
		// U(-1/√fan_in, 1/√fan_in).
		fanIn, err := arg(0)
		if err != nil {
			return err
		}
		b := 1 / math.Sqrt(math.Max(fanIn, 1))
		uniform(-b, b)
	case "normal", "trunc_normal":
		mean, err := arg(0)
		if err != nil {
			return err
		}
		std, err := arg(1)
		if err != nil {
			return err
		}
		for i := range d {
			v := rng.NormFloat64()
			for in.Kind == "trunc_normal" && math.Abs(v) > 2 {
				v = rng.NormFloat64()
			}
			d[i] = float32(mean + std*v)
		}
	case "data":
		if len(in.Values) != len(d) {
			return fmt.Errorf("init data has %d values for %d elements", len(in.Values), len(d))
		}
		for i, v := range in.Values {
			d[i] = float32(v)
		}
	case "detect_bias":
		// Model._initialize_biases: objectness prior of 8 objects per
		// 640×640 image, class prior 0.6/(nc-0.99), on top of the default.
		if len(in.Values) != 4 {
			return fmt.Errorf("detect_bias needs fan_in, stride, nc, na; has %v", in.Values)
		}
		fanIn, stride, nc, na := in.Values[0], in.Values[1], int(in.Values[2]), int(in.Values[3])
		b := 1 / math.Sqrt(math.Max(fanIn, 1))
		uniform(-b, b)
		no := nc + 5
		if len(d) != na*no {
			return fmt.Errorf("detect_bias for %d anchors and %d classes needs %d values, tensor has %d", na, nc, na*no, len(d))
		}
		obj := math.Log(8 / math.Pow(640/stride, 2))
		cls := math.Log(0.6 / (float64(nc) - 0.99))
		for a := 0; a < na; a++ {
			d[a*no+4] += float32(obj)
			for c := 5; c < no; c++ {
				d[a*no+c] += float32(cls)
			}
		}
	default:
		return fmt.Errorf("unknown init %q", in.Kind)
	}
	return nil
}
