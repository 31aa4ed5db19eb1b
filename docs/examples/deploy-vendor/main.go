// Command yoloforge-plugin-deploy-acme is the example out-of-tree deploy
// backend of docs/vendor-backend.md. ACME's "runtime" is a plain Go
// interpreter of the operators it declares, and its model format is a
// JSON description (model.acme.json) beside a file of weights
// (model.acme.bin, float32 or float16). It is small on purpose: what a
// vendor replaces with its own converter and runtime is Convert and the
// Runner methods; the rest is the SDK.
//
// Testing switch: YOLOFORGE_VENDOR_PERTURB=<Op> adds 0.05 to the output of
// every node of that op, so that the conformance kit can be seen failing
// and naming the op.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/yoloforge/yoloforge/sdk/deploy"
)

func main() {
	deploy.Serve(&backend{perturb: os.Getenv("YOLOFORGE_VENDOR_PERTURB"), sessions: map[string]*model{}})
}

type backend struct {
	perturb string

	mu       sync.Mutex
	next     int
	sessions map[string]*model
}

func (b *backend) Describe(context.Context) (deploy.Info, error) {
	ops := slices.Sorted(func(yield func(string) bool) {
		for op := range kernels {
			if !yield(op) {
				return
			}
		}
	})
	return deploy.Info{
		Name:        "acme",
		Version:     "0.1.0",
		Description: "ACME example backend: own file format, pure-Go interpreter",
		Precisions:  []deploy.Precision{deploy.FP32, deploy.FP16},
		Ops:         ops,
		Formats:     []string{".acme.json", ".acme.bin"},
		CanInfer:    true,
	}, nil
}

func (b *backend) Convert(_ context.Context, req deploy.ConvertRequest) (deploy.ConvertResult, error) {
	info, _ := b.Describe(context.Background())
	if req.Precision == "" {
		req.Precision = deploy.FP32
	}
	if !info.Supports(req.Precision) {
		return deploy.ConvertResult{}, fmt.Errorf("precision %s is not supported (fp32, fp16 are)", req.Precision)
	}
	if err := deploy.CheckOps(info, req.Graph, req.Raw); err != nil {
		return deploy.ConvertResult{}, err
	}
	w, err := deploy.ReadWeights(req.WeightsFile)
	if err != nil {
		return deploy.ConvertResult{}, err
	}
	files, err := writeModel(req.OutDir, req.Graph, w, req.Precision, req.Raw)
	if err != nil {
		return deploy.ConvertResult{}, err
	}
	return deploy.ConvertResult{Files: files, Messages: []string{fmt.Sprintf("ACME model (%s) in %s", req.Precision, req.OutDir)}}, nil
}

func (b *backend) Load(_ context.Context, req deploy.LoadRequest) (string, error) {
	m, err := readModel(filepath.Join(req.Dir, modelFile))
	if err != nil {
		return "", err
	}
	m.perturb = b.perturb
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	id := fmt.Sprintf("acme-%d", b.next)
	b.sessions[id] = m
	return id, nil
}

func (b *backend) session(id string) (*model, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, ok := b.sessions[id]
	if !ok {
		return nil, fmt.Errorf("no session %q (was it loaded?)", id)
	}
	return m, nil
}

func (b *backend) Infer(_ context.Context, id string, inputs []deploy.Tensor) ([]deploy.Tensor, error) {
	m, err := b.session(id)
	if err != nil {
		return nil, err
	}
	return m.run(inputs)
}

func (b *backend) Time(_ context.Context, id string, inputs []deploy.Tensor, iterations int) (deploy.Timing, error) {
	m, err := b.session(id)
	if err != nil {
		return deploy.Timing{}, err
	}
	iterations = max(iterations, 1)
	ms := make([]float64, iterations)
	for i := range ms {
		start := time.Now()
		if _, err := m.run(inputs); err != nil {
			return deploy.Timing{}, err
		}
		ms[i] = float64(time.Since(start).Microseconds()) / 1000
	}
	sort.Float64s(ms)
	return deploy.Timing{Iterations: iterations, MedianMS: ms[len(ms)/2], MinMS: ms[0]}, nil
}

func (b *backend) Unload(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.sessions, id)
	return nil
}
