// Command deployecho is a small deploy backend for the host's tests: Convert
// writes the graph's node count and the sum of the weights it read from the
// weights file; Infer returns every input doubled plus one output of
// "outputs" floats (an option of Load), so tests can move tensors larger
// than one gRPC message in both directions.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/yoloforge/yoloforge/sdk/deploy"
)

func main() { deploy.Serve(&backend{sessions: map[string]int{}}) }

type backend struct {
	mu       sync.Mutex
	sessions map[string]int
}

func (*backend) Describe(context.Context) (deploy.Info, error) {
	return deploy.Info{Name: "deployecho", Version: "0.0.1", Description: "test backend",
		Precisions: []deploy.Precision{deploy.FP32}, Ops: []string{"Conv", "SiLU"}, Formats: []string{".txt"}, CanInfer: true}, nil
}

func (*backend) Convert(_ context.Context, req deploy.ConvertRequest) (deploy.ConvertResult, error) {
	for _, n := range req.Graph.Nodes {
		if n.Op != "Conv" && n.Op != "SiLU" {
			return deploy.ConvertResult{}, fmt.Errorf("node %s: op %s is not supported", n.Name, n.Op)
		}
	}
	w, err := deploy.ReadWeights(req.WeightsFile)
	if err != nil {
		return deploy.ConvertResult{}, err
	}
	var sum float64
	for _, t := range w {
		for _, v := range t.Data {
			sum += float64(v)
		}
	}
	out := filepath.Join(req.OutDir, "model.txt")
	txt := fmt.Sprintf("nodes %d\nsum %g\nopset %v\n", len(req.Graph.Nodes), sum, req.Options["opset"])
	if err := os.WriteFile(out, []byte(txt), 0o644); err != nil {
		return deploy.ConvertResult{}, err
	}
	return deploy.ConvertResult{Files: []string{out}, Messages: []string{"wrote " + out}}, nil
}

func (b *backend) Load(_ context.Context, req deploy.LoadRequest) (string, error) {
	if _, err := os.Stat(filepath.Join(req.Dir, "model.txt")); err != nil {
		return "", err
	}
	n := 0
	for _, f := range req.Files {
		if v, ok := strings.CutPrefix(f, "outputs="); ok {
			n, _ = strconv.Atoi(v)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	id := fmt.Sprintf("s%d", len(b.sessions)+1)
	b.sessions[id] = n
	return id, nil
}

func (b *backend) Infer(_ context.Context, session string, in []deploy.Tensor) ([]deploy.Tensor, error) {
	b.mu.Lock()
	n, ok := b.sessions[session]
	b.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no session %q", session)
	}
	var out []deploy.Tensor
	for _, t := range in {
		d := make([]float32, len(t.Data))
		for i, v := range t.Data {
			d[i] = 2 * v
		}
		out = append(out, deploy.Tensor{Name: t.Name + "_x2", Shape: t.Shape, Data: d})
	}
	big := make([]float32, n)
	for i := range big {
		big[i] = float32(i)
	}
	return append(out, deploy.Tensor{Name: "ramp", Shape: []int{n}, Data: big}), nil
}

func (b *backend) Time(ctx context.Context, session string, in []deploy.Tensor, iterations int) (deploy.Timing, error) {
	if _, err := b.Infer(ctx, session, in); err != nil {
		return deploy.Timing{}, err
	}
	return deploy.Timing{Iterations: iterations, MedianMS: 1.5, MinMS: 1}, nil
}

func (b *backend) Unload(_ context.Context, session string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.sessions, session)
	return nil
}
