package data

import (
	"fmt"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// Hyp holds the augmentation hyper-parameters of a reference hyp yaml
// (data/hyps/hyp.*.yaml), with the reference's names and meanings.
type Hyp struct {
	HSVH        float64 `yaml:"hsv_h"`       // hue gain (fraction)
	HSVS        float64 `yaml:"hsv_s"`       // saturation gain (fraction)
	HSVV        float64 `yaml:"hsv_v"`       // value gain (fraction)
	Degrees     float64 `yaml:"degrees"`     // rotation +/- degrees
	Translate   float64 `yaml:"translate"`   // translation +/- fraction
	Scale       float64 `yaml:"scale"`       // scale +/- gain
	Shear       float64 `yaml:"shear"`       // shear +/- degrees
	Perspective float64 `yaml:"perspective"` // perspective +/- fraction, 0..0.001
	FlipUD      float64 `yaml:"flipud"`      // probability of a vertical flip
	FlipLR      float64 `yaml:"fliplr"`      // probability of a horizontal flip
	Mosaic      float64 `yaml:"mosaic"`      // probability of a 4-image mosaic
	MixUp       float64 `yaml:"mixup"`       // probability of mixing two mosaics
	CopyPaste   float64 `yaml:"copy_paste"`  // segment copy-paste: needs polygons, a no-op on boxes as in the reference
}

// DefaultHyp is hyp.scratch-low.yaml.
func DefaultHyp() Hyp {
	return Hyp{HSVH: 0.015, HSVS: 0.7, HSVV: 0.4, Translate: 0.1, Scale: 0.5, FlipLR: 0.5, Mosaic: 1}
}

// NoAugment turns every augmentation off.
func NoAugment() Hyp { return Hyp{} }

func (h *Hyp) fields() []struct {
	key string
	v   *float64
} {
	return []struct {
		key string
		v   *float64
	}{{"hsv_h", &h.HSVH}, {"hsv_s", &h.HSVS}, {"hsv_v", &h.HSVV}, {"degrees", &h.Degrees}, {"translate", &h.Translate},
		{"scale", &h.Scale}, {"shear", &h.Shear}, {"perspective", &h.Perspective}, {"flipud", &h.FlipUD}, {"fliplr", &h.FlipLR},
		{"mosaic", &h.Mosaic}, {"mixup", &h.MixUp}, {"copy_paste", &h.CopyPaste}}
}

// ParseHyp reads the augmentation keys of a hyp yaml. The optimiser and
// loss keys of the same file are left to their owners; every augmentation
// key must be present (the reference fails on a missing one too).
func ParseHyp(b []byte, file string) (Hyp, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return Hyp{}, fmt.Errorf("%s: %w", file, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return Hyp{}, fmt.Errorf("%s: a hyp file is a mapping of hyper-parameters", file)
	}
	m := doc.Content[0]
	vals := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		vals[m.Content[i].Value] = m.Content[i+1]
	}
	var h Hyp
	for _, f := range h.fields() {
		v, ok := vals[f.key]
		if !ok {
			return Hyp{}, fmt.Errorf("%s: missing key %q", file, f.key)
		}
		x, err := strconv.ParseFloat(v.Value, 64)
		if v.Kind != yaml.ScalarNode || err != nil {
			return Hyp{}, fmt.Errorf("%s: line %d: key %q: want a number, got %q", file, v.Line, f.key, v.Value)
		}
		*f.v = x
	}
	if err := h.Validate(); err != nil {
		return Hyp{}, fmt.Errorf("%s: %w", file, err)
	}
	return h, nil
}

// Validate checks the ranges the augmentations need.
func (h Hyp) Validate() error {
	for _, f := range h.fields() {
		if *f.v < 0 {
			return fmt.Errorf("key %q: %g is negative", f.key, *f.v)
		}
		switch f.key {
		case "flipud", "fliplr", "mosaic", "mixup", "copy_paste":
			if *f.v > 1 {
				return fmt.Errorf("key %q: probability %g is above 1", f.key, *f.v)
			}
		case "scale", "translate":
			if *f.v >= 1 {
				return fmt.Errorf("key %q: %g must be below 1", f.key, *f.v)
			}
		}
	}
	return nil
}
