package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// A one-Conv model (layer 0 of a YOLOv5) with its weights file.
func smallModel(dir string, op string) deploy.ConvertRequest {
	g := &ir.Graph{
		Inputs:  []ir.Input{{Name: "images", Shape: []int{1, 3, 64, 48}, Layer: -1}},
		Outputs: []string{"y"},
		Params: []ir.Param{
			{Name: "model.0.conv.weight", Shape: []int{4, 3, 3, 3}, Role: ir.RoleWeight},
			{Name: "model.0.conv.bias", Shape: []int{4}, Role: ir.RoleBias},
		},
		Nodes: []ir.Node{
			{Name: "model.0.conv", Op: "Conv", Inputs: []string{"images", "model.0.conv.weight", "model.0.conv.bias"}, Outputs: []string{"c"},
				Attrs: ir.Attrs{"kernel_shape": []int{3, 3}, "strides": []int{1, 1}, "pads": []int{1, 1, 1, 1}, "dilations": []int{1, 1}, "group": 1}},
			{Name: "model.0.act", Op: op, Inputs: []string{"c"}, Outputs: []string{"y"}},
		},
		Layers: []ir.Layer{{Index: 0, From: []int{-1}, N: 1, Module: "models.common.Conv", Outputs: []string{"y"}}},
	}
	w := deploy.Weights{
		"model.0.conv.weight": {Shape: []int{4, 3, 3, 3}, Data: make([]float32, 108)},
		"model.0.conv.bias":   {Shape: []int{4}, Data: []float32{1, 2, 3, 4}},
	}
	wf := filepath.Join(dir, "w.safetensors")
	Expect(deploy.WriteWeights(wf, w)).To(Succeed())
	out := filepath.Join(dir, "out")
	Expect(os.MkdirAll(out, 0o755)).To(Succeed())
	return deploy.ConvertRequest{Graph: g, WeightsFile: wf, OutDir: out, Precision: deploy.FP32}
}

var _ = Describe("the tensorrt backend", func() {
	It("without trtexec writes the ONNX, says so and prints the exact trtexec command", func(ctx context.Context) {
		b := &backend{lookPath: func(string) (string, error) { return "", errors.New("not found") }}
		req := smallModel(GinkgoT().TempDir(), "SiLU")
		res, err := b.Convert(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Files).To(Equal([]string{"model.onnx", "build-engine.sh"}))
		Expect(filepath.Join(req.OutDir, "model.onnx")).To(BeARegularFile())
		want := "trtexec --onnx=model.onnx --saveEngine=model.engine --timingCacheFile=timing.cache --shapes=images:1x3x64x48"
		Expect(strings.Join(res.Messages, "\n")).To(ContainSubstring("trtexec is not on the PATH"))
		Expect(strings.Join(res.Messages, "\n")).To(ContainSubstring("\n  " + want + "\n"))
		script, err := os.ReadFile(filepath.Join(req.OutDir, "build-engine.sh"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(script)).To(HaveSuffix("\n" + want + "\n"))
	})

	// The fake trtexec only records its arguments and creates the files a
	// real one would: this checks the command line the plugin runs and what
	// it reports, not TensorRT itself.
	It("with trtexec on the PATH runs it with the model's shape, precision and timing cache", func(ctx context.Context) {
		dir := GinkgoT().TempDir()
		fake := filepath.Join(dir, "trtexec")
		Expect(os.WriteFile(fake, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > args.txt\necho building\n: > model.engine\n: > timing.cache\n"), 0o755)).To(Succeed())
		GinkgoT().Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
		b := newBackend()
		req := smallModel(dir, "SiLU")
		req.Precision = deploy.FP16
		req.Options = map[string]any{"workspace_mib": int64(2048), "opset": int64(12)}
		res, err := b.Convert(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		args, err := os.ReadFile(filepath.Join(req.OutDir, "args.txt"))
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Split(strings.TrimSpace(string(args)), "\n")).To(Equal([]string{
			"--onnx=model.onnx", "--saveEngine=model.engine", "--timingCacheFile=timing.cache",
			"--shapes=images:1x3x64x48", "--fp16", "--memPoolSize=workspace:2048"}))
		Expect(res.Files).To(Equal([]string{"model.onnx", "build-engine.sh", "model.engine", "trtexec.log", "timing.cache"}))
		log, err := os.ReadFile(filepath.Join(req.OutDir, "trtexec.log"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(log)).To(Equal("building\n"))
		Expect(res.Messages[len(res.Messages)-1]).To(HavePrefix("built model.engine with " + fake))
	})

	It("reports a failing trtexec with its output", func(ctx context.Context) {
		dir := GinkgoT().TempDir()
		fake := filepath.Join(dir, "trtexec")
		Expect(os.WriteFile(fake, []byte("#!/bin/sh\necho 'ERROR: unsupported op' >&2\nexit 3\n"), 0o755)).To(Succeed())
		b := &backend{lookPath: func(string) (string, error) { return fake, nil }}
		_, err := b.Convert(ctx, smallModel(dir, "SiLU"))
		Expect(err).To(MatchError(And(ContainSubstring("exit status 3"), ContainSubstring("ERROR: unsupported op"))))
	})

	It("refuses an op it cannot write, naming the op and the node, and a non-image input", func(ctx context.Context) {
		b := &backend{lookPath: func(string) (string, error) { return "", errors.New("not found") }}
		_, err := b.Convert(ctx, smallModel(GinkgoT().TempDir(), "FancyOp"))
		Expect(err).To(MatchError(ContainSubstring("does not support op FancyOp (node model.0.act)")))

		req := smallModel(GinkgoT().TempDir(), "SiLU")
		req.Graph.Inputs[0].Shape = []int{1, 3, -1, -1}
		_, err = b.Convert(ctx, req)
		Expect(err).To(MatchError(ContainSubstring("expected a static (N, C, H, W) image")))

		req.Graph.Inputs[0].Shape = []int{1, 3, 64, 48}
		req.Options = map[string]any{"imgsz": int64(320)}
		_, err = b.Convert(ctx, req)
		Expect(err).To(MatchError(ContainSubstring("option imgsz")))
	})
})
