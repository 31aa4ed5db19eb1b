package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
)

// PluginPathEnv names the environment variable holding extra plugin
// directories, separated by os.PathListSeparator.
const PluginPathEnv = "YOLOFORGE_PLUGIN_PATH"

// LocalPluginDir is the per-project plugin directory (slash-separated),
// relative to the working directory; built-in plugins are built into it.
const LocalPluginDir = "bin/plugins"

// Source says why a directory was searched.
type Source string

const (
	SourceExplicit   Source = "explicit"    // DiscoverOptions.Dirs
	SourcePluginPath Source = PluginPathEnv // $YOLOFORGE_PLUGIN_PATH
	SourceLocal      Source = "./bin/plugins"
	SourceGOBIN      Source = "GOBIN"
	SourceGOPATH     Source = "GOPATH"
	SourceHome       Source = "HOME" // $HOME/go/bin, go install's default
)

// DiscoverOptions configures Discover. Every input from the environment can
// be injected; the zero value searches like the yoloforge command does.
type DiscoverOptions struct {
	// Dirs are searched first, in order. Relative ones are taken relative
	// to WorkDir.
	Dirs []string
	// WorkDir anchors ./bin/plugins and relative directories. Empty means
	// the process's working directory.
	WorkDir string
	// LookupEnv reads environment variables. Nil means os.LookupEnv; tests
	// pass a map-backed function to stay hermetic.
	LookupEnv func(key string) (string, bool)
}

// SearchDir is one directory Discover looked in.
type SearchDir struct {
	Path   string // absolute, cleaned
	Source Source
	// Err is set when the directory exists but could not be listed. A
	// directory that does not exist is not an error.
	Err error
}

// Entry is one plugin executable found on disk.
type Entry struct {
	Kind string
	Name string
	Path string // absolute path to the executable
	Dir  string // the search directory it was found in
	// Manifest is the parsed manifest beside the binary; nil when there is
	// none or it could not be used.
	Manifest *Manifest
	// ManifestErr says why an existing manifest could not be used
	// (unreadable, malformed, or describing another plugin). It is nil when
	// the manifest is fine and when there is none at all.
	ManifestErr error
	// ShadowedBy is the Path of an earlier entry with the same kind and
	// name, which wins; empty for the entry that is used.
	ShadowedBy string
}

// Shadowed reports whether an earlier entry with the same kind and name
// hides this one.
func (e *Entry) Shadowed() bool { return e.ShadowedBy != "" }

// Catalog is the result of Discover.
type Catalog struct {
	// Searched lists the directories in search order, duplicates removed.
	Searched []SearchDir
	// Entries lists every plugin found, in search order and, within a
	// directory, by file name. Shadowed entries are included and marked.
	Entries []Entry
}

// Discover searches for plugin executables in, in order: opts.Dirs, each
// directory of $YOLOFORGE_PLUGIN_PATH, ./bin/plugins under the working
// directory, then $GOBIN, else the first $GOPATH entry's bin, else
// $HOME/go/bin. Per-directory problems are recorded in Catalog.Searched
// rather than failing the whole search, since one unreadable directory must
// not hide plugins elsewhere.
func Discover(opts DiscoverOptions) (*Catalog, error) {
	dirs, err := searchDirs(opts)
	if err != nil {
		return nil, err
	}
	cat := &Catalog{Searched: dirs}
	winners := map[[2]string]string{} // kind,name -> path of the first entry
	for i := range cat.Searched {
		sd := &cat.Searched[i]
		entries, err := scanDir(sd.Path)
		if err != nil {
			sd.Err = err
			continue
		}
		for _, e := range entries {
			key := [2]string{e.Kind, e.Name}
			if first, ok := winners[key]; ok {
				e.ShadowedBy = first
			} else {
				winners[key] = e.Path
			}
			cat.Entries = append(cat.Entries, e)
		}
	}
	return cat, nil
}

// searchDirs returns the directories to search, in order, made absolute and
// de-duplicated so that a directory reached twice (say GOBIN also listed in
// YOLOFORGE_PLUGIN_PATH) does not shadow its own plugins.
func searchDirs(opts DiscoverOptions) ([]SearchDir, error) {
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	getenv := func(k string) string { v, _ := lookup(k); return v }
	wd := opts.WorkDir
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("discover plugins: working directory: %w", err)
		}
	}
	if !filepath.IsAbs(wd) {
		var err error
		if wd, err = filepath.Abs(wd); err != nil {
			return nil, fmt.Errorf("discover plugins: working directory %s: %w", opts.WorkDir, err)
		}
	}

	var out []SearchDir
	seen := map[string]bool{}
	add := func(dir string, src Source) {
		if dir == "" {
			return
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(wd, dir)
		}
		dir = filepath.Clean(dir)
		if seen[dir] {
			return
		}
		seen[dir] = true
		out = append(out, SearchDir{Path: dir, Source: src})
	}

	for _, d := range opts.Dirs {
		add(d, SourceExplicit)
	}
	for _, d := range filepath.SplitList(getenv(PluginPathEnv)) {
		add(d, SourcePluginPath)
	}
	add(filepath.FromSlash(LocalPluginDir), SourceLocal)
	// Where `go install` puts binaries, mirroring its own precedence.
	switch {
	case getenv("GOBIN") != "":
		add(getenv("GOBIN"), SourceGOBIN)
	case firstPathListEntry(getenv("GOPATH")) != "":
		add(filepath.Join(firstPathListEntry(getenv("GOPATH")), "bin"), SourceGOPATH)
	default:
		home := getenv("HOME")
		if home == "" && runtime.GOOS == "windows" {
			home = getenv("USERPROFILE")
		}
		if home != "" {
			add(filepath.Join(home, "go", "bin"), SourceHome)
		}
	}
	return out, nil
}

func firstPathListEntry(list string) string {
	for _, p := range filepath.SplitList(list) {
		if p != "" {
			return p
		}
	}
	return ""
}

// scanDir returns the plugin executables directly inside dir, sorted by
// file name. A missing directory yields no entries and no error.
func scanDir(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list plugin dir %s: %w", dir, err)
	}
	var out []Entry
	for _, de := range des { // ReadDir sorts by name
		if _, _, ok := ParseBinaryName(de.Name()); !ok {
			continue
		}
		path := filepath.Join(dir, de.Name())
		// Stat, not de.Info: symlinked plugins are common (ln -s into a
		// PATH dir) and must count as the file they point at.
		fi, err := os.Stat(path)
		if err != nil || !isExecutable(fi) {
			continue
		}
		e, err := Inspect(path)
		if err != nil {
			continue // unreachable: the name was checked above
		}
		e.Dir = dir
		out = append(out, e)
	}
	return out, nil
}

// isExecutable reports whether fi is a regular file the OS would run. On
// Windows the name (.exe) decides, which ParseBinaryName already checked.
func isExecutable(fi fs.FileInfo) bool {
	if !fi.Mode().IsRegular() {
		return false
	}
	return runtime.GOOS == "windows" || fi.Mode().Perm()&0o111 != 0
}

// Inspect describes the plugin binary at path without searching: kind and
// name from the file name, plus its manifest if any. It fails only when the
// file name is not a plugin name; the binary itself need not exist.
func Inspect(path string) (Entry, error) {
	kind, name, ok := ParseBinaryName(filepath.Base(path))
	if !ok {
		return Entry{}, fmt.Errorf("inspect %s: file name is not of the form %s", path, BinaryName("<kind>", "<name>"))
	}
	e := Entry{Kind: kind, Name: name, Path: path, Dir: filepath.Dir(path)}
	m, err := ReadManifest(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No manifest: plugins installed with plain `go install` have none.
	case err != nil:
		e.ManifestErr = err
	case m.Kind != kind || m.Name != name:
		e.ManifestErr = fmt.Errorf("manifest %s describes %s/%s, but the binary is named for %s/%s",
			ManifestPath(path), m.Kind, m.Name, kind, name)
	default:
		e.Manifest = m
	}
	return e, nil
}

// Active returns the entries that are not shadowed, i.e. the plugins that
// Resolve can return.
func (c *Catalog) Active() []Entry {
	var out []Entry
	for _, e := range c.Entries {
		if !e.Shadowed() {
			out = append(out, e)
		}
	}
	return out
}

// Kinds returns the distinct kinds found, sorted.
func (c *Catalog) Kinds() []string {
	set := map[string]bool{}
	for _, e := range c.Entries {
		set[e.Kind] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SearchedPaths returns the searched directories' paths, in order.
func (c *Catalog) SearchedPaths() []string {
	out := make([]string, len(c.Searched))
	for i, d := range c.Searched {
		out[i] = d.Path
	}
	return out
}

// Resolve returns the plugin of the given kind and name that wins the search
// order; see the package-level Resolve.
func (c *Catalog) Resolve(kind, name string) (Entry, error) {
	return Resolve(c.Entries, kind, name, c.SearchedPaths()...)
}
