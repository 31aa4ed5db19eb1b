package config_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/config"
)

// nativeYAML is a minimal valid native config; tests append to it or
// replace lines in it.
const nativeYAML = `nc: 80
depth_multiple: 0.33
width_multiple: 0.50
anchors:
  - [10,13, 16,30, 33,23]
  - [30,61, 62,45, 59,119]
  - [116,90, 156,198, 373,326]
backbone:
  plugin: cspdarknet
  args: {width: 1}
neck:
  plugin: pafpn
  args: {}
head:
  plugin: detect
  args: {}
`

// replaceLine swaps the line starting with prefix for repl ("" deletes it).
func replaceLine(doc, prefix, repl string) string {
	lines := strings.Split(doc, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			if repl == "" {
				return strings.Join(append(lines[:i:i], lines[i+1:]...), "\n")
			}
			lines[i] = repl
			return strings.Join(lines, "\n")
		}
	}
	Fail("no line starting with " + prefix)
	return ""
}

var _ = Describe("LoadModel", func() {
	Describe("the shipped native configs", func() {
		DescribeTable("load with their multiples and anchors",
			func(size string, depth, width float64, p3 []float64) {
				path := filepath.Join(repoRoot(), "configs", "models", "yolov5"+size+".yaml")
				m, err := config.LoadModel(config.Source{File: path})
				Expect(err).NotTo(HaveOccurred())
				Expect(m.Format).To(Equal(config.FormatNative))
				Expect(m.NC).To(Equal(80))
				Expect(m.DepthMultiple).To(Equal(depth))
				Expect(m.WidthMultiple).To(Equal(width))
				Expect(m.Anchors).To(HaveLen(3))
				Expect(m.Anchors[0]).To(Equal(p3))
				Expect(m.AnchorsPerLevel).To(Equal(3))
				Expect(m.Backbone).To(Equal(config.Component{Plugin: "cspdarknet", Args: map[string]any{}}))
				Expect(m.Neck.Plugin).To(Equal("pafpn"))
				Expect(m.Head.Plugin).To(Equal("detect"))
				for _, key := range []string{"nc", "depth_multiple", "width_multiple", "anchors", "backbone", "neck", "head"} {
					Expect(m.Origin).To(HaveKeyWithValue(key, path))
				}
			},
			Entry("n", "n", 0.33, 0.25, []float64{10, 13, 16, 30, 33, 23}),
			Entry("s (its own small anchors)", "s", 0.33, 0.50, []float64{3, 4, 4, 8, 7, 6}),
			Entry("m", "m", 0.67, 0.75, []float64{10, 13, 16, 30, 33, 23}),
			Entry("l", "l", 1.0, 1.0, []float64{10, 13, 16, 30, 33, 23}),
			Entry("x", "x", 1.33, 1.25, []float64{10, 13, 16, 30, 33, 23}),
		)
	})

	Describe("layering: file < env < --set", func() {
		type layers struct {
			env, sets []string
		}
		DescribeTable("nc and backbone.args.width take the highest layer",
			func(l layers, nc int, ncFrom string, width int, widthFrom string) {
				path := writeFile("m.yaml", nativeYAML)
				m, err := config.LoadModel(config.Source{File: path, Env: l.env, Sets: l.sets})
				Expect(err).NotTo(HaveOccurred())
				Expect(m.NC).To(Equal(nc))
				Expect(m.Backbone.Args).To(HaveKeyWithValue("width", width))
				Expect(m.Origin["nc"]).To(Equal(strings.Replace(ncFrom, "FILE", path, 1)))
				Expect(m.Origin["backbone"]).To(Equal(strings.Replace(widthFrom, "FILE", path, 1)))
				// Overriding one nested key keeps its siblings from the file.
				Expect(m.Backbone.Plugin).To(Equal("cspdarknet"))
				Expect(m.Origin).NotTo(HaveKey("backbone.plugin"))
			},
			Entry("file only", layers{}, 80, "FILE", 1, "FILE"),
			Entry("env overrides file",
				layers{env: []string{"YOLOFORGE_NC=10", "YOLOFORGE_BACKBONE__ARGS__WIDTH=2"}},
				10, "env YOLOFORGE_NC=10", 2, "env YOLOFORGE_BACKBONE__ARGS__WIDTH=2"),
			Entry("--set overrides env",
				layers{
					env:  []string{"YOLOFORGE_NC=10", "YOLOFORGE_BACKBONE__ARGS__WIDTH=2"},
					sets: []string{"nc=12", "backbone.args.width=3"},
				},
				12, "--set nc=12", 3, "--set backbone.args.width=3"),
			Entry("--set alone overrides file",
				layers{sets: []string{"nc=7", "backbone.args.width=4"}},
				7, "--set nc=7", 4, "--set backbone.args.width=4"),
			Entry("later --set wins",
				layers{sets: []string{"nc=7", "nc=8"}}, 8, "--set nc=8", 1, "FILE"),
		)

		It("reports dotted origins for the overrides still in effect", func() {
			path := writeFile("m.yaml", nativeYAML)
			m, err := config.LoadModel(config.Source{
				File: path,
				Env:  []string{"YOLOFORGE_BACKBONE__ARGS__WIDTH=2", "YOLOFORGE_NECK__ARGS__DEPTH=5"},
				Sets: []string{"backbone.args.width=3"},
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(m.Origin).To(HaveKeyWithValue("backbone.args.width", "--set backbone.args.width=3"))
			Expect(m.Origin).To(HaveKeyWithValue("neck.args.depth", "env YOLOFORGE_NECK__ARGS__DEPTH=5"))
			Expect(m.Origin).To(HaveKeyWithValue("neck", "env YOLOFORGE_NECK__ARGS__DEPTH=5"))
			Expect(m.Origin).To(HaveKeyWithValue("head", path))
		})

		It("parses env and --set values as YAML", func() {
			m, err := config.LoadModel(config.Source{
				File: writeFile("m.yaml", nativeYAML),
				Env: []string{
					"YOLOFORGE_DEPTH_MULTIPLE=0.5",
					"YOLOFORGE_BACKBONE__ARGS__LIST=[1,2]",
					"YOLOFORGE_BACKBONE__ARGS__FLAG=true",
					"YOLOFORGE_BACKBONE__ARGS__NAME=silu",
				},
				Sets: []string{"head.args.ratio=0.25", `head.args.label="10"`, "anchors=[[1,2,3,4]]", "neck.args={a: 1, b: [x]}"},
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(m.DepthMultiple).To(Equal(0.5))
			Expect(m.Backbone.Args).To(Equal(map[string]any{"width": 1, "list": []any{1, 2}, "flag": true, "name": "silu"}))
			Expect(m.Head.Args).To(Equal(map[string]any{"ratio": 0.25, "label": "10"}))
			Expect(m.Anchors).To(Equal([][]float64{{1, 2, 3, 4}}))
			Expect(m.AnchorsPerLevel).To(Equal(2))
			Expect(m.Neck.Args).To(Equal(map[string]any{"a": 1, "b": []any{"x"}}))
		})

		It("takes only YOLOFORGE_ variables naming a config key", func() {
			m, err := config.LoadModel(config.Source{
				File: writeFile("m.yaml", nativeYAML),
				Env: []string{
					"YOLOFORGE_PLUGIN_PATH=/opt/plugins", // another setting's
					"YOLOFORGE_LOG=debug",
					"NC=3", "yoloforge_nc=3", "PATH=/bin",
					"YOLOFORGE_NOEQUALS",
				},
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(m.NC).To(Equal(80))
			Expect(m.Origin).To(HaveKeyWithValue("nc", ContainSubstring("m.yaml")))
		})

		It("applies a whole-map variable before the nested ones that refine it", func() {
			m, err := config.LoadModel(config.Source{
				File: writeFile("m.yaml", nativeYAML),
				Env: []string{
					"YOLOFORGE_BACKBONE__PLUGIN=ghostnet",
					"YOLOFORGE_BACKBONE={plugin: other, args: {width: 9}}",
				},
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(m.Backbone.Plugin).To(Equal("ghostnet"))
			Expect(m.Backbone.Args).To(HaveKeyWithValue("width", 9))
			Expect(m.Origin["backbone.plugin"]).To(Equal("env YOLOFORGE_BACKBONE__PLUGIN=ghostnet"))
			Expect(m.Origin["backbone.args.width"]).To(Equal("env YOLOFORGE_BACKBONE={plugin: other, args: {width: 9}}"))
		})

		It("loads a config given entirely by --set", func() {
			m, err := config.LoadModel(config.Source{Sets: []string{
				"nc=3", "depth_multiple=1", "width_multiple=1", "anchors=[[10,13]]",
				"backbone.plugin=a", "neck.plugin=b", "head.plugin=c",
			}})
			Expect(err).NotTo(HaveOccurred())
			Expect(m.NC).To(Equal(3))
			Expect(m.DepthMultiple).To(Equal(1.0))
			Expect(m.Head).To(Equal(config.Component{Plugin: "c", Args: map[string]any{}}))
			Expect(m.Origin).To(HaveKeyWithValue("head", "--set head.plugin=c"))
		})
	})

	It("loads in-memory data under the given name, without reading a file", func() {
		m, err := config.LoadModel(config.Source{File: "embedded:yolov5s", Data: []byte(nativeYAML)})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.NC).To(Equal(80))
		Expect(m.Origin).To(HaveKeyWithValue("nc", "embedded:yolov5s"))

		_, err = config.LoadModel(config.Source{Data: []byte(replaceLine(nativeYAML, "nc:", "nc: x"))})
		Expect(err).To(MatchError(ContainSubstring(`model config: key "nc": expected an integer > 0, got string "x"`)))
		_, err = config.LoadModel(config.Source{File: "embedded:bad", Data: []byte("nc: [")})
		Expect(err).To(MatchError(HavePrefix("embedded:bad: invalid YAML: yaml: line 1")))
	})

	Describe("errors", func() {
		It("names a missing file", func() {
			_, err := config.LoadModel(config.Source{File: "configs/models/nope.yaml"})
			Expect(err).To(MatchError(ContainSubstring("configs/models/nope.yaml")))
			Expect(err).To(MatchError(ContainSubstring("read model config")))
			Expect(errors.Is(err, fs.ErrNotExist)).To(BeTrue())
		})

		type errCase struct {
			file string // file content; "" means no file
			env  []string
			sets []string
			want []string // substrings; FILE stands for the file path
		}
		DescribeTable("name the source, the key and the expected type",
			func(c errCase) {
				src := config.Source{Env: c.env, Sets: c.sets}
				if c.file != "" {
					src.File = writeFile("x.yaml", c.file)
				}
				m, err := config.LoadModel(src)
				Expect(m).To(BeNil())
				Expect(err).To(HaveOccurred())
				for _, w := range c.want {
					Expect(err.Error()).To(ContainSubstring(strings.ReplaceAll(w, "FILE", src.File)))
				}
			},
			Entry("wrong type in file", errCase{
				file: replaceLine(nativeYAML, "depth_multiple", "depth_multiple: abc"),
				want: []string{`FILE: key "depth_multiple": expected a number > 0, got string "abc"`},
			}),
			Entry("wrong type from --set", errCase{
				file: nativeYAML, sets: []string{"nc=ten"},
				want: []string{`--set nc=ten: key "nc": expected an integer > 0, got string "ten"`},
			}),
			Entry("wrong value from env", errCase{
				file: nativeYAML, env: []string{"YOLOFORGE_NC=0"},
				want: []string{`env YOLOFORGE_NC=0: key "nc": expected an integer > 0, got integer 0`},
			}),
			Entry("fractional nc", errCase{
				file: replaceLine(nativeYAML, "nc:", "nc: 2.5"),
				want: []string{`FILE: key "nc": expected an integer > 0, got float 2.5`},
			}),
			Entry("negative width_multiple", errCase{
				file: replaceLine(nativeYAML, "width_multiple", "width_multiple: -1"),
				want: []string{`FILE: key "width_multiple": expected a number > 0, got integer -1`},
			}),
			Entry("missing nc", errCase{
				file: replaceLine(nativeYAML, "nc:", ""),
				want: []string{`FILE: key "nc": missing required key; expected an integer > 0`},
			}),
			Entry("unknown top-level key, with a suggestion", errCase{
				file: nativeYAML + "depht_multiple: 1\n",
				want: []string{`FILE: key "depht_multiple": unknown key; did you mean "depth_multiple"?`,
					"known keys: nc, depth_multiple, width_multiple, anchors, backbone, neck, head"},
			}),
			Entry("unknown top-level key from --set", errCase{
				file: nativeYAML, sets: []string{"ch=3"},
				want: []string{`--set ch=3: key "ch": unknown key (known keys: nc, depth_multiple`},
			}),
			Entry("missing backbone.plugin", errCase{
				file: replaceLine(nativeYAML, "  plugin: cspdarknet", ""),
				want: []string{`FILE: key "backbone.plugin": missing required key; expected a plugin name (string)`},
			}),
			Entry("missing neck", errCase{
				file: strings.Replace(nativeYAML, "neck:\n  plugin: pafpn\n  args: {}\n", "", 1),
				want: []string{`FILE: key "neck": missing required key; expected a map with keys plugin and args`},
			}),
			Entry("plugin not a string", errCase{
				file: replaceLine(nativeYAML, "  plugin: detect", "  plugin: 5"),
				want: []string{`FILE: key "head.plugin": expected a plugin name (non-empty string), got integer 5`},
			}),
			Entry("args not a map", errCase{
				file: nativeYAML, sets: []string{"neck.args=[1]"},
				want: []string{`--set neck.args=[1]: key "neck.args": expected a map of plugin args, got list of 1 item`},
			}),
			Entry("unknown component key", errCase{
				file: replaceLine(nativeYAML, "  plugin: pafpn", "  plugn: pafpn"),
				want: []string{`FILE: key "neck.plugn": unknown key; did you mean "plugin"? (known keys: plugin, args)`,
					`FILE: key "neck.plugin": missing required key`},
			}),
			Entry("component not a map", errCase{
				file: nativeYAML, env: []string{"YOLOFORGE_HEAD=detect"},
				want: []string{`env YOLOFORGE_HEAD=detect: key "head": expected a map with keys plugin and args, got string "detect"`},
			}),
			Entry("list backbone over a native file", errCase{
				file: nativeYAML, sets: []string{"backbone=[[-1, 1, Conv, [64]]]"},
				want: []string{`--set backbone=[[-1, 1, Conv, [64]]]: key "backbone": expected a map with keys plugin and args, got list of 1 item`},
			}),
			Entry("anchors levels of different lengths", errCase{
				file: nativeYAML, sets: []string{"anchors=[[1,2,3,4],[1,2]]"},
				want: []string{`--set anchors=[[1,2,3,4],[1,2]]: key "anchors[1]": expected 4 numbers like anchors[0]`},
			}),
			Entry("anchors odd count", errCase{
				file: nativeYAML, sets: []string{"anchors=[[1,2,3]]"},
				want: []string{`key "anchors[0]": expected a non-empty list of w,h pixel pairs (an even count of numbers), got list of 3 items`},
			}),
			Entry("anchors non-number", errCase{
				file: replaceLine(nativeYAML, "  - [30,61", "  - [30,61, 62,x, 59,119]"),
				want: []string{`FILE: key "anchors[1][3]": expected a number > 0 (pixels), got string "x"`},
			}),
			Entry("anchors as a count in a native file", errCase{
				file: nativeYAML, sets: []string{"anchors=3"},
				want: []string{`--set anchors=3: key "anchors": expected a list of anchor levels`, "got integer 3"},
			}),
			Entry("all problems reported together", errCase{
				file: nativeYAML, sets: []string{"nc=x", "depth_multiple=0"},
				want: []string{`--set nc=x: key "nc"`, `--set depth_multiple=0: key "depth_multiple": expected a number > 0, got integer 0`},
			}),
			Entry("missing keys without a file", errCase{
				sets: []string{"backbone.args.width=2"},
				want: []string{`model config (no file): key "nc": missing required key`,
					`--set backbone.args.width=2: key "backbone.plugin": missing required key`},
			}),
			Entry("--set without =", errCase{
				file: nativeYAML, sets: []string{"nc10"},
				want: []string{`--set "nc10": expected key=value`},
			}),
			Entry("--set with an empty key segment", errCase{
				file: nativeYAML, sets: []string{"backbone..width=2"},
				want: []string{`--set backbone..width=2: malformed key "backbone..width"`},
			}),
			Entry("--set with invalid YAML", errCase{
				file: nativeYAML, sets: []string{"anchors=[[1,2"},
				want: []string{`--set anchors=[[1,2: invalid YAML value: yaml:`},
			}),
			Entry("env name with an empty segment", errCase{
				file: nativeYAML, env: []string{"YOLOFORGE_BACKBONE____WIDTH=2"},
				want: []string{`env YOLOFORGE_BACKBONE____WIDTH=2: malformed variable name`},
			}),
			Entry("env with invalid YAML", errCase{
				file: nativeYAML, env: []string{"YOLOFORGE_NC={"},
				want: []string{`env YOLOFORGE_NC={: invalid YAML value`},
			}),
			Entry("YAML syntax error", errCase{
				file: "nc: 80\nanchors: [[1,2]\n",
				want: []string{"FILE: invalid YAML: yaml: line"},
			}),
			Entry("top level is not a map", errCase{
				file: "- 1\n- 2\n",
				want: []string{"FILE: invalid YAML: yaml: unmarshal errors:", "line 1"},
			}),
			Entry("empty file", errCase{
				file: "# nothing\n",
				want: []string{`FILE: key "nc": missing required key`, `FILE: key "backbone": missing required key`},
			}),
		)

		It("returns a *KeyError for value problems", func() {
			_, err := config.LoadModel(config.Source{File: writeFile("x.yaml", nativeYAML), Sets: []string{"nc=ten"}})
			var ke *config.KeyError
			Expect(errors.As(err, &ke)).To(BeTrue())
			Expect(*ke).To(Equal(config.KeyError{Source: "--set nc=ten", Key: "nc", Msg: `expected an integer > 0, got string "ten"`}))
		})
	})
})
