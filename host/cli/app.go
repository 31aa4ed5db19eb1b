// Package cli is the yoloforge command line: verbs grouped by noun, each
// reporting verb with --json. It wires config, registry, plugin host and
// assembler together; nothing below it knows about flags or terminals.
package cli

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/yoloforge/yoloforge/host/builtin"
	"github.com/yoloforge/yoloforge/host/pluginhost"
	"github.com/yoloforge/yoloforge/registry"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

// App carries what every command needs from the outside world, so the
// whole CLI runs in tests without touching process globals.
type App struct {
	Stdout, Stderr io.Writer
	Env            []string // os.Environ() form
	WorkDir        string

	pluginDirs []string
	logLevel   string
	mgr        *pluginhost.Manager
}

// NewApp returns an App on the process's streams and environment.
func NewApp() *App {
	wd, _ := os.Getwd()
	return &App{Stdout: os.Stdout, Stderr: os.Stderr, Env: os.Environ(), WorkDir: wd}
}

// resolve makes a relative path relative to the App's working directory.
func (a *App) resolve(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(a.WorkDir, p)
}

func (a *App) lookupEnv(key string) (string, bool) {
	prefix := key + "="
	for i := len(a.Env) - 1; i >= 0; i-- {
		if strings.HasPrefix(a.Env[i], prefix) {
			return a.Env[i][len(prefix):], true
		}
	}
	return "", false
}

// Run executes the command line args (without the program name) and
// returns the process exit code. Every plugin started is stopped before it
// returns, also on SIGINT and SIGTERM.
func (a *App) Run(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(a.Stdout)
	root.SetErr(a.Stderr)
	defer a.shutdown()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(a.Stderr, "yoloforge: %v\n", err)
		return 1
	}
	return 0
}

func (a *App) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "yoloforge",
		Short:         "Assemble, measure and run YOLOv5-family detectors built from plugins",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringArrayVar(&a.pluginDirs, "plugin-dir", nil, "extra directory to search for plugins first (repeatable)")
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "warn", "log level of the host and its plugins (trace, debug, info, warn, error)")
	root.AddCommand(a.modelCommand(), a.pluginsCommand(), a.envCommand(), a.benchCommand(), a.metricsCommand(),
		a.trainCommand(), a.valCommand(), a.detectCommand(), a.demoCommand(), a.dataCommand(),
		a.exportCommand(), a.backendsCommand(), a.conformanceCommand())
	return root
}

func (a *App) logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "yoloforge", Output: a.Stderr, Level: hclog.LevelFromString(a.logLevel)})
}

// manager starts the plugin manager on first use.
func (a *App) manager() *pluginhost.Manager {
	if a.mgr == nil {
		a.mgr = pluginhost.NewManager(pluginhost.Options{Logger: a.logger()})
		a.mgr.KillOnSignals()
	}
	return a.mgr
}

func (a *App) shutdown() {
	if a.mgr != nil {
		a.mgr.Shutdown()
	}
}

// catalog builds stale built-in plugins (in a source tree) and discovers
// every plugin on the search path.
func (a *App) catalog(ctx context.Context) (*registry.Catalog, error) {
	root, err := builtin.Prepare(ctx, a.WorkDir, func(format string, args ...any) {
		fmt.Fprintf(a.Stderr, format+"\n", args...)
	})
	if err != nil {
		return nil, fmt.Errorf("prepare built-in plugins: %w", err)
	}
	workDir := a.WorkDir
	if root != "" {
		workDir = root
	}
	return registry.Discover(registry.DiscoverOptions{Dirs: a.pluginDirs, WorkDir: workDir, LookupEnv: a.lookupEnv})
}

// pluginComponents launches components on demand for the assembler.
type pluginComponents struct {
	app     *App
	catalog *registry.Catalog
}

func (c *pluginComponents) Component(ctx context.Context, kind plugin.Kind, name string) (plugin.Component, error) {
	spec, err := trustedSpec(c.catalog, kind, name, "plugin")
	if err != nil {
		return nil, err
	}
	return c.app.manager().Launch(ctx, spec)
}

// trustedSpec resolves the plugin of kind called name and returns its
// launch spec with the SHA-256 its manifest pins; a plugin without a
// manifest is refused (what names it in the message: "plugin", "deploy
// backend").
func trustedSpec(cat *registry.Catalog, kind plugin.Kind, name, what string) (pluginhost.Spec, error) {
	e, err := cat.Resolve(string(kind), name)
	if err != nil {
		return pluginhost.Spec{}, err
	}
	if e.Manifest == nil {
		why := "it has no manifest"
		if e.ManifestErr != nil {
			why = e.ManifestErr.Error()
		}
		return pluginhost.Spec{}, fmt.Errorf("%s %s is not registered (%s); run `yoloforge plugins register %s` if you trust it", what, e.Path, why, e.Path)
	}
	sum, err := hex.DecodeString(e.Manifest.SHA256)
	if err != nil {
		return pluginhost.Spec{}, fmt.Errorf("manifest of %s: bad sha256 %q: %w", e.Path, e.Manifest.SHA256, err)
	}
	return pluginhost.Spec{Path: e.Path, Name: name, Kind: kind, SHA256: sum}, nil
}
