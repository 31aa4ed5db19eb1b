package loss_test

import (
	"fmt"

	"github.com/yoloforge/yoloforge/host/loss"
)

// A one-level head with one target: the loss of all-zero logits and the
// gradient a trainer would hand to the engine's Backward.
func ExampleLoss_Compute() {
	hyp := loss.Hyp{Box: 0.05, Obj: 1.0, Cls: 0.5, ClsPW: 1, ObjPW: 1, AnchorT: 4}
	hyp = loss.ScaleForModel(hyp, 1, 2, 32) // as train.py does: nl, nc, imgsz
	l, err := loss.New(loss.Config{NC: 2, Anchors: [][]float64{{10, 13, 16, 30, 33, 23}}, Strides: []float64{8}, Hyp: hyp})
	if err != nil {
		panic(err)
	}
	shapes := [][]int{{1, 3, 4, 4, 7}} // N, na, ny, nx, nc+5
	maps := [][]float32{make([]float32, 3*4*4*7)}
	grads := [][]float32{make([]float32, len(maps[0]))}
	targets := []loss.Target{{Image: 0, Class: 1, XC: 0.5, YC: 0.5, W: 0.4, H: 0.5}}
	r, err := l.Compute(maps, shapes, targets, grads)
	if err != nil {
		panic(err)
	}
	fmt.Printf("lbox %.6f lobj %.6f lcls %.6f total %.6f\n", r.LBox, r.LObj, r.LCls, r.Total)
	// Output:
	// lbox 0.110994 lobj 0.020794 lcls 0.025993 total 0.157781
}
