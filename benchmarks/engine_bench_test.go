package benchmarks

import (
	"fmt"
	"testing"

	"github.com/yoloforge/yoloforge/host/assemble"
	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/internal/fixtures"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// model builds a shipped reference model (configs/ has the same ones as
// plugin configs; the reference yaml keeps the benchmark free of plugin
// processes).
func model(b *testing.B, name string) *ir.Graph {
	b.Helper()
	path, err := fixtures.Path("reference", "models", name+".yaml")
	if err != nil {
		b.Skip("reference models not found: " + err.Error())
	}
	g, err := assemble.LoadReference(path, 10)
	if err != nil {
		b.Fatal(err)
	}
	return g
}

func benchPlan(b *testing.B, name string, batch, imgsz int, train, fuse bool, blas string) {
	g := model(b, name)
	e, err := engine.New(engine.Options{BLAS: blas})
	if err != nil {
		b.Fatal(err)
	}
	params := engine.NewParams(g)
	if err := params.Initialize(g, 0); err != nil {
		b.Fatal(err)
	}
	if fuse {
		if g, params, err = engine.FoldBatchNorm(g, params); err != nil {
			b.Fatal(err)
		}
	}
	// Inference packs its weights once, as `yoloforge bench engine` does.
	plan, err := e.Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{"images": {batch, 3, imgsz, imgsz}}, Train: train, FrozenWeights: !train})
	if err != nil {
		b.Fatal(err)
	}
	in, _ := plan.Input("images")
	for i := range in {
		in[i] = float32(i%251) / 251
	}
	if train {
		for _, o := range plan.Outputs() {
			if d, err := plan.OutputGrad(o); err == nil {
				for i := range d {
					d[i] = 1e-3
				}
			}
		}
	}
	step := func() {
		if err := plan.Forward(); err != nil {
			b.Fatal(err)
		}
		if train {
			if err := plan.Backward(); err != nil {
				b.Fatal(err)
			}
		}
	}
	step() // warm-up: first touch of every buffer
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkInferYolov5s320 is the inference comparison with ONNX Runtime
// (peers/ort): yolov5s, 320×320, batch 1.
func BenchmarkInferYolov5s320(b *testing.B) {
	for _, fuse := range []bool{false, true} {
		b.Run(fmt.Sprintf("fuse=%v", fuse), func(b *testing.B) { benchPlan(b, "yolov5s", 1, 320, false, fuse, "auto") })
	}
}

// BenchmarkTrainYolov5n320 is the training comparison with PyTorch
// (peers/torch): yolov5n, 320×320, batch 8, forward + backward.
func BenchmarkTrainYolov5n320(b *testing.B) {
	benchPlan(b, "yolov5n", 8, 320, true, false, "auto")
}
