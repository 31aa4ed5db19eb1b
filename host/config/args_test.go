package config_test

import (
	"math"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/config"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

const where = "configs/models/x.yaml: backbone.args"

var specs = []plugin.ArgSpec{
	{Name: "width", Type: plugin.ArgInt, Default: 64},
	{Name: "ratio", Type: plugin.ArgFloat, Default: 0.5},
	{Name: "act", Type: plugin.ArgString, Default: "silu"},
	{Name: "se", Type: plugin.ArgBool},
	{Name: "kernels", Type: plugin.ArgIntList, Default: []any{5, 9, 13}},
	{Name: "scales", Type: plugin.ArgFloatList},
	{Name: "extra", Type: plugin.ArgAny},
	{Name: "depth", Type: plugin.ArgInt, Required: true},
}

var _ = Describe("ValidateArgs", func() {
	It("fills defaults and normalises numbers", func() {
		args := map[string]any{"depth": 3}
		out, err := config.ValidateArgs(where, args, specs)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(map[string]any{
			"width":   int64(64),
			"ratio":   0.5,
			"act":     "silu",
			"kernels": []any{int64(5), int64(9), int64(13)},
			"depth":   int64(3),
		}))
		Expect(args).To(Equal(map[string]any{"depth": 3}), "the input is left alone")
	})

	DescribeTable("accepts and converts",
		func(name string, in, want any) {
			out, err := config.ValidateArgs(where, map[string]any{"depth": 1, name: in}, specs)
			Expect(err).NotTo(HaveOccurred())
			Expect(out[name]).To(Equal(want))
		},
		Entry("an int for a float", "ratio", 1, 1.0),
		Entry("an integral float for an int", "width", 32.0, int64(32)),
		Entry("a uint64 for an int", "width", uint64(7), int64(7)),
		Entry("ints in a list(float)", "scales", []any{1, 0.5}, []any{1.0, 0.5}),
		Entry("a bool", "se", true, true),
		Entry("an empty list", "kernels", []any{}, []any{}),
		Entry("any value, made JSON-ready", "extra",
			map[any]any{1: []any{2, "x", map[string]any{"k": 1.5}}, "n": nil},
			map[string]any{"1": []any{int64(2), "x", map[string]any{"k": 1.5}}, "n": nil}),
	)

	It("takes a default that travelled as JSON (float64 for an int)", func() {
		out, err := config.ValidateArgs(where, nil, []plugin.ArgSpec{{Name: "c", Type: plugin.ArgInt, Default: float64(256)}})
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(map[string]any{"c": int64(256)}))
	})

	DescribeTable("rejects, naming where, the arg, the expected type and what was found",
		func(args map[string]any, specs []plugin.ArgSpec, want ...string) {
			out, err := config.ValidateArgs(where, args, specs)
			Expect(out).To(BeNil())
			Expect(err).To(HaveOccurred())
			for _, w := range want {
				Expect(err.Error()).To(ContainSubstring(w))
			}
		},
		Entry("string for int", map[string]any{"depth": 1, "width": "x"}, specs,
			where+`: arg "width": expected an integer, got string "x"`),
		Entry("fraction for int", map[string]any{"depth": 2.5}, specs,
			where+`: arg "depth": expected an integer, got float 2.5`),
		Entry("bool for float", map[string]any{"depth": 1, "ratio": true}, specs,
			where+`: arg "ratio": expected a number, got bool true`),
		Entry("NaN for float", map[string]any{"depth": 1, "ratio": math.NaN()}, specs,
			where+`: arg "ratio": expected a number, got float NaN`),
		Entry("string for bool", map[string]any{"depth": 1, "se": "yes"}, specs,
			where+`: arg "se": expected a bool, got string "yes"`),
		Entry("int for string", map[string]any{"depth": 1, "act": 5}, specs,
			where+`: arg "act": expected a string, got integer 5`),
		Entry("scalar for list", map[string]any{"depth": 1, "kernels": 5}, specs,
			where+`: arg "kernels": expected a list(int), got integer 5`),
		Entry("bad list element", map[string]any{"depth": 1, "scales": []any{1, "a"}}, specs,
			where+`: arg "scales": list(float) element [1]: expected a number, got string "a"`),
		Entry("Inf inside any", map[string]any{"depth": 1, "extra": []any{math.Inf(1)}}, specs,
			where+`: arg "extra": expected a value representable as JSON, got float +Inf`),
		Entry("missing required", map[string]any{}, specs,
			where+`: missing required arg "depth" (int)`),
		Entry("unknown arg, listing the known ones", map[string]any{"depth": 1, "widht": 2, "zz": 1}, specs,
			where+`: unknown arg "widht"; did you mean "width"? (known args: width, ratio, act, se, kernels, scales, extra, depth)`,
			where+`: unknown arg "zz" (known args: width,`),
		Entry("any arg when none are known", map[string]any{"x": 1}, nil,
			where+`: unknown arg "x" (this component takes no args)`),
		Entry("an invalid schema default", nil, []plugin.ArgSpec{{Name: "c", Type: plugin.ArgInt, Default: "big"}},
			where+`: arg "c": plugin schema default is invalid: expected an integer, got string "big"`),
		Entry("an unknown schema type", map[string]any{"c": 1}, []plugin.ArgSpec{{Name: "c", Type: "tensor"}},
			where+`: arg "c": plugin schema: unknown arg type "tensor"`),
		Entry("a duplicate schema name", nil, []plugin.ArgSpec{{Name: "c", Type: plugin.ArgInt}, {Name: "c", Type: plugin.ArgInt}},
			where+`: plugin schema: arg name "c" is empty or declared twice`),
	)
})

var _ = Describe("Model.ValidateComponent", func() {
	It("blames each bad arg on the layer that set it", func() {
		path := writeFile("m.yaml", strings.Replace(nativeYAML, "args: {width: 1}", "args: {width: 1, bad: 2}", 1))
		m, err := config.LoadModel(config.Source{File: path, Sets: []string{"backbone.args.width=x"}})
		Expect(err).NotTo(HaveOccurred())
		_, err = m.ValidateComponent(plugin.KindBackbone, specs)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring(`--set backbone.args.width=x: backbone.args: arg "width": expected an integer, got string "x"`))
		Expect(err.Error()).To(ContainSubstring(path + `: backbone.args: unknown arg "bad"`))
		Expect(err.Error()).To(ContainSubstring(path + `: backbone.args: missing required arg "depth" (int)`))
	})

	It("validates each kind's args", func() {
		m, err := config.LoadModel(config.Source{File: writeFile("m.yaml", nativeYAML), Env: []string{"YOLOFORGE_HEAD__ARGS__DEPTH=2"}})
		Expect(err).NotTo(HaveOccurred())
		out, err := m.ValidateComponent(plugin.KindHead, specs)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(HaveKeyWithValue("depth", int64(2)))
		Expect(out).To(HaveKeyWithValue("width", int64(64)))
		out, err = m.ValidateComponent(plugin.KindNeck, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(BeEmpty())
		_, err = m.ValidateComponent("tail", nil)
		Expect(err).To(MatchError(ContainSubstring(`unknown component kind "tail"`)))
	})

	It("refuses a reference-format model", func() {
		m := &config.Model{Format: config.FormatReference, File: "r.yaml"}
		_, err := m.ValidateComponent(plugin.KindBackbone, nil)
		Expect(err).To(MatchError(ContainSubstring("r.yaml: validate backbone args: a reference-format config has no plugin components")))
	})

	It("works on a hand-built model", func() {
		m := &config.Model{Format: config.FormatNative, File: "h.yaml", Neck: config.Component{Plugin: "p", Args: map[string]any{"q": 1}}}
		_, err := m.ValidateComponent(plugin.KindNeck, nil)
		Expect(err).To(MatchError(ContainSubstring(`h.yaml: neck.args: unknown arg "q"`)))
	})
})
