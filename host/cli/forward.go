package cli

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/host/weights"
	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// readWeights reads a weights file by its kind: an ONNX export, a
// YOLOForge checkpoint (safetensors), or a raw dump's JSON index.
func readWeights(path string) (*weights.Set, map[string]string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".onnx":
		s, err := weights.FromONNX(path)
		return s, nil, err
	case ".safetensors":
		return weights.Load(path)
	case ".json":
		// The index names its data file, which lies beside it.
		var index struct {
			File string `json:"file"`
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", path, err)
		}
		if err := json.Unmarshal(b, &index); err != nil || index.File == "" {
			return nil, nil, fmt.Errorf("read %s: expected a raw weights index with a \"file\" entry", path)
		}
		bin := filepath.Join(filepath.Dir(path), filepath.Base(index.File))
		s, err := weights.LoadRaw(bin, path)
		return s, nil, err
	}
	return nil, nil, fmt.Errorf("weights %s: unknown format; expected .onnx, .safetensors or a raw dump's .json index", path)
}

// loadModelWeights puts the file's tensors into g's parameters. A file
// written from a BatchNorm-folded model (the reference's export.py default)
// is loaded into the folded graph instead; fuse folds an unfolded model.
func loadModelWeights(g *ir.Graph, path string, fuse bool) (*ir.Graph, *engine.Params, error) {
	set, _, err := readWeights(path)
	if err != nil {
		return nil, nil, err
	}
	tensors := map[string]engine.Tensor{}
	for _, name := range set.Names() {
		t, _ := set.Get(name)
		tensors[name] = engine.Tensor{Shape: t.Shape, Data: t.Data}
	}
	params := engine.NewParams(g)
	if err := params.Initialize(g, 0); err != nil {
		return nil, nil, err
	}
	err = params.Load(tensors, weightsIgnore)
	if err == nil {
		if fuse {
			return engine.FoldBatchNorm(g, params)
		}
		return g, params, nil
	}
	fg, fp, ferr := engine.FoldBatchNorm(g, params)
	if ferr == nil && fp.Load(tensors, weightsIgnore) == nil {
		return fg, fp, nil
	}
	return nil, nil, fmt.Errorf("weights %s do not fit the model: %w", path, err)
}

func parseShape(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || d < 1 {
			return nil, fmt.Errorf("--shape %q: expected positive integers separated by commas, like 1,3,320,320", s)
		}
		out = append(out, d)
	}
	return out, nil
}

func readFloat32File(path string, want int) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read input: %w", err)
	}
	if len(b) != 4*want {
		return nil, fmt.Errorf("input %s has %d bytes; the shape needs %d float32 values (%d bytes)", path, len(b), want, 4*want)
	}
	out := make([]float32, want)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

func float32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func (a *App) modelForward() *cobra.Command {
	var mf modelFlags
	var ef engineFlags
	var weightsPath, input, shape, out string
	var fuse bool
	cmd := &cobra.Command{
		Use:   "forward",
		Short: "Run the model on a raw float32 input and write its outputs as raw float32 files",
		Long: "Runs the model in eval mode on IN.f32 (little-endian float32, C order, of --shape) and writes\n" +
			"output.f32 (decoded detections, (N, rows, nc+5)), one raw_pK.f32 per detection level\n" +
			"((N, na, ny, nx, nc+5)) and shapes.json into --out.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if weightsPath == "" || input == "" || out == "" {
				return fmt.Errorf("--weights, --input and --out are required")
			}
			dims, err := parseShape(shape)
			if err != nil {
				return err
			}
			g, err := a.buildModel(cmd, &mf)
			if err != nil {
				return err
			}
			g, params, err := loadModelWeights(g, weightsPath, fuse)
			if err != nil {
				return err
			}
			e, err := ef.open()
			if err != nil {
				return err
			}
			plan, err := e.Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{g.Inputs[0].Name: dims}, FrozenWeights: true})
			if err != nil {
				return err
			}
			buf, _ := plan.Input(g.Inputs[0].Name)
			data, err := readFloat32File(input, len(buf))
			if err != nil {
				return err
			}
			copy(buf, data)
			if err := plan.Forward(); err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", out, err)
			}
			shapes := map[string][]int{}
			for _, name := range plan.Outputs() {
				v, _ := plan.Output(name)
				s, _ := plan.Shape(name)
				shapes[name] = s
				if err := deploy.WriteFile(filepath.Join(out, name+".f32"), float32Bytes(v), 0o644); err != nil {
					return err
				}
			}
			js, err := jsonIndent(shapes)
			if err != nil {
				return err
			}
			if err := deploy.WriteFile(filepath.Join(out, "shapes.json"), js, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "wrote %d outputs and shapes.json to %s\n", len(plan.Outputs()), out)
			return nil
		},
	}
	mf.register(cmd)
	ef.register(cmd)
	cmd.Flags().StringVar(&weightsPath, "weights", "", "weights: .onnx export, .safetensors checkpoint or raw dump .json index")
	cmd.Flags().StringVar(&input, "input", "", "input tensor, raw little-endian float32")
	cmd.Flags().StringVar(&shape, "shape", "1,3,640,640", "input shape N,C,H,W")
	cmd.Flags().StringVar(&out, "out", "", "output directory")
	cmd.Flags().BoolVar(&fuse, "fuse", false, "fold BatchNorm into the convolutions before running")
	return cmd
}

func (a *App) modelConvert() *cobra.Command {
	var mf modelFlags
	var weightsPath, out string
	cmd := &cobra.Command{
		Use:   "convert",
		Short: "Check weights (ONNX export, raw dump) against a model and save them as a YOLOForge checkpoint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if weightsPath == "" || out == "" {
				return fmt.Errorf("--weights and --out are required")
			}
			built, err := a.buildModel(cmd, &mf)
			if err != nil {
				return err
			}
			g, params, err := loadModelWeights(built, weightsPath, false)
			if err != nil {
				return err
			}
			// loadModelWeights hands back the built graph unless the
			// weights only fit its BatchNorm-folded form.
			meta := map[string]string{"format": "yoloforge-checkpoint", "config": mf.cfg, "source": weightsPath,
				"fused": strconv.FormatBool(g != built)}
			n, err := saveParams(out, params, meta)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "saved %d tensors to %s\n", n, out)
			return nil
		},
	}
	mf.register(cmd)
	cmd.Flags().StringVar(&weightsPath, "weights", "", "weights to convert")
	cmd.Flags().StringVar(&out, "out", "", "checkpoint to write (.safetensors)")
	return cmd
}
