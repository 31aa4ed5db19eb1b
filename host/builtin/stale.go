package builtin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/yoloforge/yoloforge/registry"
)

// newest is the most recently modified input found so far.
type newest struct {
	path string
	mod  time.Time
}

func (n *newest) consider(path string, mod time.Time) {
	if mod.After(n.mod) {
		n.path, n.mod = path, mod
	}
}

// commonInputs returns the newest input shared by all plugins: .go files
// under sdk/ (plugins import the SDK), go.mod and go.sum.
func commonInputs(root string) (newest, error) {
	var n newest
	if err := newestGo(filepath.Join(root, "sdk"), &n); err != nil {
		return newest{}, err
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		p := filepath.Join(root, f)
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return newest{}, fmt.Errorf("stat %s: %w", p, err)
		default:
			n.consider(p, fi.ModTime())
		}
	}
	return n, nil
}

// newestGo folds into n the non-test .go files under dir, skipping what the
// go command ignores (testdata, names starting with '.' or '_') and nested
// modules. A missing dir contributes nothing.
func newestGo(dir string, n *newest) error {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != dir {
				if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
					return fs.SkipDir
				}
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return fs.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n.consider(path, fi.ModTime())
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan sources under %s: %w", dir, err)
	}
	return nil
}

// staleness says whether and why a plugin must be rebuilt or re-registered.
type staleness struct {
	reason string // empty when up to date
	// compile is false when the binary is current and only its manifest
	// needs rewriting, which does not need the go command.
	compile bool
}

func checkStale(root string, p Plugin, common newest) (staleness, error) {
	fi, err := os.Stat(p.Binary)
	if errors.Is(err, fs.ErrNotExist) {
		return staleness{reason: "binary missing", compile: true}, nil
	}
	if err != nil {
		return staleness{}, fmt.Errorf("stat %s: %w", p.Binary, err)
	}
	n := common
	if err := newestGo(p.Dir, &n); err != nil {
		return staleness{}, err
	}
	if n.mod.After(fi.ModTime()) {
		rel, err := filepath.Rel(root, n.path)
		if err != nil {
			rel = n.path
		}
		return staleness{reason: filepath.ToSlash(rel) + " is newer than the binary", compile: true}, nil
	}
	e, err := registry.Inspect(p.Binary)
	if err != nil {
		return staleness{}, err
	}
	switch v := registry.Verify(e); v.Status {
	case registry.VerifyOK:
		return staleness{}, nil
	case registry.VerifyUnreadable:
		return staleness{reason: v.String(), compile: true}, nil
	default:
		return staleness{reason: v.String()}, nil
	}
}

// Stale reports why the plugin p under root must be rebuilt, or "" when it
// is up to date: its binary is missing, older than any .go file in its
// directory or under sdk/, or than go.mod or go.sum, or its manifest is
// missing, invalid or does not match the binary's hash.
func Stale(root string, p Plugin) (reason string, err error) {
	common, err := commonInputs(root)
	if err != nil {
		return "", err
	}
	s, err := checkStale(root, p, common)
	return s.reason, err
}
