package builtin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/yoloforge/yoloforge/registry"
)

// Logf receives progress lines. It may be nil.
type Logf func(format string, args ...any)

// Options tunes EnsureBuiltWith. The zero value is what EnsureBuilt uses.
type Options struct {
	// Logf receives one line per plugin built; calls are serialized.
	Logf Logf
	// Jobs bounds concurrent builds; <= 0 means 2. Each go build already
	// uses every core for compiling, so more buys little.
	Jobs int
	// Env is the environment of go build and of the plugins run for their
	// manifests; nil means the current process's.
	Env []string
	// LookPath finds the go command; nil means exec.LookPath.
	LookPath func(file string) (string, error)
}

// Prepare makes the built-in plugins usable when workDir is inside the
// YOLOForge source tree and returns the tree's root, which callers should
// use as the registry's working directory so bin/plugins is searched.
// Outside the tree it does nothing and returns "".
func Prepare(ctx context.Context, workDir string, logf Logf) (root string, err error) {
	root, ok := FindRoot(workDir)
	if !ok {
		return "", nil
	}
	return root, EnsureBuilt(ctx, root, logf)
}

// EnsureBuilt builds every stale built-in plugin under root into
// bin/plugins and writes its manifest; see EnsureBuiltWith.
func EnsureBuilt(ctx context.Context, root string, logf Logf) error {
	_, err := EnsureBuiltWith(ctx, root, Options{Logf: logf})
	return err
}

// EnsureBuiltWith builds the stale built-in plugins under root (see Stale),
// at most opts.Jobs at a time, and returns those it built or re-registered.
// Each is compiled with `go build -o <tmp> ./plugins/<kind>s/<name>`, run
// with --yoloforge-manifest, moved into place with a rename and registered,
// so a crash or concurrent run never leaves a half-written binary under the
// final name. Every failure is reported, joined; one failing plugin does
// not stop the others.
func EnsureBuiltWith(ctx context.Context, root string, opts Options) ([]Plugin, error) {
	plugins, err := List(root)
	if err != nil || len(plugins) == 0 {
		return nil, err
	}
	if err := os.MkdirAll(BinDir(root), 0o755); err != nil {
		return nil, fmt.Errorf("build plugins: %w", err)
	}
	unlock, err := lockBinDir(BinDir(root))
	if err != nil {
		return nil, fmt.Errorf("build plugins: %w", err)
	}
	defer unlock()
	common, err := commonInputs(root)
	if err != nil {
		return nil, fmt.Errorf("check built-in plugins: %w", err)
	}
	type job struct {
		p Plugin
		s staleness
	}
	var jobs []job
	var needGo []Plugin
	for _, p := range plugins {
		s, err := checkStale(root, p, common)
		if err != nil {
			return nil, fmt.Errorf("check plugin %s: %w", p, err)
		}
		if s.reason == "" {
			continue
		}
		jobs = append(jobs, job{p, s})
		if s.compile {
			needGo = append(needGo, p)
		}
	}
	if len(jobs) == 0 {
		return nil, nil
	}

	lookPath := opts.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	goCmd, goErr := lookPath("go")
	if goErr != nil && len(needGo) > 0 {
		return nil, noGoError(root, needGo, goErr)
	}
	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		if opts.Logf != nil {
			logMu.Lock()
			defer logMu.Unlock()
			opts.Logf(format, args...)
		}
	}
	n := opts.Jobs
	if n <= 0 {
		n = 2
	}
	sem := make(chan struct{}, n)
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				errs[i] = fmt.Errorf("build plugin %s: %w", j.p, ctx.Err())
				return
			}
			// With go available, always recompile, even if only the
			// manifest is off: the binary might have been replaced by
			// something that is not what the sources say.
			if goErr == nil {
				logf("building plugin %s ...", j.p)
				errs[i] = compile(ctx, root, goCmd, j.p, opts.Env)
			} else {
				logf("registering plugin %s ...", j.p)
				errs[i] = register(ctx, j.p, opts.Env)
			}
		}()
	}
	wg.Wait()

	var built []Plugin
	for i, j := range jobs {
		if errs[i] == nil {
			built = append(built, j.p)
		}
	}
	return built, errors.Join(errs...)
}

// noGoError explains how to build the plugins by hand.
func noGoError(root string, ps []Plugin, cause error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "built-in plugins need building, but the go command was not found (%v); install Go or run:\n  cd %s", cause, root)
	for _, p := range ps {
		rel := filepath.ToSlash(filepath.Join(registry.LocalPluginDir, filepath.Base(p.Binary)))
		fmt.Fprintf(&b, " && go build -o %s %s", rel, p.Pkg)
	}
	return errors.New(b.String())
}

// compile compiles p into a temp dir beside its final place, describes and
// hashes it there, then renames it into place and writes its manifest.
func compile(ctx context.Context, root, goCmd string, p Plugin, env []string) error {
	tmpDir, err := os.MkdirTemp(filepath.Dir(p.Binary), ".build-"+p.Kind+"-"+p.Name+"-*")
	if err != nil {
		return fmt.Errorf("build plugin %s: %w", p, err)
	}
	defer os.RemoveAll(tmpDir)
	// Same base name as the final binary, so the manifest built from it
	// names the right file. go build refuses to overwrite a non-binary, so
	// the output must not pre-exist: hence a temp dir, not a temp file.
	tmp := filepath.Join(tmpDir, filepath.Base(p.Binary))

	start := time.Now()
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", tmp, p.Pkg)
	cmd.Dir = root
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build plugin %s: go build -o %s %s: %w\n%s", p, tmp, p.Pkg, err, strings.TrimSpace(string(out)))
	}
	// Date the binary to when the build began: a source saved while go
	// build ran is then newer than the binary and triggers a rebuild next
	// time instead of being silently missed.
	if err := os.Chtimes(tmp, start, start); err != nil {
		return fmt.Errorf("build plugin %s: %w", p, err)
	}
	m, err := describe(ctx, tmp, p, env)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, p.Binary); err != nil {
		return fmt.Errorf("build plugin %s: install binary: %w", p, err)
	}
	if err := registry.WriteManifest(p.Binary, m); err != nil {
		return fmt.Errorf("build plugin %s: %w", p, err)
	}
	return nil
}

// register rewrites the manifest of an up-to-date binary.
func register(ctx context.Context, p Plugin, env []string) error {
	m, err := describe(ctx, p.Binary, p, env)
	if err != nil {
		return err
	}
	if err := registry.WriteManifest(p.Binary, m); err != nil {
		return fmt.Errorf("register plugin %s: %w", p, err)
	}
	return nil
}

// describe runs the binary at path for its self-description and turns it
// into a manifest, checking it names p.
func describe(ctx context.Context, path string, p Plugin, env []string) (registry.Manifest, error) {
	desc, err := registry.Describe(ctx, path, env)
	if err != nil {
		return registry.Manifest{}, fmt.Errorf("plugin %s: %w", p, err)
	}
	m, err := registry.NewManifest(path, desc)
	if err != nil {
		return registry.Manifest{}, fmt.Errorf("plugin %s (source %s): %w", p, p.Pkg, err)
	}
	return m, nil
}
