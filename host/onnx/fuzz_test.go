package onnx_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/yoloforge/yoloforge/host/onnx"
)

// FuzzRead checks that no input makes Read panic or return a tensor whose
// data disagrees with its shape, and that what it allocates for tensors is
// bounded by the input size. `go test` runs the seeds in
// testdata/fuzz/FuzzRead; `go test -fuzz FuzzRead ./host/onnx` explores.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"testdata/tiny.onnx", "testdata/external.onnx"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := onnx.Read(bytes.NewReader(data))
		if err != nil {
			if m != nil {
				t.Fatal("model returned with an error")
			}
			return
		}
		var elems int
		checkGraph(t, m.Graph, &elems)
		// Every element costs at least one input byte (raw BOOL/INT8) or a
		// packed varint; an empty tensor costs nothing but allocates nothing.
		if elems > len(data) {
			t.Fatalf("%d tensor elements from %d input bytes", elems, len(data))
		}
	})
}

func checkGraph(t *testing.T, g *onnx.Graph, elems *int) {
	if g == nil {
		t.Fatal("nil graph")
	}
	if len(g.Initializers) != len(g.InitializerNames) {
		t.Fatalf("%d initializers, %d names", len(g.Initializers), len(g.InitializerNames))
	}
	for _, name := range g.InitializerNames {
		checkTensor(t, g.Initializers[name], elems)
	}
	for _, n := range g.Nodes {
		for _, a := range n.Attrs {
			if a.Tensor != nil {
				checkTensor(t, a.Tensor, elems)
			}
			for _, tt := range a.Tensors {
				checkTensor(t, tt, elems)
			}
			if a.Graph != nil {
				checkGraph(t, a.Graph, elems)
			}
			for _, sg := range a.Graphs {
				checkGraph(t, sg, elems)
			}
		}
	}
}

func checkTensor(t *testing.T, x *onnx.Tensor, elems *int) {
	if x == nil {
		t.Fatal("nil tensor")
	}
	for _, d := range x.Shape {
		if d < 0 {
			t.Fatalf("tensor %q: shape %v", x.Name, x.Shape)
		}
	}
	got := len(x.Int64)
	if x.IsFloat() {
		got = len(x.Data)
		if x.Int64 != nil {
			t.Fatalf("float tensor %q has Int64", x.Name)
		}
	} else if x.Data != nil {
		t.Fatalf("integer tensor %q has Data", x.Name)
	}
	if got != x.Numel() {
		t.Fatalf("tensor %q: shape %v but %d elements", x.Name, x.Shape, got)
	}
	*elems += got
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzRead. It only runs with
// YOLOFORGE_WRITE_FUZZ_SEEDS=1; the seeds are committed.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("YOLOFORGE_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set YOLOFORGE_WRITE_FUZZ_SEEDS=1 to regenerate the seed corpus")
	}
	seeds := map[string][]byte{}
	tiny, err := os.ReadFile("testdata/tiny.onnx")
	if err != nil {
		t.Fatal(err)
	}
	seeds["tiny"] = tiny
	for _, cut := range []int{1, 7, 40, 200, len(tiny) / 2, len(tiny) - 40, len(tiny) - 1} {
		seeds[fmt.Sprintf("tiny-cut-%d", cut)] = tiny[:cut]
	}
	ext, err := os.ReadFile("testdata/external.onnx")
	if err != nil {
		t.Fatal(err)
	}
	seeds["external"] = ext
	for name, c := range malformed() {
		seeds["malformed-"+name] = c.data
	}
	// The head of a real export: deep nesting of graph, nodes, attributes.
	if g, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "fixtures", "golden", "yolov5n-320.onnx")); err == nil {
		seeds["yolov5n-head-3000"] = g[:3000]
	}
	names := make([]string, 0, len(seeds))
	for n := range seeds {
		names = append(names, n)
	}
	sort.Strings(names)
	dir := filepath.Join("testdata", "fuzz", "FuzzRead")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		file := filepath.Join(dir, "seed-"+sanitize(n))
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seeds[n])
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sanitize(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}
