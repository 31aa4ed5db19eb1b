package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/yoloforge/yoloforge/host/config"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

// FuzzLoadModel checks that no file content, env value or --set flag makes
// loading or arg validation panic. `go test` runs the seeds only; run
// `go test -fuzz FuzzLoadModel ./host/config` to explore.
func FuzzLoadModel(f *testing.F) {
	f.Add(nativeYAML, "YOLOFORGE_NC=3", "backbone.args.width=2")
	f.Add("nc: 1\nbackbone: [[-1, 1, Conv, [1]]]\nhead: [[[0], 1, Detect, [nc]]]\nanchors: 3\n", "YOLOFORGE_BACKBONE__PLUGIN=x", "head=5")
	f.Add("backbone: {args: {a: {1: [.nan, .inf]}}}", "YOLOFORGE_ANCHORS=[[1e400]]", "neck.args.x={y: [1, {z: 2}]}")
	f.Add("- a", "YOLOFORGE_NECK__=1", "=")
	f.Add("anchors: [[1,2],[1,2,3,4]]\nnc: 9999999999999999999999", "YOLOFORGE_NC=-0x10", "nc.x.y=1")
	specs := []plugin.ArgSpec{
		{Name: "a", Type: plugin.ArgAny}, {Name: "width", Type: plugin.ArgInt},
		{Name: "l", Type: plugin.ArgFloatList}, {Name: "x", Type: plugin.ArgIntList},
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content, env, set string) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := config.LoadModel(config.Source{File: path, Env: []string{env}, Sets: []string{set}})
		if err != nil {
			return
		}
		for _, kind := range []plugin.Kind{plugin.KindBackbone, plugin.KindNeck, plugin.KindHead} {
			_, _ = m.ValidateComponent(kind, specs)
		}
	})
}
