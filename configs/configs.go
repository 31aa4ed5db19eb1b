// Package configs embeds the shipped model configs, so `yoloforge` works
// from any directory with a bare name such as `-c yolov5s`.
package configs

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed models/*.yaml
var files embed.FS

// Model returns the embedded model config called name (without .yaml).
func Model(name string) ([]byte, bool) {
	b, err := files.ReadFile("models/" + name + ".yaml")
	return b, err == nil
}

// Models lists the embedded model config names.
func Models() []string {
	entries, _ := fs.ReadDir(files, "models")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}
