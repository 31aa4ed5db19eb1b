package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/host/weights"
	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// deployModel builds the model of mf for deployment: weights loaded (or,
// with randomInit, drawn from seed), BatchNorm folded into the
// convolutions as the reference's export does, and the image input fixed
// to 1x3ximgszximgsz.
func (a *App) deployModel(cmd *cobra.Command, mf *modelFlags, weightsPath string, randomInit bool, seed uint64, imgsz int) (*ir.Graph, *engine.Params, error) {
	if weightsPath == "" && !randomInit {
		return nil, nil, fmt.Errorf("--weights is required (or --random-init to export seeded random weights, for testing a toolchain)")
	}
	if weightsPath != "" && randomInit {
		return nil, nil, fmt.Errorf("--weights and --random-init exclude each other")
	}
	if weightsPath != "" {
		if _, err := os.Stat(weightsPath); err != nil {
			return nil, nil, fmt.Errorf("weights file: %w", err)
		}
	}
	g, err := a.buildModel(cmd, mf)
	if err != nil {
		return nil, nil, err
	}
	if len(g.Inputs) != 1 || len(g.Inputs[0].Shape) != 4 {
		return nil, nil, fmt.Errorf("model %s: expected one image input (N, C, H, W), got %v", mf.cfg, g.Inputs)
	}
	stride := 32
	if s := g.Strides(); len(s) > 0 {
		stride = slices.Max(s)
	}
	if imgsz < stride || imgsz%stride != 0 {
		return nil, nil, fmt.Errorf("--imgsz %d must be a positive multiple of the model's largest stride %d", imgsz, stride)
	}
	var params *engine.Params
	if randomInit {
		params = engine.NewParams(g)
		if err := params.Initialize(g, seed); err != nil {
			return nil, nil, err
		}
		if g, params, err = engine.FoldBatchNorm(g, params); err != nil {
			return nil, nil, fmt.Errorf("fold BatchNorm: %w", err)
		}
	} else if g, params, err = loadModelWeights(g, weightsPath, true); err != nil {
		return nil, nil, err
	}
	in := g.Inputs[0]
	c := in.Shape[1]
	if c < 1 {
		c = 3
	}
	g.Inputs = []ir.Input{{Name: in.Name, Shape: []int{1, c, imgsz, imgsz}, Stride: in.Stride, Layer: in.Layer}}
	if _, err := g.InferShapes(ir.Shapes{in.Name: g.Inputs[0].Shape}); err != nil {
		return nil, nil, fmt.Errorf("model at %dx%d: %w", imgsz, imgsz, err)
	}
	return g, params, nil
}

// writeDeployWeights writes params as the safetensors file a backend's
// ConvertRequest names.
func writeDeployWeights(path string, params *engine.Params) error {
	_, err := saveParams(path, params, map[string]string{"format": "yoloforge-deploy-weights", "fused": "true"})
	return err
}

// saveParams writes params as a safetensors file with meta and returns how
// many tensors it holds.
func saveParams(path string, params *engine.Params, meta map[string]string) (int, error) {
	set := weights.NewSet(path)
	for _, name := range params.Names() {
		p, _ := params.Get(name)
		if err := set.Put(name, weights.Tensor{Shape: p.Shape, Data: p.Data}); err != nil {
			return 0, err
		}
	}
	return set.Len(), weights.Save(path, set, meta)
}

// checkWritableDir creates dir when missing and proves a file can be
// created in it.
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".yoloforge-write-check-*")
	if err != nil {
		return fmt.Errorf("output directory %s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// parseOptions turns --option key=value flags into backend options:
// integers, floats and booleans are typed, anything else is a string.
func parseOptions(kvs []string) (map[string]any, error) {
	out := map[string]any{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--option %q: expected key=value", kv)
		}
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = i
		} else if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = f
		} else if b, err := strconv.ParseBool(v); err == nil {
			out[k] = b
		} else {
			out[k] = v
		}
	}
	return out, nil
}

type exportJSON struct {
	Backend    string           `json:"backend"`
	Version    string           `json:"version"`
	Config     string           `json:"config"`
	Precision  deploy.Precision `json:"precision"`
	InputShape []int            `json:"input_shape"`
	Raw        bool             `json:"raw"`
	Outputs    []string         `json:"outputs"`
	Files      []string         `json:"files"`
	Messages   []string         `json:"messages,omitempty"`
}

func (a *App) exportCommand() *cobra.Command {
	var mf modelFlags
	var weightsPath, backend, out string
	var fp16, raw, randomInit, asJSON bool
	var imgsz, opset int
	var seed uint64
	var options []string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Convert a model with a deploy backend (onnx, ncnn, tensorrt, ...) into files in --out",
		Long: "Builds the model, loads --weights (a checkpoint, ONNX export or raw dump), folds BatchNorm into the\n" +
			"convolutions, fixes the input to 1x3xNxN (--imgsz, default 640 as the reference's export.py) and hands\n" +
			"graph and weights to the deploy backend plugin yoloforge-plugin-deploy-<backend>. Every op of the model\n" +
			"must be one the backend declares. --raw keeps the raw head maps as outputs instead of the decoded\n" +
			"detections. --random-init exports seeded random weights instead of --weights (to test a toolchain).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if backend == "" || out == "" {
				return fmt.Errorf("--backend and --out are required")
			}
			opts, err := parseOptions(options)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("opset") {
				opts["opset"] = int64(opset)
			}
			prec := deploy.FP32
			if fp16 {
				prec = deploy.FP16
			}
			if err := checkWritableDir(out); err != nil {
				return err
			}
			absOut, err := filepath.Abs(out)
			if err != nil {
				return err
			}
			g, params, err := a.deployModel(cmd, &mf, weightsPath, randomInit, seed, imgsz)
			if err != nil {
				return err
			}
			cat, err := a.catalog(cmd.Context())
			if err != nil {
				return err
			}
			be, err := a.deployBackend(cmd.Context(), cat, backend)
			if err != nil {
				return err
			}
			info := be.Info()
			if !info.Supports(prec) {
				return fmt.Errorf("backend %q does not support %s (it supports %v)", info.Name, prec, info.Precisions)
			}
			if err := deploy.CheckOps(info, g, raw); err != nil {
				return fmt.Errorf("export %s: %w", mf.cfg, err)
			}
			tmp, err := os.MkdirTemp("", "yoloforge-export-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			wfile := filepath.Join(tmp, "weights.safetensors")
			if err := writeDeployWeights(wfile, params); err != nil {
				return err
			}
			res, err := be.Convert(cmd.Context(), deploy.ConvertRequest{Graph: g, WeightsFile: wfile, OutDir: absOut,
				Precision: prec, Raw: raw, Options: opts})
			if err != nil {
				return err
			}
			for i, f := range res.Files { // backends may answer relative to OutDir
				if !filepath.IsAbs(f) {
					res.Files[i] = filepath.Join(absOut, f)
				}
			}
			if asJSON {
				return writeJSON(a.Stdout, exportJSON{Backend: info.Name, Version: info.Version, Config: mf.cfg, Precision: prec,
					InputShape: g.Inputs[0].Shape, Raw: raw, Outputs: deploy.Outputs(g, raw), Files: res.Files, Messages: res.Messages})
			}
			for _, m := range res.Messages {
				fmt.Fprintln(a.Stdout, m)
			}
			fmt.Fprintf(a.Stdout, "exported %s (%s, input %v, outputs %s) with backend %s %s:\n", mf.cfg, prec,
				g.Inputs[0].Shape, strings.Join(deploy.Outputs(g, raw), ", "), info.Name, info.Version)
			for _, f := range res.Files {
				fmt.Fprintf(a.Stdout, "  %s\n", f)
			}
			return nil
		},
	}
	mf.register(cmd)
	cmd.Flags().StringVar(&weightsPath, "weights", "", "weights: a YOLOForge checkpoint (.safetensors), an ONNX export or a raw dump's .json index")
	cmd.Flags().BoolVar(&randomInit, "random-init", false, "export seeded random weights instead of --weights (for testing a toolchain)")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of --random-init")
	cmd.Flags().StringVar(&backend, "backend", "", "deploy backend: onnx, ncnn, tensorrt, or any yoloforge-plugin-deploy-<name> found (see `yoloforge backends list`)")
	cmd.Flags().StringVar(&out, "out", "", "directory to write into (created when missing)")
	cmd.Flags().BoolVar(&fp16, "fp16", false, "half-precision export, where the backend supports it")
	cmd.Flags().IntVar(&imgsz, "imgsz", 640, "square input size (a multiple of the largest stride)")
	cmd.Flags().BoolVar(&raw, "raw", false, "outputs are the raw head maps, without the decode")
	cmd.Flags().IntVar(&opset, "opset", 13, "ONNX opset for ONNX-based backends (12 or 13); same as --option opset=N")
	cmd.Flags().StringArrayVar(&options, "option", nil, "backend-specific option key=value (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what was written as JSON")
	return cmd
}
