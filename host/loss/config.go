// Package loss is YOLOv5's training loss (utils/loss.py ComputeLoss of the
// v6.0 code base the reference builds on): target assignment to anchors and
// grid cells (build_targets), CIoU box loss, objectness and class BCE, and
// the exact gradient of the total loss with respect to the raw head maps,
// derived by hand so that the engine can back-propagate it.
//
// Target assignment runs in float32 like the reference, so the same cells,
// anchors and offsets are chosen; the losses and gradients are computed in
// float64 from the float32 maps and written back as float32.
package loss

import (
	"errors"
	"fmt"
	"math"
)

// Hyp holds the loss hyper-parameters of a hyp.*.yaml file.
type Hyp struct {
	Box, Obj, Cls  float64 // gains, as scaled by train.py (see ScaleForModel)
	ClsPW, ObjPW   float64 // BCE positive weights
	AnchorT        float64 // anchor-multiple threshold
	FLGamma        float64 // focal loss gamma, 0 for plain BCE
	LabelSmoothing float64 // class label smoothing epsilon
}

// ScaleForModel applies train.py's scaling of the hyp file's gains to a
// model with nl detection levels, nc classes and image size imgsz:
// box *= 3/nl, cls *= nc/80·3/nl, obj *= (imgsz/640)²·3/nl.
func ScaleForModel(h Hyp, nl, nc, imgsz int) Hyp {
	// Same operation order as the Python, so the gains agree to the bit.
	fnl := float64(nl)
	h.Box *= 3 / fnl
	h.Cls *= float64(nc) / 80 * 3 / fnl
	s := float64(imgsz) / 640
	h.Obj *= s * s * 3 / fnl
	return h
}

// HypFromMap reads the loss hyper-parameters from a parsed hyp file. box,
// obj, cls, cls_pw, obj_pw, anchor_t and fl_gamma are required;
// label_smoothing is optional (train.py sets it from a flag, default 0).
func HypFromMap(m map[string]any) (Hyp, error) {
	var h Hyp
	fields := []struct {
		key      string
		dst      *float64
		optional bool
	}{
		{"box", &h.Box, false}, {"obj", &h.Obj, false}, {"cls", &h.Cls, false},
		{"cls_pw", &h.ClsPW, false}, {"obj_pw", &h.ObjPW, false},
		{"anchor_t", &h.AnchorT, false}, {"fl_gamma", &h.FLGamma, false},
		{"label_smoothing", &h.LabelSmoothing, true},
	}
	for _, f := range fields {
		v, ok := m[f.key]
		if !ok {
			if f.optional {
				continue
			}
			return Hyp{}, fmt.Errorf("hyp: missing %q", f.key)
		}
		switch x := v.(type) {
		case float64:
			*f.dst = x
		case float32:
			*f.dst = float64(x)
		case int:
			*f.dst = float64(x)
		case int64:
			*f.dst = float64(x)
		default:
			return Hyp{}, fmt.Errorf("hyp: %q is %T, want a number", f.key, v)
		}
	}
	return h, nil
}

// Config describes the detection head the loss is computed for.
type Config struct {
	NC int
	// Anchors per level in pixels, flat (w0, h0, w1, h1, ...) as in the
	// model yaml; every level has the same number of anchors.
	Anchors [][]float64
	// Strides per level in pixels.
	Strides []float64
	Hyp     Hyp
	// Balance weighs each level's objectness loss; nil selects the
	// reference's default for the number of levels.
	Balance []float64
}

// DefaultBalance is the reference's objectness balance for nl levels:
// [4, 1, 0.4] for 3 levels, else the first nl of [4, 1, 0.25, 0.06, 0.02].
func DefaultBalance(nl int) ([]float64, error) {
	if nl == 3 {
		return []float64{4.0, 1.0, 0.4}, nil
	}
	p := []float64{4.0, 1.0, 0.25, 0.06, 0.02}
	if nl < 1 || nl > len(p) {
		return nil, fmt.Errorf("loss: no default objectness balance for %d levels (1 to %d)", nl, len(p))
	}
	return p[:nl], nil
}

// Loss computes ComputeLoss for one head configuration. It keeps its
// buffers between calls, so it is not safe for concurrent use.
type Loss struct {
	nc, na, nl int
	hyp        Hyp
	balance    []float64
	// anchors[i][2a:2a+2] are level i's anchors in grid units, rounded
	// to float32 as the reference's buffer is.
	anchors [][]float32
	gr      float64 // objectness iou ratio; the reference fixes it at 1
	// alphaHook lets tests freeze CIoU's alpha (match k of level i).
	alphaHook func(i, k int, alpha float64) float64
	cp, cn    float64 // class targets after label smoothing

	lt    []LevelTargets
	sel   []selected
	level []levelScratch
	// ComputePlan's per-level views of the plan's buffers.
	pm, pg [][]float32
	ps     [][]int
}

// New checks cfg and returns a Loss for it.
func New(cfg Config) (*Loss, error) {
	nl := len(cfg.Anchors)
	if nl == 0 {
		return nil, errors.New("loss: no detection levels (Anchors is empty)")
	}
	if len(cfg.Strides) != nl {
		return nil, fmt.Errorf("loss: %d anchor levels but %d strides", nl, len(cfg.Strides))
	}
	if cfg.NC < 1 {
		return nil, fmt.Errorf("loss: nc must be at least 1, got %d", cfg.NC)
	}
	l := &Loss{nc: cfg.NC, nl: nl, hyp: cfg.Hyp, gr: 1.0}
	for i, a := range cfg.Anchors {
		if len(a) == 0 || len(a)%2 != 0 {
			return nil, fmt.Errorf("loss: level %d anchors %v are not (w, h) pairs", i, a)
		}
		if i == 0 {
			l.na = len(a) / 2
		} else if len(a)/2 != l.na {
			return nil, fmt.Errorf("loss: level %d has %d anchors, level 0 has %d", i, len(a)/2, l.na)
		}
		s := cfg.Strides[i]
		if !(s > 0) {
			return nil, fmt.Errorf("loss: level %d stride %v is not positive", i, s)
		}
		g := make([]float32, len(a))
		for k, v := range a {
			if !(v > 0) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("loss: level %d anchor %v is not a positive size", i, v)
			}
			// The reference divides its float32 anchor buffer by the
			// float32 stride (Model.__init__: m.anchors /= m.stride).
			g[k] = float32(v) / float32(s)
		}
		l.anchors = append(l.anchors, g)
	}
	if cfg.Balance != nil {
		if len(cfg.Balance) != nl {
			return nil, fmt.Errorf("loss: %d balance weights for %d levels", len(cfg.Balance), nl)
		}
		l.balance = append([]float64(nil), cfg.Balance...)
	} else {
		b, err := DefaultBalance(nl)
		if err != nil {
			return nil, err
		}
		l.balance = b
	}
	h := cfg.Hyp
	if !(h.AnchorT > 0) {
		return nil, fmt.Errorf("loss: anchor_t must be positive, got %v", h.AnchorT)
	}
	if h.FLGamma < 0 {
		return nil, fmt.Errorf("loss: fl_gamma must not be negative, got %v", h.FLGamma)
	}
	if h.ClsPW < 0 || h.ObjPW < 0 {
		return nil, fmt.Errorf("loss: cls_pw %v and obj_pw %v must not be negative", h.ClsPW, h.ObjPW)
	}
	// smooth_BCE(eps): positive and negative class targets.
	l.cp, l.cn = 1.0-0.5*h.LabelSmoothing, 0.5*h.LabelSmoothing
	l.lt = make([]LevelTargets, nl)
	l.level = make([]levelScratch, nl)
	return l, nil
}
