package assemble

import (
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/nn"
)

// refAccModules are the reference's accuracy modules (accModels/*.yaml,
// hub/yolov5s-transformer.yaml). SPP and the multi-input Concat the
// reference's file names call BiFPN are core modules.
var refAccModules = map[string]refLayer{
	"CBAM":  refCBAM,
	"C3TR":  refC3Transformer("models.common.C3TR", nn.C3TR),
	"C3STR": refC3Transformer("models.common.C3STR", nn.C3STR),
}

// refCBAM: parse_model gives CBAM(c1, c2) with c2 width-scaled; the module
// keeps c1 channels (c2 is unused by the reference).
func refCBAM(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	c, ok := asInt(firstOr(args, nil))
	if !ok {
		return x, fmt.Errorf("channels: expected an integer, got %v", firstOr(args, nil))
	}
	c2 := r.width(c, 1)
	if c2 != x.C {
		return x, fmt.Errorf("CBAM keeps its %d input channels; the yaml asks for %d, which the next layers would be built for", x.C, c2)
	}
	if x.C < 16 {
		return x, fmt.Errorf("CBAM needs at least 16 channels (its MLP has c/16), got %d", x.C)
	}
	printed := append([]any{x.C, c2}, args[1:]...)
	return repeat(r, "models.common.CBAM", n, printed, from, func(s *nn.Scope, x nn.T) nn.T {
		return nn.CBAM(s, x)
	}), nil
}

// refC3Transformer covers C3TR and C3STR: parse_model gives (c1, c2, n,
// shortcut...) with the repeats moved into the module.
func refC3Transformer(module string, block func(s *nn.Scope, x nn.T, c2, n int, e float64) nn.T) refLayer {
	return func(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
		x, err := single(from)
		if err != nil {
			return x, err
		}
		c, ok := asInt(firstOr(args, nil))
		if !ok {
			return x, fmt.Errorf("output channels: expected an integer, got %v", firstOr(args, nil))
		}
		c2 := r.width(c, 1)
		if len(args) > 1 {
			if _, ok := args[1].(bool); !ok {
				return x, fmt.Errorf("shortcut: expected a boolean, got %v", args[1])
			}
		}
		e := 0.5
		if len(args) > 3 {
			if e, ok = asFloat(args[3]); !ok {
				return x, fmt.Errorf("expansion: expected a number, got %v", args[3])
			}
		}
		if module == "models.common.C3STR" && int(float64(c2)*e) < 32 {
			return x, fmt.Errorf("C3STR needs a hidden width of at least 32 (heads = width/32), got %d", int(float64(c2)*e))
		}
		if module == "models.common.C3TR" && int(float64(c2)*e)%4 != 0 {
			return x, fmt.Errorf("C3TR's 4 heads need a hidden width divisible by 4, got %d", int(float64(c2)*e))
		}
		printed := append([]any{x.C, c2, n}, args[1:]...)
		return r.b.Layer(module, n, ir.FormatArgs(printed...), from, func(s *nn.Scope) nn.T {
			return block(s, x, c2, n, e)
		}), nil
	}
}
