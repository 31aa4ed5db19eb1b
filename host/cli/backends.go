package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/yoloforge/yoloforge/host/pluginhost"
	"github.com/yoloforge/yoloforge/registry"
	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

// deployBackend resolves and launches the deploy backend plugin called
// name (yoloforge-plugin-deploy-<name>); like components, it runs only
// when registered with a matching SHA-256.
func (a *App) deployBackend(ctx context.Context, cat *registry.Catalog, name string) (*pluginhost.Deploy, error) {
	spec, err := trustedSpec(cat, plugin.KindDeploy, name, "deploy backend")
	if err != nil {
		return nil, err
	}
	return a.manager().LaunchDeploy(ctx, spec)
}

func (a *App) backendsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "backends", Aliases: []string{"backend"}, Short: "Deploy backends: list them"}
	cmd.AddCommand(a.backendsList())
	return cmd
}

type backendRow struct {
	deploy.Info
	Path  string `json:"path"`
	Error string `json:"error,omitempty"`
}

func (a *App) backendsList() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the deploy backends found: version, precisions, formats and whether they can run inference here",
		Long: "Launches every deploy backend plugin found (yoloforge-plugin-deploy-<name>) and asks it to describe\n" +
			"itself. A backend that cannot be launched is listed with the reason.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := a.catalog(cmd.Context())
			if err != nil {
				return err
			}
			rows := []backendRow{}
			for _, e := range cat.Entries {
				if e.Kind != registry.KindDeploy || e.Shadowed() {
					continue
				}
				r := backendRow{Info: deploy.Info{Name: e.Name}, Path: e.Path}
				d, err := a.deployBackend(cmd.Context(), cat, e.Name)
				if err != nil {
					r.Error = err.Error()
				} else {
					r.Info = d.Info()
					d.Kill()
				}
				rows = append(rows, r)
			}
			if asJSON {
				return writeJSON(a.Stdout, map[string]any{"backends": rows})
			}
			if len(rows) == 0 {
				fmt.Fprintf(a.Stdout, "no deploy backends found (searched %s)\n", strings.Join(cat.SearchedPaths(), ", "))
				return nil
			}
			tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tPRECISIONS\tFORMATS\tINFER\tPATH")
			for _, r := range rows {
				infer := "yes"
				switch {
				case r.Error != "":
					infer = "error: " + firstLine(r.Error)
				case !r.CanInfer:
					infer = "no: " + dash(r.Reason)
				}
				var precs []string
				for _, p := range r.Precisions {
					precs = append(precs, string(p))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, dash(r.Version), dash(strings.Join(precs, ",")),
					dash(strings.Join(r.Formats, " ")), infer, r.Path)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
