package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/yoloforge/yoloforge/host/data"
)

func (a *App) demoCommand() *cobra.Command {
	var dir string
	var epochs int
	var ef engineFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "With nothing prepared: write the synthetic dataset, train yolov5n on it, validate, detect, and say where the report is",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			started := time.Now()
			dir = a.resolve(dir)
			dataDir := filepath.Join(dir, "data")
			dataYAML := filepath.Join(dataDir, "data.yaml")
			if _, err := os.Stat(dataYAML); err != nil {
				fmt.Fprintf(a.Stderr, "writing the synthetic dataset to %s\n", dataDir)
				err := data.Synthesize(dataDir, data.SynthOptions{Seed: 0, Train: 600, Val: 120, Size: 256,
					Progress: func(done, total int) { fmt.Fprintf(a.Stderr, "\r  %d/%d images", done, total) }})
				fmt.Fprintln(a.Stderr)
				if err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.Stderr, "using the synthetic dataset in %s\n", dataDir)
			}
			sets := []string{"data=" + dataYAML, "project=" + dir, "name=train"}
			if epochs > 0 {
				sets = append(sets, fmt.Sprintf("epochs=%d", epochs))
			}
			exp, err := a.experiment("demo", sets)
			if err != nil {
				return err
			}
			out, res, err := a.runTraining(cmd.Context(), exp, ef)
			if err != nil {
				return err
			}
			detectDir := filepath.Join(out, "detect")
			fmt.Fprintf(a.Stderr, "running detect on the validation images\n")
			det := a.detectCommand()
			det.SetContext(cmd.Context())
			det.SetArgs([]string{"--weights", res.Best, "--source", filepath.Join(dataDir, "images", "val"),
				"--imgsz", fmt.Sprint(exp.ImgSize), "--out", detectDir, "--conf", "0.25", "--blas", ef.blas})
			det.SetOut(a.Stderr)
			if err := det.Execute(); err != nil {
				return fmt.Errorf("detect: %w", err)
			}
			fmt.Fprintf(a.Stdout, "\nDemo finished in %s.\n", time.Since(started).Round(time.Second))
			if res.Report != nil {
				fmt.Fprintln(a.Stdout)
				printMetricsTable(a.Stdout, res.Report)
			}
			fmt.Fprintf(a.Stdout, "\nReport in %s:\n  results.png, PR_curve.png   losses and metrics per epoch, precision-recall\n"+
				"  results.csv                 the numbers\n  weights/best.safetensors    the best weights\n"+
				"  detect/                     validation images with the detected boxes drawn\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "runs/demo", "where the dataset and the run go")
	cmd.Flags().IntVar(&epochs, "epochs", 0, "epochs (default: the demo experiment's)")
	ef.register(cmd)
	return cmd
}
