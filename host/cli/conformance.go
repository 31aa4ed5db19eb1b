package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/yoloforge/yoloforge/configs"
	"github.com/yoloforge/yoloforge/host/conformance"
	"github.com/yoloforge/yoloforge/internal/fixtures"
	"github.com/yoloforge/yoloforge/sdk/deploy"
)

// conformanceModel is a whole model the conformance command can check.
type conformanceModel struct {
	name    string
	cfg     string
	nc      int
	weights string // "" for seeded random weights
	input   string // raw float32 image; "" for a seeded random one
	imgsz   int
}

// conformanceModels lists the golden models (when the fixtures are
// there) and every embedded native config at imgsz.
func conformanceModels(imgsz int) (models []conformanceModel, notes []string) {
	if dir, err := fixtures.Dir(); err == nil {
		for _, m := range []string{"yolov5n", "yolov5s"} {
			w := filepath.Join(dir, "golden", m+"-320.onnx")
			if _, err := os.Stat(w); err != nil {
				notes = append(notes, fmt.Sprintf("golden %s skipped: %v", m, err))
				continue
			}
			models = append(models, conformanceModel{name: "golden-" + m, cfg: m, nc: 10, weights: w,
				input: filepath.Join(dir, "golden", "input-1x3x320x320.f32"), imgsz: 320})
		}
	} else {
		notes = append(notes, "golden models skipped: no fixtures directory ("+err.Error()+")")
	}
	for _, m := range configs.Models() {
		models = append(models, conformanceModel{name: m, cfg: m, nc: 80, imgsz: imgsz})
	}
	return models, notes
}

func (a *App) conformanceCommand() *cobra.Command {
	var ef engineFlags
	var backend, models, precisions, ops string
	var imgsz, iterations int
	var seed uint64
	var asJSON, convertOnly bool
	var keep string
	var tolerances []string
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Check a deploy backend against the engine: every op it declares, then whole models",
		Long: "Runs every IR op the backend declares in a one-node graph with seeded random weights, at each\n" +
			"precision it declares, through the backend (convert, load, infer, time) and through the engine, and\n" +
			"compares the outputs: |backend - engine| <= abs + rel*|engine| with (abs, rel) = (1e-4, 1e-3) for fp32,\n" +
			"(1e-2, 1e-2) for fp16 and (0.1, 0.1) for int8; whole models at fp16 and int8 are held to\n" +
			"abs + rel*max|engine output| with (1e-2, 2e-2) and (0.1, 0.1) (--tolerance overrides).\n" +
			"Then whole models: the golden yolov5n and yolov5s\n" +
			"(320 px, the reference's weights and input, when ../shared/fixtures exists) and every embedded config\n" +
			"at --imgsz with seeded random weights. Prints one row per check and exits non-zero when any fails,\n" +
			"naming the op or model. A backend that cannot run inference here fails, unless --convert-only asks\n" +
			"for its conversions alone to be checked.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if backend == "" {
				return fmt.Errorf("--backend is required")
			}
			e, err := ef.open()
			if err != nil {
				return err
			}
			cat, err := a.catalog(cmd.Context())
			if err != nil {
				return err
			}
			be, err := a.deployBackend(cmd.Context(), cat, backend)
			if err != nil {
				return err
			}
			opts := conformance.Options{Backend: be, Engine: e, Seed: seed, Iterations: iterations, ConvertOnly: convertOnly, WorkDir: keep}
			for _, t := range tolerances {
				kind, rest, _ := strings.Cut(t, ":")
				if rest == "" {
					kind, rest = "both", t
				}
				prec, vals, ok := strings.Cut(rest, "=")
				absS, relS, ok2 := strings.Cut(vals, ",")
				abs, err1 := strconv.ParseFloat(absS, 64)
				rel, err2 := strconv.ParseFloat(relS, 64)
				if !ok || !ok2 || err1 != nil || err2 != nil || abs < 0 || rel < 0 || (kind != "op" && kind != "model" && kind != "both") {
					return fmt.Errorf("--tolerance %q: expected [op:|model:]PRECISION=ABS,REL, like model:fp16=0.01,0.05", t)
				}
				tol := conformance.Tolerance{Abs: abs, Rel: rel}
				if kind != "model" {
					if opts.Tolerances == nil {
						opts.Tolerances = map[deploy.Precision]conformance.Tolerance{}
					}
					opts.Tolerances[deploy.Precision(prec)] = tol
				}
				if kind != "op" {
					if opts.ModelTolerances == nil {
						opts.ModelTolerances = map[deploy.Precision]conformance.Tolerance{}
					}
					// Rel keeps the default's sense: of the output's range at fp16 and int8.
					tol.OfRange = conformance.DefaultModelTolerance(deploy.Precision(prec)).OfRange
					opts.ModelTolerances[deploy.Precision(prec)] = tol
				}
			}
			if precisions != "" {
				for _, p := range strings.Split(precisions, ",") {
					opts.Precisions = append(opts.Precisions, deploy.Precision(strings.TrimSpace(p)))
				}
			}
			if ops != "" {
				opts.Ops = []string{}
				if ops != "none" {
					opts.Ops = strings.Split(ops, ",")
				}
			}
			all, notes := conformanceModels(imgsz)
			want := map[string]bool{}
			if models != "all" && models != "none" {
				for _, m := range strings.Split(models, ",") {
					want[strings.TrimSpace(m)] = true
				}
				for m := range want {
					if !slices.ContainsFunc(all, func(c conformanceModel) bool { return c.name == m }) {
						var names []string
						for _, c := range all {
							names = append(names, c.name)
						}
						return fmt.Errorf("--models: no model %q (available: %s)", m, strings.Join(names, ", "))
					}
				}
			}
			for _, m := range all {
				if models == "none" || (models != "all" && !want[m.name]) {
					continue
				}
				mf := modelFlags{cfg: m.cfg, nc: m.nc, ncForced: true}
				// A model that cannot be built is reported as its check's
				// error, so the other checks still run.
				g, params, err := a.deployModel(nil, &mf, m.weights, m.weights == "", seed, m.imgsz)
				cm := conformance.Model{Name: m.name, Graph: g, Params: params, Err: err}
				if err == nil {
					cm.Input = g.Inputs[0].Shape
					if m.input != "" {
						cm.Data, cm.Err = readFloat32File(m.input, 3*m.imgsz*m.imgsz)
					}
				}
				opts.Models = append(opts.Models, cm)
			}
			if !asJSON {
				for _, n := range notes {
					fmt.Fprintln(a.Stderr, "note:", n)
				}
				fmt.Fprintf(a.Stdout, "conformance of %s %s against the engine\n", be.Info().Name, be.Info().Version)
				fmt.Fprintf(a.Stdout, "%-5s  %-34s  %-4s  %-9s  %10s  %10s  %10s  %s\n", "KIND", "NAME", "PREC", "STATUS", "MAX ABS", "MAX REL", "LATENCY ms", "DETAIL")
				opts.Progress = func(r conformance.Result) {
					lat := "-"
					if r.LatencyMS > 0 {
						lat = fmt.Sprintf("%.3f", r.LatencyMS)
					}
					fmt.Fprintf(a.Stdout, "%-5s  %-34s  %-4s  %-9s  %10.3g  %10.3g  %10s  %s\n", r.Kind, r.Name, r.Precision, r.Status, r.MaxAbs, r.MaxRel, lat, firstLine(r.Detail))
				}
			}
			rep, err := conformance.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(a.Stdout, map[string]any{"report": rep, "passed": rep.Passed(), "failures": rep.Failures(), "notes": notes}); err != nil {
					return err
				}
			} else {
				if len(rep.SkippedOps) > 0 {
					fmt.Fprintf(a.Stdout, "declared ops without a conformance case (not checked): %s\n", strings.Join(rep.SkippedOps, ", "))
				}
				if len(rep.UncheckedOps) > 0 {
					fmt.Fprintf(a.Stdout, "ops the kit covers that the backend does not declare: %s\n", strings.Join(rep.UncheckedOps, ", "))
				}
			}
			if f := rep.Failures(); len(f) > 0 {
				more := ""
				if len(f) > 12 {
					f, more = f[:12], fmt.Sprintf(" and %d more", len(f)-12)
				}
				return fmt.Errorf("conformance of backend %q failed: %d of %d checks: %s%s", rep.Backend.Name, len(rep.Failures()), len(rep.Results), strings.Join(f, ", "), more)
			}
			if !asJSON {
				what := "passed"
				if convertOnly {
					what = "converted (convert-only: outputs not compared)"
				}
				fmt.Fprintf(a.Stdout, "all %d checks %s\n", len(rep.Results), what)
			}
			return nil
		},
	}
	ef.register(cmd)
	cmd.Flags().StringVar(&backend, "backend", "", "deploy backend to check (yoloforge-plugin-deploy-<name>)")
	cmd.Flags().StringVar(&models, "models", "all", "whole models to check: all, none, or a comma list (golden-yolov5n, golden-yolov5s, yolov5n, ...)")
	cmd.Flags().StringVar(&precisions, "precision", "", "comma list of precisions (default: every one the backend declares)")
	cmd.Flags().StringVar(&ops, "ops", "", "comma list of ops to check (default: every one the backend declares; none for models only)")
	cmd.Flags().IntVar(&imgsz, "imgsz", 64, "input size of the embedded configs' checks")
	cmd.Flags().IntVar(&iterations, "iterations", 3, "timed runs per check")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of the random inputs and weights")
	cmd.Flags().BoolVar(&convertOnly, "convert-only", false, "only check that every conversion succeeds (for a backend that cannot run here)")
	cmd.Flags().StringArrayVar(&tolerances, "tolerance", nil, "override a tolerance: [op:|model:]PRECISION=ABS,REL (repeatable)")
	cmd.Flags().StringVar(&keep, "keep", "", "keep the converted files of every check under this directory")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
