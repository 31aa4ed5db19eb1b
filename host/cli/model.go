package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/yoloforge/yoloforge/configs"
	"github.com/yoloforge/yoloforge/host/assemble"
	"github.com/yoloforge/yoloforge/host/config"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

// modelFlags are the flags shared by every verb that builds a model.
type modelFlags struct {
	cfg      string
	nc       int
	ncForced bool // nc comes from elsewhere (the dataset), not the flag
	sets     []string
}

func (f *modelFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.cfg, "cfg", "c", "yolov5s", "model config: a YAML file (native or the reference's layer list) or an embedded name ("+strings.Join(configs.Models(), ", ")+")")
	cmd.Flags().IntVar(&f.nc, "nc", 0, "number of classes (overrides the config; same as --set nc=N)")
	cmd.Flags().StringArrayVar(&f.sets, "set", nil, "override a config key, e.g. --set depth_multiple=0.5 (repeatable; beats YOLOFORGE_* variables)")
}

func (a *App) modelCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "model", Short: "Inspect models"}
	var mf modelFlags
	var imgsz int
	var asJSON bool
	info := &cobra.Command{
		Use:   "info",
		Short: "Print the layer table, parameters and GFLOPs of a model",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if imgsz < 32 || imgsz%32 != 0 {
				return fmt.Errorf("--imgsz must be a positive multiple of 32, got %d", imgsz)
			}
			g, err := a.buildModel(cmd, &mf)
			if err != nil {
				return err
			}
			sum, err := g.Summarize(imgsz)
			if err != nil {
				return fmt.Errorf("measure model: %w", err)
			}
			if asJSON {
				return writeJSON(a.Stdout, modelInfoJSON{Summary: sum, Modules: g.ModuleCount(), Config: mf.cfg})
			}
			printLayerTable(a.Stdout, sum, g.ModuleCount())
			if imgsz != 640 {
				fmt.Fprintf(a.Stdout, "(GFLOPs at %dx%d; exact count %.2f)\n", imgsz, imgsz, sum.GFLOPsExact)
			}
			return nil
		},
	}
	mf.register(info)
	info.Flags().IntVar(&imgsz, "imgsz", 640, "image size for GFLOPs and output shapes")
	info.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(info, a.modelForward(), a.modelConvert())
	return cmd
}

type modelInfoJSON struct {
	*ir.Summary
	Modules int    `json:"modules"`
	Config  string `json:"config"`
}

// buildModel loads the config (file < env < flags) and assembles its graph,
// launching plugins for a native config.
func (a *App) buildModel(cmd *cobra.Command, mf *modelFlags) (*ir.Graph, error) {
	src := config.Source{File: mf.cfg, Env: a.Env, Sets: mf.sets}
	if _, err := os.Stat(mf.cfg); err != nil {
		if data, ok := configs.Model(strings.TrimSuffix(mf.cfg, ".yaml")); ok && filepath.Base(mf.cfg) == mf.cfg {
			src.File = "embedded:" + mf.cfg
			src.Data = data
		}
	}
	if mf.nc > 0 && (cmd == nil || cmd.Flags().Changed("nc") || mf.ncForced) {
		src.Sets = append([]string{fmt.Sprintf("nc=%d", mf.nc)}, src.Sets...)
	}
	m, err := config.LoadModel(src)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if cmd != nil {
		ctx = cmd.Context()
	}
	if m.Format == config.FormatReference {
		return assemble.BuildReference(assemble.ReferenceOf(m))
	}
	cat, err := a.catalog(ctx)
	if err != nil {
		return nil, err
	}
	return assemble.BuildNative(ctx, &assemble.Native{
		File: m.File, NC: m.NC, DepthMultiple: m.DepthMultiple, WidthMultiple: m.WidthMultiple, Anchors: m.Anchors,
		Backbone: assemble.ComponentRef(m.Backbone), Neck: assemble.ComponentRef(m.Neck), Head: assemble.ComponentRef(m.Head),
	}, &pluginComponents{app: a, catalog: cat}, func(kind plugin.Kind, _ map[string]any, specs []plugin.ArgSpec) (map[string]any, error) {
		return m.ValidateComponent(kind, specs)
	})
}
