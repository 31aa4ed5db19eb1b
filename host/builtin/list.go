package builtin

import (
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/yoloforge/yoloforge/registry"
)

// Plugin is one built-in plugin in the source tree.
type Plugin struct {
	Kind string
	Name string
	// Pkg is the package pattern handed to go build, relative to the
	// source root ("./plugins/backbones/cspdarknet").
	Pkg string
	// Dir is the absolute source directory.
	Dir string
	// Binary is the absolute path the plugin is built to.
	Binary string
}

// String returns "kind/name".
func (p Plugin) String() string { return p.Kind + "/" + p.Name }

// BinDir returns the directory built-in plugins are built into; the
// registry searches it as ./bin/plugins when run from root.
func BinDir(root string) string {
	return filepath.Join(root, filepath.FromSlash(registry.LocalPluginDir))
}

// List returns the built-in plugins under root: every directory
// plugins/<kind>s/<name>/ (plugins/deploy/<name>/ for deploy backends)
// whose Go files form package main, sorted by kind
// directory then name. A tree without plugins/ has none.
func List(root string) ([]Plugin, error) {
	base := filepath.Join(root, "plugins")
	kinds, err := os.ReadDir(base)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list built-in plugins: %w", err)
	}
	var out []Plugin
	for _, kd := range kinds {
		kind, plural := strings.CutSuffix(kd.Name(), "s")
		if kd.Name() == registry.KindDeploy { // "deploy" has no plural
			kind, plural = registry.KindDeploy, true
		}
		if !kd.IsDir() || !plural || registry.CheckName(kind, "x") != nil {
			continue
		}
		names, err := os.ReadDir(filepath.Join(base, kd.Name()))
		if err != nil {
			return nil, fmt.Errorf("list built-in plugins: %w", err)
		}
		for _, nd := range names {
			name := nd.Name()
			if !nd.IsDir() || registry.CheckName(kind, name) != nil {
				continue
			}
			dir := filepath.Join(base, kd.Name(), name)
			if !isMainPackage(dir) {
				continue
			}
			out = append(out, Plugin{
				Kind:   kind,
				Name:   name,
				Pkg:    "./plugins/" + kd.Name() + "/" + name,
				Dir:    dir,
				Binary: filepath.Join(BinDir(root), registry.BinaryName(kind, name)),
			})
		}
	}
	return out, nil
}

// isMainPackage reports whether dir's Go files (tests and files excluded by
// build constraints aside) are package main. go/build reads only the file
// headers and, for a directory, never runs the go command.
func isMainPackage(dir string) bool {
	pkg, err := build.ImportDir(dir, 0)
	// Name also reflects _test.go files, so require buildable files.
	return err == nil && pkg.Name == "main" && len(pkg.GoFiles) > 0
}
