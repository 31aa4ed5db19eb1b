package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/onnx"
)

// Files Convert writes beside model.onnx.
const (
	engineFile = "model.engine"
	cacheFile  = "timing.cache"
	logFile    = "trtexec.log"
	scriptFile = "build-engine.sh"
)

type backend struct {
	// lookPath finds trtexec; tests point it elsewhere through PATH.
	lookPath func(string) (string, error)
}

func newBackend() *backend { return &backend{lookPath: exec.LookPath} }

// options are the backend's own request options; the rest go to sdk/onnx.
type options struct {
	workspaceMiB int
	build        bool
}

func splitOptions(in map[string]any) (options, map[string]any, error) {
	o := options{build: true}
	rest := map[string]any{}
	for k, v := range in {
		switch k {
		case "workspace_mib":
			n, ok := v.(int64)
			if !ok || n < 1 {
				return o, nil, fmt.Errorf("option workspace_mib: expected a positive integer, got %v", v)
			}
			o.workspaceMiB = int(n)
		case "build":
			b, ok := v.(bool)
			if !ok {
				return o, nil, fmt.Errorf("option build: expected true or false, got %v", v)
			}
			o.build = b
		case "imgsz", "batch":
			return o, nil, fmt.Errorf("option %s: the input shape comes from the model (yoloforge export --imgsz)", k)
		default:
			rest[k] = v
		}
	}
	return o, rest, nil
}

// trtexecArgs is the engine build's command line, paths relative to the
// output directory so that it can be run wherever the files are copied.
func trtexecArgs(input string, shape []int, prec deploy.Precision, o options) []string {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	args := []string{
		"--onnx=" + onnx.FileName,
		"--saveEngine=" + engineFile,
		"--timingCacheFile=" + cacheFile,
		"--shapes=" + input + ":" + strings.Join(dims, "x"),
	}
	if prec == deploy.FP16 {
		args = append(args, "--fp16")
	}
	if o.workspaceMiB > 0 {
		args = append(args, "--memPoolSize=workspace:"+strconv.Itoa(o.workspaceMiB))
	}
	return args
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (b *backend) Convert(ctx context.Context, req deploy.ConvertRequest) (deploy.ConvertResult, error) {
	o, onnxOpts, err := splitOptions(req.Options)
	if err != nil {
		return deploy.ConvertResult{}, fmt.Errorf("tensorrt: %w", err)
	}
	if req.Graph == nil || len(req.Graph.Inputs) != 1 {
		return deploy.ConvertResult{}, fmt.Errorf("tensorrt: expected a graph with one image input")
	}
	in := req.Graph.Inputs[0]
	if len(in.Shape) != 4 {
		return deploy.ConvertResult{}, fmt.Errorf("tensorrt: input %q has shape %v; expected a static (N, C, H, W) image", in.Name, in.Shape)
	}
	for _, d := range in.Shape {
		if d < 1 {
			return deploy.ConvertResult{}, fmt.Errorf("tensorrt: input %q has shape %v; expected a static (N, C, H, W) image", in.Name, in.Shape)
		}
	}
	info, _ := b.Describe(ctx)
	if err := deploy.CheckOps(info, req.Graph, req.Raw); err != nil {
		return deploy.ConvertResult{}, fmt.Errorf("tensorrt: %w", err)
	}
	// The ONNX writer keeps the static input shape the host fixed.
	oreq := req
	oreq.Options = onnxOpts
	res, err := onnx.Convert(ctx, oreq, "tensorrt-backend "+version)
	if err != nil {
		return deploy.ConvertResult{}, fmt.Errorf("tensorrt: %w", err)
	}
	args := trtexecArgs(in.Name, in.Shape, req.Precision, o)
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	command := "trtexec " + strings.Join(quoted, " ")
	script := "#!/bin/sh\n# Builds the TensorRT engine from model.onnx; run it where TensorRT is installed.\n" +
		"set -e\ncd \"$(dirname \"$0\")\"\n" + command + "\n"
	if err := deploy.WriteFile(filepath.Join(req.OutDir, scriptFile), []byte(script), 0o755); err != nil {
		return deploy.ConvertResult{}, fmt.Errorf("tensorrt: %w", err)
	}
	res.Files = append(res.Files, scriptFile)
	if !o.build {
		res.Messages = append(res.Messages, "engine build skipped (option build=false); to build it, run in "+req.OutDir+":\n  "+command)
		return res, nil
	}
	trtexec, err := b.lookPath("trtexec")
	if err != nil {
		res.Messages = append(res.Messages, "trtexec is not on the PATH, so no engine was built. On a machine with TensorRT, run in the directory holding these files:\n  "+command+"\n(or ./"+scriptFile+")")
		return res, nil
	}
	cmd := exec.CommandContext(ctx, trtexec, args...)
	cmd.Dir = req.OutDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	if err := deploy.WriteFile(filepath.Join(req.OutDir, logFile), out.Bytes(), 0o644); err != nil {
		return deploy.ConvertResult{}, fmt.Errorf("tensorrt: %w", err)
	}
	if runErr != nil {
		return deploy.ConvertResult{}, fmt.Errorf("tensorrt: %s failed (%v); its output is in %s, last lines:\n%s",
			command, runErr, filepath.Join(req.OutDir, logFile), lastLines(out.String(), 15))
	}
	if _, err := os.Stat(filepath.Join(req.OutDir, engineFile)); err != nil {
		return deploy.ConvertResult{}, fmt.Errorf("tensorrt: %s exited 0 but wrote no %s; see %s", command, engineFile, filepath.Join(req.OutDir, logFile))
	}
	res.Files = append(res.Files, engineFile, logFile)
	if _, err := os.Stat(filepath.Join(req.OutDir, cacheFile)); err == nil {
		res.Files = append(res.Files, cacheFile)
	}
	res.Messages = append(res.Messages, "built "+engineFile+" with "+trtexec+" "+strings.Join(quoted, " "))
	return res, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
