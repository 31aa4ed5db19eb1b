package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/yoloforge/yoloforge/plugins/deploy/onnxruntime/ort"
	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/onnx"
)

const version = "1.0.0"

// defaultThreads is the intra-op thread count when a Load names none.
const defaultThreads = 2

// backend loads the runtime on first use, so Describe and Convert work
// without it and Describe can say why inference is unavailable.
type backend struct {
	// runtime returns the loaded runtime, loading it on the first call.
	runtime func() (*ort.Runtime, error)

	mu       sync.Mutex
	sessions map[string]*ort.Session
	next     int
}

// newBackend uses open to load the runtime; nil loads it with ort.Open("").
func newBackend(open func() (*ort.Runtime, error)) *backend {
	if open == nil {
		open = func() (*ort.Runtime, error) { return ort.Open("") }
	}
	return &backend{runtime: sync.OnceValues(open), sessions: map[string]*ort.Session{}}
}

func (b *backend) Describe(context.Context) (deploy.Info, error) {
	info := deploy.Info{
		Name:        "onnxruntime",
		Version:     version,
		Description: "ONNX export run with ONNX Runtime (CPU, C API loaded at run time)",
		Precisions:  []deploy.Precision{deploy.FP32, deploy.FP16},
		Ops:         append([]string(nil), onnx.SupportedOps...),
		Formats:     []string{".onnx"},
	}
	// The description stays fixed (it is part of the manifest); whether the
	// library loads is what CanInfer and Reason say.
	if _, err := b.runtime(); err != nil {
		info.Reason = err.Error()
	} else {
		info.CanInfer = true
	}
	return info, nil
}

func (b *backend) Convert(ctx context.Context, req deploy.ConvertRequest) (deploy.ConvertResult, error) {
	return onnx.Convert(ctx, req, "onnxruntime-backend "+version)
}

// Load opens Dir/Files[0] (model.onnx when Files is empty).
func (b *backend) Load(_ context.Context, req deploy.LoadRequest) (string, error) {
	rt, err := b.runtime()
	if err != nil {
		return "", err
	}
	name := onnx.FileName
	if len(req.Files) > 0 {
		name = req.Files[0]
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(req.Dir, name)
	}
	model, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("onnxruntime load: %w", err)
	}
	threads := req.Threads
	if threads <= 0 {
		threads = defaultThreads
	}
	s, err := rt.NewSession(model, threads)
	if err != nil {
		return "", fmt.Errorf("onnxruntime load %s: %w", path, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	id := fmt.Sprintf("ort-%d", b.next)
	b.sessions[id] = s
	return id, nil
}

func (b *backend) session(id string) (*ort.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.sessions[id]
	if !ok {
		return nil, fmt.Errorf("onnxruntime: no session %q (loaded: %d)", id, len(b.sessions))
	}
	return s, nil
}

func toORT(in []deploy.Tensor) []ort.Tensor {
	out := make([]ort.Tensor, len(in))
	for i, t := range in {
		out[i] = ort.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data}
	}
	return out
}

func (b *backend) Infer(_ context.Context, id string, inputs []deploy.Tensor) ([]deploy.Tensor, error) {
	s, err := b.session(id)
	if err != nil {
		return nil, err
	}
	outs, err := s.Run(toORT(inputs))
	if err != nil {
		return nil, err
	}
	res := make([]deploy.Tensor, len(outs))
	for i, t := range outs {
		res[i] = deploy.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data}
	}
	return res, nil
}

// Time runs one warm-up inference, then iterations timed ones.
func (b *backend) Time(ctx context.Context, id string, inputs []deploy.Tensor, iterations int) (deploy.Timing, error) {
	if iterations < 1 {
		return deploy.Timing{}, fmt.Errorf("onnxruntime time: iterations must be at least 1, got %d", iterations)
	}
	s, err := b.session(id)
	if err != nil {
		return deploy.Timing{}, err
	}
	in := toORT(inputs)
	if _, err := s.Run(in); err != nil {
		return deploy.Timing{}, err
	}
	ms := make([]float64, iterations)
	for i := range ms {
		if err := ctx.Err(); err != nil {
			return deploy.Timing{}, err
		}
		t0 := time.Now()
		if _, err := s.Run(in); err != nil {
			return deploy.Timing{}, err
		}
		ms[i] = float64(time.Since(t0).Microseconds()) / 1000
	}
	sort.Float64s(ms)
	med := ms[len(ms)/2]
	if len(ms)%2 == 0 {
		med = (ms[len(ms)/2-1] + ms[len(ms)/2]) / 2
	}
	return deploy.Timing{Iterations: iterations, MedianMS: med, MinMS: ms[0]}, nil
}

func (b *backend) Unload(_ context.Context, id string) error {
	b.mu.Lock()
	s, ok := b.sessions[id]
	delete(b.sessions, id)
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("onnxruntime: no session %q", id)
	}
	s.Close()
	return nil
}
