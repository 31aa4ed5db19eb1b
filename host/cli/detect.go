package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/yoloforge/yoloforge/host/data"
	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/host/eval"
	"github.com/yoloforge/yoloforge/host/train"
	"github.com/yoloforge/yoloforge/host/weights"
	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// detection is one box of detect's JSON output, in original image pixels.
type detection struct {
	Class int        `json:"class"`
	Name  string     `json:"name"`
	Conf  float64    `json:"conf"`
	Box   [4]float64 `json:"box_xyxy"`
}

type imageResult struct {
	Image      string      `json:"image"`
	Width      int         `json:"width"`
	Height     int         `json:"height"`
	Detections []detection `json:"detections"`
}

// listSources expands a file or a directory into image files.
func listSources(src string) ([]string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if !st.IsDir() {
		return []string{src}, nil
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	var out []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png":
			out = append(out, filepath.Join(src, e.Name()))
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("source %s has no .jpg, .jpeg or .png images", src)
	}
	return out, nil
}

// rgbaOf wraps a decoded image for drawing.
func rgbaOf(m *data.Image) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i := 0; i < m.W*m.H; i++ {
		out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = m.Pix[3*i], m.Pix[3*i+1], m.Pix[3*i+2], 255
	}
	return out
}

// palette gives each class a distinct colour (the reference's Colors hex list).
var palette = []color.RGBA{{255, 56, 56, 255}, {255, 157, 151, 255}, {255, 112, 31, 255}, {255, 178, 29, 255}, {207, 210, 49, 255},
	{72, 249, 10, 255}, {146, 204, 23, 255}, {61, 219, 134, 255}, {26, 147, 52, 255}, {0, 212, 187, 255}, {44, 153, 168, 255},
	{0, 194, 255, 255}, {52, 69, 147, 255}, {100, 115, 255, 255}, {0, 24, 236, 255}, {132, 56, 255, 255}, {82, 0, 133, 255},
	{203, 56, 255, 255}, {255, 149, 200, 255}, {255, 55, 199, 255}}

// annotate draws boxes with "name conf" labels on a copy of img.
func annotate(img image.Image, dets []detection) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	lw := max(2, (b.Dx()+b.Dy())/600)
	for _, d := range dets {
		c := palette[d.Class%len(palette)]
		x1, y1, x2, y2 := int(d.Box[0]), int(d.Box[1]), int(d.Box[2]), int(d.Box[3])
		for _, r := range []image.Rectangle{
			image.Rect(x1, y1, x2, y1+lw), image.Rect(x1, y2-lw, x2, y2), image.Rect(x1, y1, x1+lw, y2), image.Rect(x2-lw, y1, x2, y2)} {
			draw.Draw(out, r.Intersect(out.Bounds()), &image.Uniform{c}, image.Point{}, draw.Src)
		}
		label := fmt.Sprintf("%s %.2f", d.Name, d.Conf)
		face := basicfont.Face7x13
		tw := font.MeasureString(face, label).Ceil() + 4
		ty := y1 - 15
		if ty < 0 {
			ty = y1
		}
		draw.Draw(out, image.Rect(x1, ty, x1+tw, ty+15).Intersect(out.Bounds()), &image.Uniform{c}, image.Point{}, draw.Src)
		dr := &font.Drawer{Dst: out, Src: image.White, Face: face, Dot: fixed.P(x1+2, ty+12)}
		dr.DrawString(label)
	}
	return out
}

func (a *App) detectCommand() *cobra.Command {
	var mf modelFlags
	var ef engineFlags
	var weightsPath, source, out string
	var imgsz int
	var conf, iou float64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "detect",
		Short: "Detect objects in images and save them with boxes drawn, plus txt and JSON results (the reference's detect.py)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if weightsPath == "" || source == "" {
				return fmt.Errorf("--weights and --source are required")
			}
			names, err := a.prepareNames(weightsPath, &mf)
			if err != nil {
				return err
			}
			files, err := listSources(source)
			if err != nil {
				return err
			}
			g, err := a.buildModel(cmd, &mf)
			if err != nil {
				return err
			}
			g, params, err := loadModelWeights(g, weightsPath, true)
			if err != nil {
				return err
			}
			head, err := train.HeadOf(g)
			if err != nil {
				return err
			}
			e, err := ef.open()
			if err != nil {
				return err
			}
			plan, err := e.Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{g.Inputs[0].Name: {1, 3, imgsz, imgsz}}, FrozenWeights: true})
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(out, "labels"), 0o755); err != nil {
				return fmt.Errorf("create %s: %w", out, err)
			}
			opts := eval.DefaultNMSOptions()
			opts.ConfThres, opts.IoUThres, opts.MaxDet = conf, iou, 1000
			boxed := data.NewImage(imgsz, imgsz)
			var results []imageResult
			for _, path := range files {
				rgb, err := data.ReadImage(path) // EXIF orientation applied, as the reference's loader does
				if err != nil {
					return fmt.Errorf("read %s: %w", path, err)
				}
				geo := data.Letterbox(boxed, rgb, imgsz, imgsz, data.LetterboxOptions{ScaleUp: true, Stride: 32})
				in, _ := plan.Input(g.Inputs[0].Name)
				plane := imgsz * imgsz
				for i := 0; i < plane; i++ {
					for c := 0; c < 3; c++ {
						in[c*plane+i] = float32(boxed.Pix[3*i+c]) / 255
					}
				}
				if err := plan.Forward(); err != nil {
					return err
				}
				pred, _ := plan.Output(head.Output)
				shape, _ := plan.Shape(head.Output)
				dets, err := eval.NonMaxSuppression(pred, shape[0], shape[1], shape[2], opts)
				if err != nil {
					return err
				}
				res := imageResult{Image: path, Width: rgb.W, Height: rgb.H}
				var txt strings.Builder
				for _, d := range dets[0] {
					var box [4]float64
					for k := 0; k < 4; k++ {
						lim := float64(rgb.W)
						if k%2 == 1 {
							lim = float64(rgb.H)
						}
						v := (float64(d.Box[k]) - geo.Pad[k%2]) / geo.Ratio[k%2]
						box[k] = min(max(v, 0), lim)
					}
					name := fmt.Sprint(d.Class)
					if d.Class < len(names) {
						name = names[d.Class]
					}
					res.Detections = append(res.Detections, detection{Class: d.Class, Name: name, Conf: float64(d.Conf), Box: box})
					fmt.Fprintf(&txt, "%d %.6f %.6f %.6f %.6f %.6f\n", d.Class, (box[0]+box[2])/2/float64(rgb.W), (box[1]+box[3])/2/float64(rgb.H),
						(box[2]-box[0])/float64(rgb.W), (box[3]-box[1])/float64(rgb.H), d.Conf)
				}
				base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
				if err := deploy.WriteFile(filepath.Join(out, "labels", base+".txt"), []byte(txt.String()), 0o644); err != nil {
					return err
				}
				if err := saveJPEG(filepath.Join(out, base+".jpg"), annotate(rgbaOf(rgb), res.Detections)); err != nil {
					return err
				}
				results = append(results, res)
				if !asJSON {
					fmt.Fprintf(a.Stderr, "%s: %d detections\n", path, len(res.Detections))
				}
			}
			js, err := json.MarshalIndent(results, "", "  ")
			if err != nil {
				return err
			}
			if err := deploy.WriteFile(filepath.Join(out, "results.json"), append(js, '\n'), 0o644); err != nil {
				return err
			}
			if asJSON {
				_, err := a.Stdout.Write(append(js, '\n'))
				return err
			}
			fmt.Fprintf(a.Stdout, "results saved to %s (images with boxes, labels/*.txt, results.json)\n", out)
			return nil
		},
	}
	mf.register(cmd)
	ef.register(cmd)
	cmd.Flags().StringVar(&weightsPath, "weights", "", "weights (.safetensors checkpoint or .onnx)")
	cmd.Flags().StringVar(&source, "source", "", "an image or a directory of images")
	cmd.Flags().StringVar(&out, "out", "runs/detect/exp", "output directory")
	cmd.Flags().IntVar(&imgsz, "imgsz", 640, "inference size")
	cmd.Flags().Float64Var(&conf, "conf", 0.25, "confidence threshold")
	cmd.Flags().Float64Var(&iou, "iou", 0.45, "NMS IoU threshold")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	return cmd
}

// prepareNames reads class names (and nc) from a YOLOForge checkpoint's
// metadata, so detect needs no data yaml.
func (a *App) prepareNames(path string, mf *modelFlags) ([]string, error) {
	if !strings.HasSuffix(path, ".safetensors") {
		return nil, nil
	}
	_, meta, err := weights.Load(path)
	if err != nil {
		return nil, err
	}
	var names []string
	if meta["names"] != "" {
		names = strings.Split(meta["names"], ",")
	}
	if mf.nc == 0 && len(names) > 0 {
		mf.nc, mf.ncForced = len(names), true
	}
	if mf.cfg == "yolov5s" && meta["config"] != "" {
		mf.cfg = meta["config"] // the default flag value: use the model the checkpoint was trained as
	}
	return names, nil
}

func saveJPEG(path string, img image.Image) error {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return deploy.WriteFile(path, b.Bytes(), 0o644)
}
