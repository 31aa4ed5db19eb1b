package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/yoloforge/yoloforge/host/eval"
)

// metricsCommand scores a COCO results file against COCO annotations with
// the reference's val.py protocol (not pycocotools'), so the numbers are
// the ones the reference prints.
func (a *App) metricsCommand() *cobra.Command {
	var gt, dt string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "metrics --gt GT.json --dt DT.json",
		Short: "Score COCO-format detections: P, R, mAP@.5 and mAP@.5:.95 as the reference's val.py computes them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := eval.EvaluateCOCO(a.resolve(gt), a.resolve(dt))
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.Stdout, rep)
			}
			printMetricsTable(a.Stdout, rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&gt, "gt", "", "COCO annotations JSON (images, categories, annotations)")
	cmd.Flags().StringVar(&dt, "dt", "", "COCO results JSON (a list of image_id, category_id, bbox, score)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = cmd.MarkFlagRequired("gt")
	_ = cmd.MarkFlagRequired("dt")
	return cmd
}

// printMetricsTable prints the report as val.py does: an 'all' row, then
// one row per class when there are several.
func printMetricsTable(w io.Writer, rep *eval.Report) {
	fmt.Fprintf(w, "%20s%11s%11s%11s%11s%11s%11s\n", "Class", "Images", "Instances", "P", "R", "mAP@.5", "mAP@.5:.95")
	row := "%20s%11d%11d%11.3g%11.3g%11.3g%11.3g\n"
	fmt.Fprintf(w, row, "all", rep.Images, rep.Instances, rep.Precision, rep.Recall, rep.MAP50, rep.MAP)
	if len(rep.PerClass) < 2 {
		return
	}
	for _, c := range rep.PerClass {
		fmt.Fprintf(w, row, c.Name, c.Images, c.Instances, c.P, c.R, c.AP50, c.AP)
	}
}
