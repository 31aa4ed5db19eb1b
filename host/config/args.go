package config

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/plugin"
)

// ValidateArgs checks component args against a plugin's schema and returns
// a new map with defaults filled in. where prefixes every message, e.g.
// "configs/models/x.yaml: backbone.args".
//
// Values are normalised for plugin.BuildContext: integers become int64,
// floats float64 (an integer is accepted for a float arg), lists []any and
// maps map[string]any. A float with an integral value is accepted for an
// int arg, because schema defaults that travelled as JSON arrive as
// float64. Args absent from the config and without a default are left out.
// All problems are reported together.
func ValidateArgs(where string, args map[string]any, specs []plugin.ArgSpec) (map[string]any, error) {
	return validateArgs(func(string) string { return where }, where, args, specs)
}

// ValidateComponent checks the args of a native component (backbone, neck
// or head) against its plugin's schema, like ValidateArgs, but blames each
// bad arg on the layer that supplied it: the file, an env variable or a
// --set flag.
func (m *Model) ValidateComponent(kind plugin.Kind, specs []plugin.ArgSpec) (map[string]any, error) {
	var comp Component
	switch kind {
	case plugin.KindBackbone:
		comp = m.Backbone
	case plugin.KindNeck:
		comp = m.Neck
	case plugin.KindHead:
		comp = m.Head
	default:
		return nil, fmt.Errorf("validate component args: unknown component kind %q", kind)
	}
	if m.Format != FormatNative {
		return nil, fmt.Errorf("%s: validate %s args: a %s-format config has no plugin components", m.File, kind, m.Format)
	}
	src := m.src
	if src == nil { // a Model built by hand rather than by LoadModel
		src = &sources{file: m.File}
	}
	prefix := string(kind) + ".args"
	whereArg := func(arg string) string {
		return src.origin([]string{string(kind), "args", arg}) + ": " + prefix
	}
	// A missing arg belongs in the file, if there is one.
	whereAll := src.missing([]string{string(kind), "args"}) + ": " + prefix
	return validateArgs(whereArg, whereAll, comp.Args, specs)
}

// validateArgs does ValidateArgs; whereArg prefixes messages about one arg,
// whereAll those about the args as a whole (missing required args).
func validateArgs(whereArg func(arg string) string, whereAll string, args map[string]any, specs []plugin.ArgSpec) (map[string]any, error) {
	var errs []error
	known := make(map[string]plugin.ArgSpec, len(specs))
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		if _, dup := known[s.Name]; dup || s.Name == "" {
			errs = append(errs, fmt.Errorf("%s: plugin schema: arg name %q is empty or declared twice", whereAll, s.Name))
			continue
		}
		known[s.Name] = s
		names = append(names, s.Name)
	}

	var unknown []string
	for name := range args {
		if _, ok := known[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		hint := "this component takes no args"
		if len(names) > 0 {
			hint = "known args: " + strings.Join(names, ", ")
		}
		errs = append(errs, fmt.Errorf("%s: unknown arg %q%s (%s)", whereArg(name), name, didYouMean(name, names), hint))
	}

	out := make(map[string]any, len(specs))
	for _, name := range names {
		s := known[name]
		v, present := args[name]
		switch {
		case present:
			nv, err := convertArg(v, s.Type)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: arg %q: %w", whereArg(name), name, err))
				continue
			}
			out[name] = nv
		case s.Required:
			errs = append(errs, fmt.Errorf("%s: missing required arg %q (%s)", whereAll, name, s.Type))
		case s.Default != nil:
			nv, err := convertArg(s.Default, s.Type)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: arg %q: plugin schema default is invalid: %w", whereAll, name, err))
				continue
			}
			out[name] = nv
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// convertArg checks v against t and normalises it.
func convertArg(v any, t plugin.ArgType) (any, error) {
	switch t {
	case plugin.ArgInt:
		if n, ok := toInt(v); ok {
			return n, nil
		}
		return nil, fmt.Errorf("expected an integer, got %s", describe(v))
	case plugin.ArgFloat:
		if f, ok := toFloat(v); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, nil
		}
		return nil, fmt.Errorf("expected a number, got %s", describe(v))
	case plugin.ArgBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("expected a bool, got %s", describe(v))
	case plugin.ArgString:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("expected a string, got %s", describe(v))
	case plugin.ArgIntList, plugin.ArgFloatList:
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("expected a %s, got %s", t, describe(v))
		}
		elem := plugin.ArgInt
		if t == plugin.ArgFloatList {
			elem = plugin.ArgFloat
		}
		out := make([]any, len(list))
		for i, x := range list {
			nx, err := convertArg(x, elem)
			if err != nil {
				return nil, fmt.Errorf("%s element [%d]: %w", t, i, err)
			}
			out[i] = nx
		}
		return out, nil
	case plugin.ArgAny:
		return normalize(v)
	}
	return nil, fmt.Errorf("plugin schema: unknown arg type %q", t)
}

// normalize makes v JSON-ready, as ArgAny values are passed on as JSON:
// integers to int64, maps to map[string]any; NaN and Inf are refused.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	if m, ok := asMap(v); ok {
		out := make(map[string]any, len(m))
		for k, e := range m {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	if isInteger(v) {
		if n, ok := toInt(v); ok {
			return n, nil
		}
	}
	if f, ok := toFloat(v); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return f, nil
	}
	return nil, fmt.Errorf("expected a value representable as JSON, got %s", describe(v))
}

func isInteger(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	}
	return false
}

// toInt converts any integer, or a float with an integral value, that fits
// in int64.
func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint:
		return int64(x), uint64(x) <= math.MaxInt64
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	case float32:
		return toInt(float64(x))
	case float64:
		// 2^63 itself is a float64 but not an int64.
		if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// toFloat converts any number.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	if isInteger(v) {
		if n, ok := toInt(v); ok {
			return float64(n), true
		}
		if u, ok := v.(uint64); ok {
			return float64(u), true
		}
		if u, ok := v.(uint); ok {
			return float64(u), true
		}
	}
	return 0, false
}

// describe renders a found value for "expected X, got Y" messages.
func describe(v any) string {
	const maxLen = 40
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if r := []rune(x); len(r) > maxLen {
			x = string(r[:maxLen]) + "..."
		}
		return "string " + strconv.Quote(x)
	case bool:
		return "bool " + strconv.FormatBool(x)
	case float32, float64:
		f, _ := toFloat(x)
		return "float " + strconv.FormatFloat(f, 'g', -1, 64)
	case []any:
		if len(x) == 1 {
			return "list of 1 item"
		}
		return fmt.Sprintf("list of %d items", len(x))
	}
	if isInteger(v) {
		return fmt.Sprintf("integer %d", v)
	}
	if m, ok := asMap(v); ok {
		keys := sortedKeys(m)
		if len(keys) == 0 {
			return "empty map"
		}
		if len(keys) > 5 {
			keys = append(keys[:5], "...")
		}
		return "map with keys " + strings.Join(keys, ", ")
	}
	return fmt.Sprintf("%T", v)
}
