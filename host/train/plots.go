package train

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/yoloforge/yoloforge/host/eval"
)

// PlotResults draws results.png: the three training losses and the four
// validation metrics per epoch, one panel each, as the reference's
// plot_results does.
func PlotResults(path string, rows []EpochResult) error {
	panels := []struct {
		title string
		get   func(EpochResult) float64
		val   bool
	}{
		{"train/box_loss", func(r EpochResult) float64 { return r.Box }, false},
		{"train/obj_loss", func(r EpochResult) float64 { return r.Obj }, false},
		{"train/cls_loss", func(r EpochResult) float64 { return r.Cls }, false},
		{"metrics/precision", func(r EpochResult) float64 { return r.P }, true},
		{"metrics/recall", func(r EpochResult) float64 { return r.R }, true},
		{"metrics/mAP_0.5", func(r EpochResult) float64 { return r.MAP50 }, true},
		{"metrics/mAP_0.5:0.95", func(r EpochResult) float64 { return r.MAP }, true},
		{"x/lr1", func(r EpochResult) float64 { return r.LR[GroupWeights] }, false},
	}
	const cols, rowsN = 4, 2
	img := vgimg.New(16*vg.Inch, 6*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rowsN, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.X.Label.Text = "epoch"
		var pts plotter.XYs
		for _, r := range rows {
			if pn.val && !r.Validated {
				continue
			}
			pts = append(pts, plotter.XY{X: float64(r.Epoch + 1), Y: pn.get(r)})
		}
		if len(pts) > 0 {
			line, dots, err := plotter.NewLinePoints(pts)
			if err != nil {
				return fmt.Errorf("plot %s: %w", path, err)
			}
			line.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
			dots.Color = line.Color
			p.Add(line, dots)
		}
		p.Draw(tiles.At(dc, i%cols, i/cols))
	}
	return savePNG(path, img)
}

// PlotPR draws PR_curve.png: precision against recall at IoU 0.5 per class
// and their mean, labelled with AP@0.5, as the reference's plot_pr_curve.
func PlotPR(path string, rep *eval.Report) error {
	p := plot.New()
	p.Title.Text = "Precision-Recall Curve"
	p.X.Label.Text = "Recall"
	p.Y.Label.Text = "Precision"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	c := rep.Curves
	if len(c.PR) == 0 {
		return fmt.Errorf("plot %s: the report has no precision-recall curves", path)
	}
	mean := make(plotter.XYs, len(c.PX))
	for k, x := range c.PX {
		mean[k].X = x
	}
	for i, curve := range c.PR {
		pts := make(plotter.XYs, len(c.PX))
		for k, x := range c.PX {
			pts[k] = plotter.XY{X: x, Y: curve[k]}
			mean[k].Y += curve[k] / float64(len(c.PR))
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		line.Color = color.Gray{Y: 160}
		line.Width = vg.Points(0.8)
		p.Add(line)
		if len(c.PR) <= 20 && i < len(rep.PerClass) {
			p.Legend.Add(fmt.Sprintf("%s %.3f", rep.PerClass[i].Name, rep.PerClass[i].AP50), line)
		}
	}
	line, err := plotter.NewLine(mean)
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	line.Color = color.RGBA{B: 255, A: 255}
	line.Width = vg.Points(3)
	p.Add(line)
	p.Legend.Add(fmt.Sprintf("all classes %.3f mAP@0.5", rep.MAP50), line)
	p.Legend.Left = true
	p.Legend.Top = false
	if err := p.Save(8*vg.Inch, 6*vg.Inch, path+".tmp.png"); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return renameInto(path+".tmp.png", path)
}

func savePNG(path string, img *vgimg.Canvas) error {
	tmp := path + ".tmp.png"
	f, err := createFile(tmp)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return renameInto(tmp, path)
}
