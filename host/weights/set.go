// Package weights holds named float32 tensor sets and moves them between
// files: ONNX initializers, the golden fixture's raw .bin + .json pair and
// safetensors (read and atomic write, with string metadata). Check compares
// a set with the parameters a model graph expects and lists every mismatch.
//
// Every reader validates its input before allocating for it, so truncated,
// corrupt or malicious files give an error naming the file and tensor, never
// a panic or an allocation larger than the file.
package weights

import (
	"errors"
	"fmt"
	"slices"

	"github.com/yoloforge/yoloforge/sdk/safetensors"
)

// Tensor is a dense float32 tensor in row-major order. A scalar has an empty
// Shape and one element.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Numel is the number of elements the shape describes.
func (t Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Set is an ordered collection of named tensors. The zero value is an empty
// set ready to use.
type Set struct {
	// Source is the file the set was loaded from; errors about the set
	// name it. Empty for a set built in memory.
	Source string

	names  []string
	byName map[string]Tensor
}

// NewSet returns an empty set that reports source in its errors.
func NewSet(source string) *Set { return &Set{Source: source} }

// Put adds a tensor, or replaces the one with that name keeping its
// position. The set keeps the slices, it does not copy them.
func (s *Set) Put(name string, t Tensor) error {
	if name == "" {
		return errors.New("tensor without a name")
	}
	if err := checkShape(t.Shape, len(t.Data)); err != nil {
		return fmt.Errorf("tensor %q: %w", name, err)
	}
	if s.byName == nil {
		s.byName = map[string]Tensor{}
	}
	if _, ok := s.byName[name]; !ok {
		s.names = append(s.names, name)
	}
	s.byName[name] = t
	return nil
}

// Get returns the tensor called name.
func (s *Set) Get(name string) (Tensor, bool) {
	if s == nil {
		return Tensor{}, false
	}
	t, ok := s.byName[name]
	return t, ok
}

// Names returns the tensor names in order (a copy).
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.names)
}

// Len is the number of tensors.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.names)
}

// checkShape verifies that shape is valid and holds exactly n elements.
func checkShape(shape []int, n int) error { return safetensors.CheckShape(shape, n) }
