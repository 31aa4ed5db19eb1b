package train

import (
	"math"

	"github.com/yoloforge/yoloforge/host/engine"
)

// EMA is the reference's ModelEMA: an exponential moving average of every
// floating-point tensor of the model (weights, biases and BatchNorm
// statistics), with a decay that ramps up as decay·(1 − e^(−updates/tau))
// so early averages are not dominated by the random start.
type EMA struct {
	Params  *engine.Params // the averaged model, evaluated instead of the raw one
	Updates int
	decay   float64
	tau     float64
}

// NewEMA copies the model's current tensors into a fresh average.
func NewEMA(model *engine.Params, decay, tau float64) *EMA {
	e := &EMA{Params: model.Clone(), decay: decay, tau: tau}
	return e
}

// Decay is the decay of the next update.
func (e *EMA) Decay() float64 {
	return e.decay * (1 - math.Exp(-float64(e.Updates+1)/e.tau))
}

// Update folds the model's tensors into the average.
func (e *EMA) Update(model *engine.Params) {
	d := e.Decay()
	e.Updates++
	for _, name := range model.Names() {
		src, _ := model.Get(name)
		dst, ok := e.Params.Get(name)
		if !ok {
			continue
		}
		fd, fs := float32(d), float32(1-d)
		for i := range dst.Data {
			dst.Data[i] = fd*dst.Data[i] + fs*src.Data[i]
		}
	}
}
