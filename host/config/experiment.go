package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/v2"
)

// Experiment is a training run's settings (`yoloforge train -c FILE`): what
// to train on what, for how long, where to write the results.
type Experiment struct {
	File       string
	Model      string // model config file or embedded name
	Data       string // data yaml
	Hyp        string // hyp file or embedded name
	Weights    string // optional starting weights
	Resume     string // optional last.safetensors to continue
	Epochs     int
	Batch      int
	ImgSize    int
	Optimizer  string
	CosLR      bool
	Seed       int64
	Workers    int
	Project    string
	Name       string
	CacheRAMMB int
	ValEvery   int
	NC         int // optional model nc override; 0: take the data's
	// NominalBatch is the batch gradients are accumulated to before a step
	// (the reference's nbs, 64); smaller means more updates per epoch.
	NominalBatch int
	Origin       map[string]string
}

// ExperimentEnvPrefix marks environment variables that set experiment
// keys: YOLOFORGE_TRAIN_EPOCHS=5.
const ExperimentEnvPrefix = "YOLOFORGE_TRAIN_"

type experimentKey struct {
	name, expected string
	set            func(e *Experiment, v any) bool
}

func intKey(dst func(*Experiment) *int, min int) func(*Experiment, any) bool {
	return func(e *Experiment, v any) bool {
		n, ok := toInt(v)
		if !ok || n < int64(min) {
			return false
		}
		*dst(e) = int(n)
		return true
	}
}

func strKey(dst func(*Experiment) *string) func(*Experiment, any) bool {
	return func(e *Experiment, v any) bool {
		s, ok := v.(string)
		if ok {
			*dst(e) = s
		}
		return ok || v == nil
	}
}

var experimentKeys = []experimentKey{
	{"model", "a model config file or embedded name", strKey(func(e *Experiment) *string { return &e.Model })},
	{"data", "a data yaml path", strKey(func(e *Experiment) *string { return &e.Data })},
	{"hyp", "a hyp file or embedded name", strKey(func(e *Experiment) *string { return &e.Hyp })},
	{"weights", "a weights file path", strKey(func(e *Experiment) *string { return &e.Weights })},
	{"resume", "a last.safetensors path", strKey(func(e *Experiment) *string { return &e.Resume })},
	{"optimizer", "SGD, Adam or AdamW", func(e *Experiment, v any) bool {
		s, ok := v.(string)
		if ok && (s == "SGD" || s == "Adam" || s == "AdamW") {
			e.Optimizer = s
			return true
		}
		return false
	}},
	{"project", "an output directory", strKey(func(e *Experiment) *string { return &e.Project })},
	{"name", "a run name", strKey(func(e *Experiment) *string { return &e.Name })},
	{"epochs", "an integer >= 1", intKey(func(e *Experiment) *int { return &e.Epochs }, 1)},
	{"batch", "an integer >= 1", intKey(func(e *Experiment) *int { return &e.Batch }, 1)},
	{"imgsz", "an integer >= 32", intKey(func(e *Experiment) *int { return &e.ImgSize }, 32)},
	{"workers", "an integer >= 0", intKey(func(e *Experiment) *int { return &e.Workers }, 0)},
	{"cache_ram_mb", "an integer >= 0", intKey(func(e *Experiment) *int { return &e.CacheRAMMB }, 0)},
	{"val_every", "an integer >= 1", intKey(func(e *Experiment) *int { return &e.ValEvery }, 1)},
	{"nc", "an integer >= 1", intKey(func(e *Experiment) *int { return &e.NC }, 1)},
	{"nbs", "an integer >= 1", intKey(func(e *Experiment) *int { return &e.NominalBatch }, 1)},
	{"seed", "an integer", func(e *Experiment, v any) bool {
		n, ok := toInt(v)
		e.Seed = n
		return ok
	}},
	{"cos_lr", "true or false", func(e *Experiment, v any) bool {
		b, ok := v.(bool)
		e.CosLR = b
		return ok
	}},
}

// DefaultExperiment holds the settings a file may leave out.
func DefaultExperiment() Experiment {
	return Experiment{Model: "yolov5s", Hyp: "hyp.scratch-low", Epochs: 100, Batch: 16, ImgSize: 640, Optimizer: "SGD",
		Workers: 2, Project: "runs/train", Name: "exp", CacheRAMMB: 0, ValEvery: 1, NominalBatch: 64}
}

// LoadExperiment reads an experiment: file (or src.Data) < YOLOFORGE_TRAIN_*
// environment < --set. Unknown keys and wrong types are errors naming the
// source, the key and what was expected; data is required.
func LoadExperiment(src Source) (*Experiment, error) {
	k := koanf.New(".")
	if src.File != "" {
		if err := loadFile(k, src, "experiment"); err != nil {
			return nil, err
		}
	}
	origin := map[string]string{}
	for key := range k.Raw() {
		origin[key] = src.File
	}
	var assigns []assignment
	names, byName := envVars(src.Env, ExperimentEnvPrefix)
	for _, name := range names {
		v, err := parseValue(byName[name])
		source := "env " + name + "=" + byName[name]
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		assigns = append(assigns, assignment{path: []string{strings.ToLower(strings.TrimPrefix(name, ExperimentEnvPrefix))}, value: v, source: source})
	}
	sets, err := parseSets(src.Sets)
	if err != nil {
		return nil, err
	}
	assigns = append(assigns, sets...)
	for _, a := range assigns {
		if err := k.Load(confmap.Provider(nest(a.path, a.value), ""), nil); err != nil {
			return nil, fmt.Errorf("%s: %w", a.source, err)
		}
		origin[a.path[0]] = a.source
	}

	e := DefaultExperiment()
	e.File, e.Origin = src.File, origin
	known := map[string]experimentKey{}
	var knownNames []string
	for _, key := range experimentKeys {
		known[key.name] = key
		knownNames = append(knownNames, key.name)
	}
	sort.Strings(knownNames)
	var errs []error
	conf := k.Raw()
	keys := make([]string, 0, len(conf))
	for key := range conf {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		spec, ok := known[key]
		if !ok {
			errs = append(errs, &KeyError{Source: origin[key], Key: key, Msg: "unknown key" + didYouMean(key, knownNames) + "; known keys: " + strings.Join(knownNames, ", ")})
			continue
		}
		if !spec.set(&e, conf[key]) {
			errs = append(errs, &KeyError{Source: origin[key], Key: key, Msg: fmt.Sprintf("expected %s, got %s", spec.expected, describe(conf[key]))})
		}
	}
	if e.Data == "" {
		where := src.File
		if where == "" {
			where = "experiment"
		}
		errs = append(errs, &KeyError{Source: where, Key: "data", Msg: "missing required key; expected a data yaml path"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &e, nil
}
