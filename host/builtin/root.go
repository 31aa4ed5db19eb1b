// Package builtin builds YOLOForge's built-in plugins from source on demand,
// so that `go run ./host/cmd/yoloforge ...` works in a fresh clone without a
// separate build step.
//
// It only acts inside the YOLOForge source tree (found by walking up to the
// go.mod of module github.com/yoloforge/yoloforge). There, every
// plugins/<kind>s/<name>/ directory holding a main package is built into
// bin/plugins/yoloforge-plugin-<kind>-<name> whenever the binary is missing,
// older than its sources, or lacks a matching manifest; the manifest is
// then written through package registry. Outside the source tree nothing is
// done and installed plugins are used as found.
package builtin

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ModulePath is the module whose source tree this package builds from.
const ModulePath = "github.com/yoloforge/yoloforge"

// FindRoot walks up from dir to the directory whose go.mod declares
// ModulePath. ok is false when dir is not inside the YOLOForge source tree.
// A go.mod of another module on the way (say, an example with its own
// module) does not stop the walk.
func FindRoot(dir string) (root string, ok bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modulePath(data) == ModulePath {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// modulePath returns the path on go.mod's module line, or "" if there is
// none. It is a small parser rather than golang.org/x/mod so that this
// package stays free of dependencies; it handles comments and quoted paths.
func modulePath(gomod []byte) string {
	for _, line := range bytes.Split(gomod, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if i := strings.Index(s, "//"); i >= 0 {
			s = strings.TrimSpace(s[:i])
		}
		rest, ok := strings.CutPrefix(s, "module")
		if !ok || rest == "" || !strings.ContainsAny(rest[:1], " \t\"`") {
			continue // not the module directive (e.g. "modulex")
		}
		rest = strings.TrimSpace(rest)
		if strings.HasPrefix(rest, `"`) || strings.HasPrefix(rest, "`") {
			if u, err := strconv.Unquote(rest); err == nil {
				return u
			}
			return ""
		}
		return rest
	}
	return ""
}
