// Package config loads YOLOForge model configs.
//
// A model config is layered with koanf, lowest precedence first:
//
//  1. a YAML file (Source.File),
//  2. YOLOFORGE_* environment variables (Source.Env),
//  3. --set key=value flags (Source.Sets).
//
// Maps merge key by key across layers; any other value (scalars, lists)
// replaces the lower layer's value wholesale, so a list such as anchors
// can only be overridden as a whole.
//
// Two file formats share the loader. The native format names a plugin per
// component (backbone, neck, head) with plugin-specific args. The reference
// format is the Ultralytics/YOLOv5 layer-list yaml, recognised by backbone
// being a list; its rows are kept as raw decoded YAML for the model builder.
//
// Top-level keys: a native config has exactly nc, depth_multiple,
// width_multiple, anchors, backbone, neck and head. A reference config needs
// nc, depth_multiple, width_multiple, anchors, backbone and head, refuses
// neck, and keeps any other key (Ultralytics files carry e.g. ch) in
// Model.Extra unless it looks like a misspelt core key (anchor, Depth-Multiple,
// heads), which is an error.
//
// Every error about a value names where that value came from (the file, the
// env variable or the --set flag), the key, what was expected and what was
// found.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	yamlv3 "go.yaml.in/yaml/v3"
)

// Formats of a model config file.
const (
	FormatNative    = "native"
	FormatReference = "reference"
)

// EnvPrefix is the prefix of environment variables that override config
// keys: YOLOFORGE_NC, YOLOFORGE_BACKBONE__ARGS__WIDTH.
const EnvPrefix = "YOLOFORGE_"

// envNestSep separates nested keys in a variable name; a single underscore
// is part of key names such as depth_multiple.
const envNestSep = "__"

// noFile names the config in messages when no file was given and a
// required value is missing.
const noFile = "model config (no file)"

// Source says where to read a model config from. Only File is needed; Env
// and Sets override it.
type Source struct {
	// File is the YAML file; empty means the config comes from Env and
	// Sets alone.
	File string
	// Data, when non-nil, is the file's content (e.g. an embedded config);
	// File is then not read and only names the config in messages.
	Data []byte
	// Env is the environment in os.Environ() form ("NAME=value"). Passing
	// it in, rather than reading the process environment, keeps loading
	// free of global state.
	Env []string
	// Sets are --set flags, "dotted.key=value", in command-line order.
	Sets []string
}

// Component is a native-format backbone, neck or head: the plugin serving
// it and its plugin-specific args (validated later, against the plugin's
// schema, with Model.ValidateComponent or ValidateArgs).
type Component struct {
	Plugin string
	Args   map[string]any
}

// Model is a loaded, checked model config.
type Model struct {
	Format string // FormatNative or FormatReference
	File   string // Source.File ("model config" for unnamed Data)

	NC                           int
	DepthMultiple, WidthMultiple float64
	// Anchors in pixels, one list of w,h pairs per level. Nil when a
	// reference file gives anchors as a count (anchors: 3), in which case
	// only AnchorsPerLevel is set.
	Anchors [][]float64
	// AnchorsPerLevel is the number of anchors on each level.
	AnchorsPerLevel int

	// Native format.
	Backbone, Neck, Head Component

	// Reference format: layer rows [from, number, module, args] as decoded
	// from YAML (numbers as int or float64, Python names such as None or
	// nc as strings).
	RefBackbone, RefHead [][]any
	// Extra holds the top-level keys a reference file may carry besides
	// the core ones (e.g. ch), as decoded.
	Extra map[string]any

	// Origin says where each top-level key's final value came from: the
	// file path, "env NAME=value" or "--set key=value". A top-level map
	// overridden only in part is attributed to the highest layer that
	// touched it. Every key set by the environment or --set that is still
	// in effect has its own dotted entry too (e.g. "backbone.args.width";
	// a map value counts as its leaf keys).
	Origin map[string]string

	src *sources
}

// loadFile loads src's file (or its Data) as the bottom layer of k.
func loadFile(k *koanf.Koanf, src Source, what string) error {
	var err error
	if src.Data != nil {
		err = k.Load(rawBytes(src.Data), yaml.Parser())
	} else {
		err = k.Load(file.Provider(src.File), yaml.Parser())
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("read %s: %w", what, err)
		}
		// yaml errors carry the line ("yaml: line 23: did not find
		// expected ',' or ']'"); the file name is ours to add.
		return fmt.Errorf("%s: invalid YAML: %w", src.File, err)
	}
	return nil
}

// LoadModel reads, layers and checks a model config. All problems found in
// values are reported together (joined); I/O and YAML syntax errors stop
// loading at once.
func LoadModel(src Source) (*Model, error) {
	k := koanf.New(".")

	if src.Data != nil && src.File == "" {
		// Messages name the file; give embedded data a name too.
		src.File = "model config"
	}
	srcs := &sources{file: src.File}

	var fileConf map[string]any
	if src.File != "" {
		if err := loadFile(k, src, "model config"); err != nil {
			return nil, err
		}
		fileConf = k.Raw()
	}

	envAssigns, err := parseEnv(src.Env)
	if err != nil {
		return nil, err
	}
	setAssigns, err := parseSets(src.Sets)
	if err != nil {
		return nil, err
	}
	for _, a := range append(envAssigns, setAssigns...) {
		// One Load per assignment, in order, so that a later assignment
		// to the same key wins exactly as koanf merges it.
		if err := k.Load(confmap.Provider(nest(a.path, a.value), ""), nil); err != nil {
			return nil, fmt.Errorf("%s: %w", a.source, err)
		}
		srcs.add(a)
	}

	conf := k.Raw()
	m := &Model{File: src.File, src: srcs, Origin: map[string]string{}}

	// The file decides the format, so that an env or --set override of
	// the wrong shape is reported as a type error against that override
	// instead of silently switching formats.
	m.Format = FormatNative
	formatFrom := fileConf
	if src.File == "" {
		formatFrom = conf
	}
	if _, ok := formatFrom["backbone"].([]any); ok {
		m.Format = FormatReference
	}

	for key := range conf {
		m.Origin[key] = srcs.origin([]string{key})
	}
	for _, a := range srcs.assigns {
		for _, leaf := range a.leaves {
			if srcs.origin(leaf) == a.source {
				m.Origin[strings.Join(leaf, ".")] = a.source
			}
		}
	}

	v := &checker{src: srcs}
	if m.Format == FormatReference {
		v.reference(conf, m)
	} else {
		v.native(conf, m)
	}
	if err := errors.Join(v.errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// rawBytes is a koanf.Provider of in-memory bytes (koanf's rawbytes
// provider is not among this module's dependencies).
type rawBytes []byte

func (b rawBytes) ReadBytes() ([]byte, error) { return b, nil }

func (b rawBytes) Read() (map[string]any, error) {
	return nil, errors.New("rawBytes provider does not support Read")
}

// assignment is one env variable or --set flag: a value for a key path.
type assignment struct {
	path   []string
	value  any
	source string // "env NAME=value" or "--set key=value"
	leaves [][]string
}

// sources remembers which layer set which key, for Origin and for naming
// the culprit in error messages.
type sources struct {
	file    string
	assigns []assignment // in precedence order, lowest first
}

func (s *sources) add(a assignment) {
	a.leaves = leafPaths(a.path, a.value, nil)
	s.assigns = append(s.assigns, a)
}

// origin returns the source of the final value at path (or inside it): the
// last assignment whose leaves touch path, else the file.
func (s *sources) origin(path []string) string {
	if src := s.override(path); src != "" {
		return src
	}
	return s.fileOrNone()
}

// override returns the last env/--set source touching path, or "".
func (s *sources) override(path []string) string {
	for i := len(s.assigns) - 1; i >= 0; i-- {
		for _, leaf := range s.assigns[i].leaves {
			if related(leaf, path) {
				return s.assigns[i].source
			}
		}
	}
	return ""
}

func (s *sources) fileOrNone() string {
	if s.file != "" {
		return s.file
	}
	return noFile
}

// missing returns whom to blame for a missing key: the file when there is
// one (that is where the key belongs), else whatever set its parent.
func (s *sources) missing(path []string) string {
	if s.file != "" {
		return s.file
	}
	for i := len(path) - 1; i > 0; i-- {
		if src := s.override(path[:i]); src != "" {
			return src
		}
	}
	return noFile
}

// related reports whether one path is a prefix of (or equal to) the other.
func related(a, b []string) bool {
	n := min(len(a), len(b))
	return slices.Equal(a[:n], b[:n])
}

// leafPaths lists the paths a value set at path really replaces: koanf
// merges maps key by key, so a map value replaces only its leaves.
func leafPaths(path []string, v any, out [][]string) [][]string {
	m, ok := asMap(v)
	if !ok || len(m) == 0 {
		return append(out, slices.Clone(path))
	}
	for k, sub := range m {
		out = leafPaths(append(slices.Clone(path), k), sub, out)
	}
	return out
}

// nest wraps v in maps along path: nest([a b], 1) = {a: {b: 1}}. Built by
// hand instead of with koanf's Unflatten, which misplaces a key whose
// parent already holds a non-map value.
func nest(path []string, v any) map[string]any {
	m := map[string]any{path[len(path)-1]: v}
	for i := len(path) - 2; i >= 0; i-- {
		m = map[string]any{path[i]: m}
	}
	return m
}

// parseEnv picks the YOLOFORGE_* variables whose first segment is a model
// config key; others (YOLOFORGE_PLUGIN_PATH, ...) belong to other settings.
// Variables are applied sorted by name, so a whole-map variable
// (YOLOFORGE_BACKBONE) comes before the nested ones that refine it.
func parseEnv(env []string) ([]assignment, error) {
	names, byName := envVars(env, EnvPrefix)
	var out []assignment
	for _, name := range names {
		// Env names are upper case by convention; config keys are lower.
		path := strings.Split(strings.ToLower(strings.TrimPrefix(name, EnvPrefix)), envNestSep)
		if !slices.Contains(nativeKeys, path[0]) {
			continue
		}
		val := byName[name]
		source := "env " + name + "=" + val
		if slices.Contains(path, "") {
			return nil, fmt.Errorf("%s: malformed variable name: nested keys are separated by %q, e.g. %sBACKBONE__ARGS__WIDTH",
				source, envNestSep, EnvPrefix)
		}
		v, err := parseValue(val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		out = append(out, assignment{path: path, value: v, source: source})
	}
	return out, nil
}

// envVars returns the variables of env whose names start with prefix,
// sorted by name, and their values (the last one wins, like os.Getenv).
func envVars(env []string, prefix string) ([]string, map[string]string) {
	byName := map[string]string{}
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(name, prefix) {
			byName[name] = val
		}
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, byName
}

// parseSets parses --set flags: "dotted.key=value", value as YAML.
func parseSets(sets []string) ([]assignment, error) {
	var out []assignment
	for _, s := range sets {
		source := "--set " + s
		key, val, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: expected key=value", s)
		}
		key = strings.TrimSpace(key)
		path := strings.Split(key, ".")
		if key == "" || slices.Contains(path, "") {
			return nil, fmt.Errorf("%s: malformed key %q: expected dotted keys such as backbone.args.width", source, key)
		}
		v, err := parseValue(val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		out = append(out, assignment{path: path, value: v, source: source})
	}
	return out, nil
}

// parseValue reads an override value as YAML, so "10" is an int, "0.5" a
// float, "[1,2]" a list and "true" a bool; quote it to force a string. An
// empty value is YAML null.
func parseValue(s string) (any, error) {
	var v any
	if err := yamlv3.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("invalid YAML value: %w", err)
	}
	return v, nil
}
