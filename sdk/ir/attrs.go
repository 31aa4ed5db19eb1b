package ir

import "fmt"

// Attrs holds an operator's attributes, named as in ONNX. Values are int64,
// float64, string, []int64 or []float64; the getters also accept the other
// Go number types so hand-written graphs and decoded JSON both work.
type Attrs map[string]any

// Int returns an integer attribute or def when absent.
func (a Attrs) Int(name string, def int) int {
	v, ok := a[name]
	if !ok {
		return def
	}
	switch x := v.(type) {
	case int:
		return x
	case int64:
		return int(x)
	case int32:
		return int(x)
	case float64:
		return int(x)
	}
	return def
}

// Float returns a float attribute or def when absent.
func (a Attrs) Float(name string, def float64) float64 {
	v, ok := a[name]
	if !ok {
		return def
	}
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return def
}

// String returns a string attribute or def when absent.
func (a Attrs) String(name, def string) string {
	if v, ok := a[name].(string); ok {
		return v
	}
	return def
}

// Ints returns an integer-list attribute or def when absent.
func (a Attrs) Ints(name string, def []int) []int {
	v, ok := a[name]
	if !ok {
		return def
	}
	switch x := v.(type) {
	case []int:
		return x
	case []int64:
		out := make([]int, len(x))
		for i, e := range x {
			out[i] = int(e)
		}
		return out
	case []any:
		out := make([]int, len(x))
		for i, e := range x {
			switch n := e.(type) {
			case float64:
				out[i] = int(n)
			case int64:
				out[i] = int(n)
			case int:
				out[i] = n
			}
		}
		return out
	}
	return def
}

// Floats returns a float-list attribute or def when absent.
func (a Attrs) Floats(name string, def []float64) []float64 {
	v, ok := a[name]
	if !ok {
		return def
	}
	switch x := v.(type) {
	case []float64:
		return x
	case []float32:
		out := make([]float64, len(x))
		for i, e := range x {
			out[i] = float64(e)
		}
		return out
	case []any:
		out := make([]float64, len(x))
		for i, e := range x {
			if f, ok := e.(float64); ok {
				out[i] = f
			}
		}
		return out
	}
	return def
}

// Normalize converts every value to one of the canonical types (int64,
// float64, string, []int64, []float64) so that graphs compare equal after a
// round trip through the wire.
func (a Attrs) Normalize() error {
	for k, v := range a {
		switch x := v.(type) {
		case int64, float64, string, []int64, []float64:
		case int:
			a[k] = int64(x)
		case int32:
			a[k] = int64(x)
		case float32:
			a[k] = float64(x)
		case bool:
			if x {
				a[k] = int64(1)
			} else {
				a[k] = int64(0)
			}
		case []int:
			out := make([]int64, len(x))
			for i, e := range x {
				out[i] = int64(e)
			}
			a[k] = out
		case []float32:
			out := make([]float64, len(x))
			for i, e := range x {
				out[i] = float64(e)
			}
			a[k] = out
		default:
			return fmt.Errorf("attribute %q: unsupported type %T", k, v)
		}
	}
	return nil
}
