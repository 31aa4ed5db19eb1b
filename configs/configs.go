// Package configs embeds the shipped model configs, so `yoloforge` works
// from any directory with a bare name such as `-c yolov5s`.
package configs

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed models/*.yaml hyps/*.yaml experiments/*.yaml
var files embed.FS

// Model returns the embedded model config called name (without .yaml).
func Model(name string) ([]byte, bool) { return get("models", name) }

// Hyp returns the embedded hyper-parameter file called name.
func Hyp(name string) ([]byte, bool) { return get("hyps", name) }

// Experiment returns the embedded experiment called name.
func Experiment(name string) ([]byte, bool) { return get("experiments", name) }

func get(dir, name string) ([]byte, bool) {
	b, err := files.ReadFile(dir + "/" + strings.TrimSuffix(name, ".yaml") + ".yaml")
	return b, err == nil
}

// Models lists the embedded model config names.
func Models() []string { return list("models") }

// Hyps lists the embedded hyper-parameter files.
func Hyps() []string { return list("hyps") }

func list(dir string) []string {
	entries, _ := fs.ReadDir(files, dir)
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}
