package nn

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// The reference's pruned models (prunModels/*.yaml) keep the YOLOv5 layer
// table and shrink layers with extra arguments: a trailing keep ratio on
// Conv, the long C3 form [c2, shortcut, g, [e_cv1, e_cv2], [bottleneck
// rates], ratio] and SPPF's hidden expansion. A component argument mirrors
// that with one entry per layer; ParsePrune reads it and the Pruned*
// methods build the layers, falling back to the unpruned ones when a layer
// has no entry.

// ConvPrune is a pruned Conv: output width c2·Keep. Groups and Act, when
// set, are printed in the table as the reference's long form prints them.
type ConvPrune struct {
	Keep   float64
	Groups int   // 0: 1, and not printed
	Act    *bool // nil: SiLU, and not printed
}

// C3Prune is the reference's pruned C3: cv1 and cv2 at c2o·E[0] and
// c2o·E[1] (c2o the unpruned width), bottleneck j's hidden width scaled by
// Bottlenecks[j], cv3 at c2·Ratio.
type C3Prune struct {
	E           [2]float64
	Bottlenecks []float64 // nil: all 1; otherwise at least the layer's repeats
	Ratio       float64
}

// SPPFPrune is SPPF with cv1 at int(c1·E).
type SPPFPrune struct{ E float64 }

// Prune is the entry of one layer; at most one field is set, none for an
// unpruned layer.
type Prune struct {
	Conv *ConvPrune
	C3   *C3Prune
	SPPF *SPPFPrune
}

// PruneSlot describes one layer of a component for ParsePrune: its module
// ("Conv", "C3", "SPPF", or anything else for a layer with nothing to
// prune), its index in the model and, for C3, its repeats after the depth
// multiple.
type PruneSlot struct {
	Module  string
	Layer   int
	Repeats int
}

// ParsePrune reads the component argument arg (nil: nothing pruned) into
// one Prune per slot. Entries: a number (a Conv's keep ratio, an SPPF's
// expansion), a map {keep, groups, act} for a Conv, a map {e, bottlenecks,
// ratio} for a C3, null for an unpruned layer or one with nothing to prune.
func ParsePrune(arg string, v any, slots []PruneSlot) ([]Prune, error) {
	out := make([]Prune, len(slots))
	if v == nil {
		return out, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a list with one entry per layer (%d), got %T", arg, len(slots), v)
	}
	if len(list) != len(slots) {
		mods := make([]string, len(slots))
		for i, s := range slots {
			mods[i] = s.Module
		}
		return nil, fmt.Errorf("%s: expected %d entries, one per layer (%s), got %d", arg, len(slots), strings.Join(mods, ", "), len(list))
	}
	for i, e := range list {
		s := slots[i]
		if e == nil {
			continue
		}
		where := fmt.Sprintf("%s[%d] (layer %d, %s)", arg, i, s.Layer, s.Module)
		var err error
		switch s.Module {
		case "Conv":
			out[i].Conv, err = parseConvPrune(e)
		case "C3":
			out[i].C3, err = parseC3Prune(e, s.Repeats)
		case "SPPF":
			var f float64
			if f, ok = number(e); !ok || f <= 0 || f > 1 {
				err = fmt.Errorf("expected the hidden expansion, a number in (0, 1], got %v", e)
			}
			out[i].SPPF = &SPPFPrune{E: f}
		default:
			err = fmt.Errorf("nothing to prune here: write null, got %v", e)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	return out, nil
}

func parseConvPrune(e any) (*ConvPrune, error) {
	if f, ok := number(e); ok {
		if f <= 0 || f > 1 {
			return nil, fmt.Errorf("keep ratio: expected a number in (0, 1], got %v", e)
		}
		return &ConvPrune{Keep: f}, nil
	}
	m, ok := e.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected a keep ratio or a map {keep, groups, act}, got %v", e)
	}
	if err := onlyKeys(m, "keep", "groups", "act"); err != nil {
		return nil, err
	}
	p := &ConvPrune{Keep: 1}
	if v, present := m["keep"]; present {
		f, ok := number(v)
		if !ok || f <= 0 || f > 1 {
			return nil, fmt.Errorf("keep: expected a number in (0, 1], got %v", v)
		}
		p.Keep = f
	}
	if v, present := m["groups"]; present {
		g, ok := v.(int64)
		if !ok || g < 1 {
			return nil, fmt.Errorf("groups: expected a positive integer, got %v", v)
		}
		p.Groups = int(g)
	}
	if v, present := m["act"]; present {
		a, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("act: expected a boolean, got %v", v)
		}
		p.Act = &a
	}
	return p, nil
}

func parseC3Prune(e any, repeats int) (*C3Prune, error) {
	m, ok := e.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected a map {e: [e_cv1, e_cv2], bottlenecks: [rates...], ratio}, got %v", e)
	}
	if err := onlyKeys(m, "e", "bottlenecks", "ratio"); err != nil {
		return nil, err
	}
	p := &C3Prune{E: [2]float64{0.5, 0.5}, Ratio: 1}
	if v, present := m["e"]; present {
		fs, err := ratios(v)
		if err != nil || len(fs) != 2 {
			return nil, fmt.Errorf("e: expected [e_cv1, e_cv2], two numbers in (0, 1], got %v", v)
		}
		p.E = [2]float64{fs[0], fs[1]}
	}
	if v, present := m["bottlenecks"]; present {
		fs, err := ratios(v)
		if err != nil {
			return nil, fmt.Errorf("bottlenecks: %w", err)
		}
		if len(fs) < repeats {
			return nil, fmt.Errorf("bottlenecks: expected at least %d rates (one per repeat after depth_multiple), got %d", repeats, len(fs))
		}
		p.Bottlenecks = fs
	}
	if v, present := m["ratio"]; present {
		f, ok := number(v)
		if !ok || f <= 0 || f > 1 {
			return nil, fmt.Errorf("ratio: expected a number in (0, 1], got %v", v)
		}
		p.Ratio = f
	}
	return p, nil
}

func onlyKeys(m map[string]any, allowed ...string) error {
	var bad []string
	for k := range m {
		found := false
		for _, a := range allowed {
			found = found || k == a
		}
		if !found {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("unknown key(s) %s; expected %s", strings.Join(bad, ", "), strings.Join(allowed, ", "))
	}
	return nil
}

func ratios(v any) ([]float64, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("expected a list of numbers in (0, 1], got %v", v)
	}
	out := make([]float64, len(list))
	for i, e := range list {
		f, ok := number(e)
		if !ok || f <= 0 || f > 1 {
			return nil, fmt.Errorf("[%d]: expected a number in (0, 1], got %v", i, e)
		}
		out[i] = f
	}
	return out, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

// prunedWidth is the pruned models' channel rule:
// max(make_divisible(c·ratio·gw, 8), 8).
func (b *Builder) prunedWidth(c int, ratio float64) int {
	return max(MakeDivisible(float64(c)*ratio*b.opt.WidthMultiple, 8), 8)
}

// PrunedConv is Conv with the layer's prune entry; nil builds b.Conv.
func (b *Builder) PrunedConv(x T, c2, k, stride int, p *ConvPrune, pad ...int) T {
	if p == nil {
		return b.Conv(x, c2, k, stride, pad...)
	}
	c := b.prunedWidth(c2, p.Keep)
	args := []any{x.C, c, k, stride}
	o := ConvOpts{Groups: max(p.Groups, 1)}
	if len(pad) > 0 {
		o.Pad = &pad[0]
	}
	if p.Groups != 0 || p.Act != nil {
		// The reference prints the positional arguments its yaml spelled out.
		var pa any = ir.None{}
		if o.Pad != nil {
			pa = *o.Pad
		}
		act := p.Act == nil || *p.Act
		args = append(args, pa, o.Groups, act)
		if !act {
			o.Act = "Identity"
		}
	} else if o.Pad != nil {
		args = append(args, *o.Pad)
	}
	return b.Layer("models.common.Conv", 1, ir.FormatArgs(args...), []T{x}, func(s *Scope) T {
		return Conv(s, x, c, k, stride, o)
	})
}

// PrunedC3 is C3 with the layer's prune entry; nil builds b.C3. The table
// shows the reference's long form [c1, c2, c2o, n, shortcut, g, e, rates].
func (b *Builder) PrunedC3(x T, c2, n int, p *C3Prune, shortcut ...bool) T {
	if p == nil {
		return b.C3(x, c2, n, shortcut...)
	}
	c2o := b.prunedWidth(c2, 1)
	c := b.prunedWidth(c2, p.Ratio)
	n = b.Depth(n)
	sc := len(shortcut) == 0 || shortcut[0]
	rates := p.Bottlenecks
	if rates == nil {
		rates = make([]float64, n)
		for j := range rates {
			rates[j] = 1
		}
	}
	if len(rates) < n {
		b.fail("layer %d C3: %d bottleneck rates for %d repeats", b.next, len(rates), n)
		rates = append(rates, make([]float64, n-len(rates))...)
	}
	c1 := int(float64(c2o) * p.E[0])
	if c1 < 1 || int(float64(c2o)*p.E[1]) < 1 {
		b.fail("layer %d C3: expansions %v leave no hidden channel of %d", b.next, p.E, c2o)
	}
	for j, r := range rates[:n] {
		if int(float64(c1)*r) < 1 {
			b.fail("layer %d C3: bottleneck %d rate %v leaves no hidden channel of %d", b.next, j, r, c1)
		}
	}
	args := []any{x.C, c, c2o, n, sc, 1, p.E[:]}
	if p.Bottlenecks != nil {
		args = append(args, p.Bottlenecks)
	}
	return b.Layer("models.common.C3", n, ir.FormatArgs(args...), []T{x}, func(s *Scope) T {
		return PrunedC3(s, x, c, c2o, n, sc, 1, p.E, rates[:n])
	})
}

// PrunedSPPF is SPPF with the layer's prune entry; nil builds b.SPPF.
func (b *Builder) PrunedSPPF(x T, c2, k int, p *SPPFPrune) T {
	if p == nil {
		return b.SPPF(x, c2, k)
	}
	c := b.prunedWidth(c2, 1)
	if int(float64(x.C)*p.E) < 1 {
		b.fail("layer %d SPPF: expansion %v leaves no hidden channel of %d", b.next, p.E, x.C)
	}
	return b.Layer("models.common.SPPF", 1, ir.FormatArgs(x.C, c, k, p.E), []T{x}, func(s *Scope) T {
		return SPPF(s, x, c, k, p.E)
	})
}

// PrunedC3 is the reference's C3 with its pruning arguments: cv1 and cv2
// at int(c2o·e[i]), bottleneck j at hidden int(c_cv1·rates[j]), cv3 to c2.
func PrunedC3(s *Scope, x T, c2, c2o, n int, shortcut bool, g int, e [2]float64, rates []float64) T {
	c1 := int(float64(c2o) * e[0])
	a := Conv(s.Sub("cv1"), x, c1, 1, 1, ConvOpts{})
	bb := Conv(s.Sub("cv2"), x, int(float64(c2o)*e[1]), 1, 1, ConvOpts{})
	for j := 0; j < n; j++ {
		a = Bottleneck(s.Sub("m."+strconv.Itoa(j)), a, c1, shortcut, g, rates[j])
	}
	return Conv(s.Sub("cv3"), s.Concat([]T{a, bb}, 1), c2, 1, 1, ConvOpts{})
}
