package config

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// nativeKeys are the top-level keys of the native format, in the order
// messages list them. They are also the keys env variables may set.
var nativeKeys = []string{"nc", "depth_multiple", "width_multiple", "anchors", "backbone", "neck", "head"}

// referenceKeys are the core top-level keys of the reference format.
// Other keys are tolerated (Ultralytics files carry e.g. ch) unless they
// look like a misspelling of one of these; see nearMiss.
var referenceKeys = []string{"nc", "depth_multiple", "width_multiple", "anchors", "backbone", "head"}

// componentKeys are the keys of a native backbone, neck or head.
var componentKeys = []string{"plugin", "args"}

// KeyError is a bad or missing config value.
type KeyError struct {
	// Source is where the value came from: the file path, "env NAME=value"
	// or "--set key=value".
	Source string
	// Key is the dotted key, with list indexes: "backbone.plugin",
	// "anchors[1]", "head[24]".
	Key string
	// Msg says what was expected and what was found.
	Msg string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("%s: key %q: %s", e.Source, e.Key, e.Msg)
}

// checker validates a merged config, collecting every problem.
type checker struct {
	src  *sources
	errs []error
}

// fail records an error about the value at path (key is its display form,
// with list indexes).
func (c *checker) fail(path []string, key, format string, args ...any) {
	c.errs = append(c.errs, &KeyError{Source: c.src.origin(path), Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) failMissing(path []string, expected string) {
	c.errs = append(c.errs, &KeyError{
		Source: c.src.missing(path),
		Key:    strings.Join(path, "."),
		Msg:    "missing required key; expected " + expected,
	})
}

func (c *checker) native(conf map[string]any, m *Model) {
	for _, key := range sortedKeys(conf) {
		if !slices.Contains(nativeKeys, key) {
			c.fail([]string{key}, key, "unknown key%s (known keys: %s)",
				didYouMean(key, nativeKeys), strings.Join(nativeKeys, ", "))
		}
	}
	c.common(conf, m, false)
	m.Backbone = c.component(conf, "backbone")
	m.Neck = c.component(conf, "neck")
	m.Head = c.component(conf, "head")
}

func (c *checker) reference(conf map[string]any, m *Model) {
	for _, key := range sortedKeys(conf) {
		switch {
		case slices.Contains(referenceKeys, key):
		case key == "neck":
			c.fail([]string{key}, key, "not used by the reference format: its head list holds the neck layers too (a native config has backbone, neck and head maps)")
		case nearMiss(key, append(slices.Clone(referenceKeys), "neck")) != "":
			c.fail([]string{key}, key, "unknown key%s (reference files need: %s; other keys, such as ch, are tolerated)",
				didYouMean(key, referenceKeys), strings.Join(referenceKeys, ", "))
		default:
			if m.Extra == nil {
				m.Extra = map[string]any{}
			}
			m.Extra[key] = conf[key]
		}
	}
	c.common(conf, m, true)
	m.RefBackbone = c.rows(conf, "backbone")
	m.RefHead = c.rows(conf, "head")
}

// common checks the keys both formats share.
func (c *checker) common(conf map[string]any, m *Model, reference bool) {
	if v, ok := conf["nc"]; !ok {
		c.failMissing([]string{"nc"}, "an integer > 0")
	} else if n, ok := toInt(v); !ok || n <= 0 || n > math.MaxInt32 {
		c.fail([]string{"nc"}, "nc", "expected an integer > 0, got %s", describe(v))
	} else {
		m.NC = int(n)
	}
	m.DepthMultiple = c.positive(conf, "depth_multiple")
	m.WidthMultiple = c.positive(conf, "width_multiple")
	m.Anchors, m.AnchorsPerLevel = c.anchors(conf, reference)
}

func (c *checker) positive(conf map[string]any, key string) float64 {
	v, ok := conf[key]
	if !ok {
		c.failMissing([]string{key}, "a number > 0")
		return 0
	}
	f, ok := toFloat(v)
	if !ok || !(f > 0) || math.IsInf(f, 0) {
		c.fail([]string{key}, key, "expected a number > 0, got %s", describe(v))
		return 0
	}
	return f
}

func (c *checker) anchors(conf map[string]any, reference bool) ([][]float64, int) {
	const want = "a list of anchor levels, each a list of w,h pixel pairs, e.g. [[10,13, 16,30, 33,23], ...]"
	path := []string{"anchors"}
	v, ok := conf["anchors"]
	if !ok {
		c.failMissing(path, want)
		return nil, 0
	}
	if reference {
		// Ultralytics reads "anchors: 3" as three anchors per level, to be
		// computed by autoanchor.
		if _, isList := v.([]any); !isList {
			if n, ok := toInt(v); ok && n > 0 && n <= math.MaxInt32 {
				return nil, int(n)
			}
			c.fail(path, "anchors", "expected %s, or an integer > 0 (anchors per level), got %s", want, describe(v))
			return nil, 0
		}
	}
	levels, ok := v.([]any)
	if !ok || len(levels) == 0 {
		c.fail(path, "anchors", "expected %s, got %s", want, describe(v))
		return nil, 0
	}
	out := make([][]float64, 0, len(levels))
	for i, lv := range levels {
		key := fmt.Sprintf("anchors[%d]", i)
		nums, ok := lv.([]any)
		if !ok || len(nums) == 0 || len(nums)%2 != 0 {
			c.fail(path, key, "expected a non-empty list of w,h pixel pairs (an even count of numbers), got %s", describe(lv))
			return nil, 0
		}
		level := make([]float64, len(nums))
		for j, n := range nums {
			f, ok := toFloat(n)
			if !ok || !(f > 0) || math.IsInf(f, 0) {
				c.fail(path, fmt.Sprintf("%s[%d]", key, j), "expected a number > 0 (pixels), got %s", describe(n))
				return nil, 0
			}
			level[j] = f
		}
		if i > 0 && len(level) != len(out[0]) {
			c.fail(path, key, "expected %d numbers like anchors[0] (every level has the same number of anchors), got %d", len(out[0]), len(level))
			return nil, 0
		}
		out = append(out, level)
	}
	return out, len(out[0]) / 2
}

// component checks a native backbone, neck or head map.
func (c *checker) component(conf map[string]any, name string) Component {
	path := []string{name}
	v, ok := conf[name]
	if !ok {
		c.failMissing(path, "a map with keys plugin and args")
		return Component{}
	}
	m, ok := asMap(v)
	if !ok {
		c.fail(path, name, "expected a map with keys plugin and args, got %s", describe(v))
		return Component{}
	}
	for _, key := range sortedKeys(m) {
		if !slices.Contains(componentKeys, key) {
			c.fail([]string{name, key}, name+"."+key, "unknown key%s (known keys: %s)",
				didYouMean(key, componentKeys), strings.Join(componentKeys, ", "))
		}
	}
	var comp Component
	if p, ok := m["plugin"]; !ok {
		c.failMissing([]string{name, "plugin"}, "a plugin name (string)")
	} else if s, ok := p.(string); !ok || strings.TrimSpace(s) == "" {
		c.fail([]string{name, "plugin"}, name+".plugin", "expected a plugin name (non-empty string), got %s", describe(p))
	} else {
		comp.Plugin = s
	}
	comp.Args = map[string]any{}
	if a, ok := m["args"]; ok && a != nil {
		// "args:" with nothing after it is YAML null: treat as no args.
		args, ok := asMap(a)
		if !ok {
			c.fail([]string{name, "args"}, name+".args", "expected a map of plugin args, got %s", describe(a))
		} else {
			comp.Args = args
		}
	}
	return comp
}

// rows checks a reference layer list: rows of [from, number, module, args].
func (c *checker) rows(conf map[string]any, name string) [][]any {
	const want = "a non-empty list of layer rows [from, number, module, args]"
	path := []string{name}
	v, ok := conf[name]
	if !ok {
		c.failMissing(path, want)
		return nil
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		c.fail(path, name, "expected %s, got %s", want, describe(v))
		return nil
	}
	out := make([][]any, 0, len(list))
	for i, r := range list {
		key := fmt.Sprintf("%s[%d]", name, i)
		row, ok := r.([]any)
		if !ok || len(row) != 4 {
			c.fail(path, key, "expected a layer row [from, number, module, args], got %s", describe(r))
			continue
		}
		if !isFrom(row[0]) {
			c.fail(path, key+"[0]", "expected from: a layer index or a non-empty list of them, got %s", describe(row[0]))
		}
		if n, ok := toInt(row[1]); !ok || n < 1 {
			c.fail(path, key+"[1]", "expected number: an integer >= 1 (repeats), got %s", describe(row[1]))
		}
		if s, ok := row[2].(string); !ok || s == "" {
			c.fail(path, key+"[2]", "expected module: a module name such as Conv, got %s", describe(row[2]))
		}
		if _, ok := row[3].([]any); !ok {
			c.fail(path, key+"[3]", "expected args: a list, got %s", describe(row[3]))
		}
		out = append(out, row)
	}
	return out
}

func isFrom(v any) bool {
	if _, ok := toInt(v); ok {
		return true
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return false
	}
	for _, x := range list {
		if _, ok := toInt(x); !ok {
			return false
		}
	}
	return true
}

// nearMiss returns the key of known that key looks like a misspelling of,
// or "". The rule: equal after lower-casing and mapping '-' to '_', or, for
// known keys of 4 letters or more, within an edit distance of 1 (up to 6
// letters) or 2 (longer). Two-letter keys get no fuzzy match, so ch is
// not taken for nc.
func nearMiss(key string, known []string) string {
	norm := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	for _, k := range known {
		if norm == k {
			return k
		}
		if len(k) < 4 {
			continue
		}
		limit := 1
		if len(k) > 6 {
			limit = 2
		}
		if editDistance(norm, k) <= limit {
			return k
		}
	}
	return ""
}

func didYouMean(key string, known []string) string {
	if k := nearMiss(key, known); k != "" {
		return fmt.Sprintf("; did you mean %q?", k)
	}
	return ""
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and adjacent transpositions cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// asMap accepts the two map shapes YAML decoding produces.
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[fmt.Sprint(k)] = x
		}
		return out, true
	}
	return nil, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
