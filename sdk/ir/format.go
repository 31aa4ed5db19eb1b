package ir

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// None is printed as Python's None by FormatArgs.
type None struct{}

// PyStr is printed quoted, as Python's repr of a str.
type PyStr string

// FormatArgs renders arguments the way the reference prints a layer's args
// (Python's repr of a list): ints plain, floats with a decimal point,
// booleans as True/False, strings quoted, nested lists bracketed.
func FormatArgs(args ...any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = formatArg(a)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func formatArg(a any) string {
	switch v := a.(type) {
	case nil, None:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatFloat(v, 'f', 1, 64)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case PyStr:
		return "'" + string(v) + "'"
	case string:
		return v
	case []int:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = e
		}
		return FormatArgs(s...)
	case []float64:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = e
		}
		return FormatArgs(s...)
	case []any:
		return FormatArgs(v...)
	default:
		return fmt.Sprint(v)
	}
}
