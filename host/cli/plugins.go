package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/yoloforge/yoloforge/host/builtin"
	"github.com/yoloforge/yoloforge/registry"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

func (a *App) pluginsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Aliases: []string{"plugin"}, Short: "Find, verify, describe, build, register and scaffold plugins"}
	cmd.AddCommand(a.pluginsList(), a.pluginsVerify(), a.pluginsDescribe(), a.pluginsBuild(), a.pluginsRegister(), a.pluginNew())
	return cmd
}

type pluginRow struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Version    string `json:"version,omitempty"`
	Protocol   int    `json:"protocol_version,omitempty"`
	Path       string `json:"path"`
	Status     string `json:"status"`
	ShadowedBy string `json:"shadowed_by,omitempty"`
}

func (a *App) pluginsList() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the plugins found on the search path, in search order",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := a.catalog(cmd.Context())
			if err != nil {
				return err
			}
			rows := make([]pluginRow, 0, len(cat.Entries))
			for _, e := range cat.Entries {
				r := pluginRow{Kind: e.Kind, Name: e.Name, Path: e.Path, ShadowedBy: e.ShadowedBy, Status: "registered"}
				switch {
				case e.Manifest != nil:
					r.Version, r.Protocol = e.Manifest.Version, e.Manifest.ProtocolVersion
				case e.ManifestErr != nil:
					r.Status = "bad manifest: " + e.ManifestErr.Error()
				default:
					r.Status = "no manifest"
				}
				if e.Shadowed() {
					r.Status = "shadowed"
				}
				rows = append(rows, r)
			}
			if asJSON {
				return writeJSON(a.Stdout, map[string]any{"plugins": rows, "searched": cat.SearchedPaths()})
			}
			tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KIND\tNAME\tVERSION\tPROTOCOL\tSTATUS\tPATH")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.Kind, r.Name, dash(r.Version), r.Protocol, r.Status, r.Path)
			}
			tw.Flush()
			fmt.Fprintf(a.Stdout, "\nsearched: %s\n", strings.Join(cat.SearchedPaths(), string(filepath.ListSeparator)))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type verifyRow struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Path   string `json:"path"`
	OK     bool   `json:"ok"`
	Status string `json:"status"`
	SHA256 string `json:"sha256,omitempty"`
}

func (a *App) pluginsVerify() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check every plugin binary's SHA-256 against its manifest",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := a.catalog(cmd.Context())
			if err != nil {
				return err
			}
			var rows []verifyRow
			failed := 0
			for _, e := range cat.Active() {
				v := registry.Verify(e)
				rows = append(rows, verifyRow{Kind: e.Kind, Name: e.Name, Path: e.Path, OK: v.OK(), Status: v.String(), SHA256: v.Got})
				if !v.OK() {
					failed++
				}
			}
			if asJSON {
				if err := writeJSON(a.Stdout, map[string]any{"plugins": rows, "failed": failed}); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KIND\tNAME\tPATH\tSTATUS")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Kind, r.Name, r.Path, r.Status)
				}
				tw.Flush()
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d plugins failed verification; a binary that does not match its manifest will not be run", failed, len(rows))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *App) pluginsDescribe() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "describe KIND/NAME",
		Short: "Show a plugin's description and the schema of its arguments",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name, ok := strings.Cut(args[0], "/")
			if !ok {
				return fmt.Errorf("name the plugin as KIND/NAME, e.g. backbone/cspdarknet; got %q", args[0])
			}
			cat, err := a.catalog(cmd.Context())
			if err != nil {
				return err
			}
			comp, err := (&pluginComponents{app: a, catalog: cat}).Component(cmd.Context(), plugin.Kind(kind), name)
			if err != nil {
				return err
			}
			info, err := comp.Describe(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.Stdout, info)
			}
			fmt.Fprintf(a.Stdout, "%s/%s %s\n%s\n", info.Kind, info.Name, info.Version, info.Description)
			if len(info.Args) == 0 {
				fmt.Fprintln(a.Stdout, "\nno arguments")
				return nil
			}
			tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\nARG\tTYPE\tDEFAULT\tDESCRIPTION")
			for _, s := range info.Args {
				def := fmt.Sprint(s.Default)
				if s.Required {
					def = "(required)"
				} else if s.Default == nil {
					def = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Type, def, s.Description)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *App) pluginsBuild() *cobra.Command {
	return &cobra.Command{
		Use:   "build",
		Short: "Build the built-in plugins that are missing or older than their sources (in a source tree)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root, ok := builtin.FindRoot(a.WorkDir)
			if !ok {
				return fmt.Errorf("%s is not inside the YOLOForge source tree; built-in plugins are built from there", a.WorkDir)
			}
			built, err := builtin.EnsureBuiltWith(cmd.Context(), root, builtin.Options{Logf: func(f string, args ...any) {
				fmt.Fprintf(a.Stderr, f+"\n", args...)
			}})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "%d plugins built; all built-in plugins are up to date in %s\n", len(built), builtin.BinDir(root))
			return nil
		},
	}
}

func (a *App) pluginsRegister() *cobra.Command {
	return &cobra.Command{
		Use:   "register BINARY",
		Short: "Trust a plugin binary: ask it to describe itself and write its manifest with its SHA-256",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			desc, err := registry.Describe(context.WithoutCancel(cmd.Context()), path, a.Env)
			if err != nil {
				return err
			}
			m, err := registry.Register(path, desc)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "registered %s/%s %s (sha256 %s)\nmanifest: %s\n", m.Kind, m.Name, m.Version, m.SHA256, registry.ManifestPath(path))
			return nil
		},
	}
}
