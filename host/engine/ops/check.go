package ops

import (
	"errors"
	"fmt"
)

// maxElems bounds every tensor size, so that products of user dimensions can
// never overflow int.
const maxElems = 1 << 46

// ErrShape is wrapped by every error about inconsistent shapes or lengths.
var ErrShape = errors.New("bad shape")

func shapeErr(op, format string, args ...any) error {
	return fmt.Errorf("ops.%s: %w: %s", op, ErrShape, fmt.Sprintf(format, args...))
}

// NCHW is the shape of a 4-D activation tensor (batch, channels, height,
// width). Lower-rank tensors are described with leading 1s.
type NCHW struct{ N, C, H, W int }

// Len is the number of elements, N·C·H·W.
func (s NCHW) Len() int { return s.N * s.C * s.H * s.W }

func (s NCHW) String() string { return fmt.Sprintf("(%d,%d,%d,%d)", s.N, s.C, s.H, s.W) }

func (s NCHW) dims() [4]int { return [4]int{s.N, s.C, s.H, s.W} }

// check validates that the dimensions are non-negative and that their
// product stays within maxElems.
func (s NCHW) check(op, name string) error {
	if _, ok := product(s.N, s.C, s.H, s.W); !ok {
		return shapeErr(op, "%s shape %v is negative or too large", name, s)
	}
	return nil
}

// product multiplies dimensions, reporting false for a negative dimension or
// when the product of the non-zero dimensions exceeds maxElems (so that no
// partial product of an empty tensor's dimensions can overflow either).
func product(dims ...int) (int, bool) {
	p, zero := 1, false
	for _, d := range dims {
		switch {
		case d < 0:
			return 0, false
		case d == 0:
			zero = true
		case p > maxElems/d:
			return 0, false
		default:
			p *= d
		}
	}
	if zero {
		return 0, true
	}
	return p, true
}

func checkLen(op, name string, s []float32, want int) error {
	if len(s) != want {
		return shapeErr(op, "len(%s) = %d, want %d", name, len(s), want)
	}
	return nil
}

// checkOpt is checkLen for an optional buffer: nil is accepted.
func checkOpt(op, name string, s []float32, want int) error {
	if s == nil {
		return nil
	}
	return checkLen(op, name, s, want)
}

func checkWorkers(op string, workers int) error {
	if workers < 0 {
		return fmt.Errorf("ops.%s: workers = %d, want >= 0", op, workers)
	}
	return nil
}
