// Package evaltest loads the reference's golden validation case
// (fixtures/golden/metrics/metrics.json) and writes it out as COCO files,
// so the tests of eval and of the CLI check the same numbers.
package evaltest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/yoloforge/yoloforge/host/eval"
	"github.com/yoloforge/yoloforge/internal/fixtures"
)

// Fixtures returns ../shared/fixtures beside the repository root (the
// nearest directory above the working directory holding go.mod).
func Fixtures() (string, error) { return fixtures.Dir() }

// Golden is metrics.json: per-image labels and predictions and what the
// reference computed from them.
type Golden struct {
	NC     int       `json:"nc"`
	IoUV   []float64 `json:"iouv"`
	Images []struct {
		Image   int          `json:"image"`
		Labels  [][5]float64 `json:"labels"` // class, x1, y1, x2, y2
		Preds   [][6]float64 `json:"preds"`  // x1, y1, x2, y2, conf, class
		Correct [][]int      `json:"correct"`
	} `json:"images"`
	Result struct {
		P        []float64   `json:"p"`
		R        []float64   `json:"r"`
		AP50     []float64   `json:"ap50"`
		AP       []float64   `json:"ap"`
		APAllIoU [][]float64 `json:"ap_all_iou"`
		F1       []float64   `json:"f1"`
		APClass  []int       `json:"ap_class"`
		MP       float64     `json:"mp"`
		MR       float64     `json:"mr"`
		MAP50    float64     `json:"map50"`
		MAP      float64     `json:"map"`
		NT       []int       `json:"nt"`
		NPreds   int         `json:"n_preds"`
	} `json:"result"`
}

// LoadMetrics reads golden/metrics/metrics.json under fixtures.
func LoadMetrics(fixtures string) (*Golden, error) {
	path := filepath.Join(fixtures, "golden", "metrics", "metrics.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var g Golden
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &g, nil
}

// Labels returns image k's ground truth.
func (g *Golden) Labels(k int) []eval.Label {
	var out []eval.Label
	for _, l := range g.Images[k].Labels {
		out = append(out, eval.Label{Class: int(l[0]), Box: [4]float32{float32(l[1]), float32(l[2]), float32(l[3]), float32(l[4])}})
	}
	return out
}

// Detections returns image k's predictions in NMS order.
func (g *Golden) Detections(k int) []eval.Detection {
	var out []eval.Detection
	for _, p := range g.Images[k].Preds {
		out = append(out, eval.Detection{Box: [4]float32{float32(p[0]), float32(p[1]), float32(p[2]), float32(p[3])}, Conf: float32(p[4]), Class: int(p[5])})
	}
	return out
}

// CategoryID is the COCO category id WriteCOCO gives class c: sparse, so
// the mapping to contiguous indices is exercised.
func CategoryID(c int) int { return 10 * (c + 1) }

// ClassName is the category name WriteCOCO gives class c.
func ClassName(c int) string { return fmt.Sprintf("class%d", c) }

// WriteCOCO writes the golden case to dir as gt.json (COCO annotations)
// and dt.json (COCO results). Categories are listed out of id order and
// detections in reverse, so loaders must sort both.
func WriteCOCO(dir string, g *Golden) (gtPath, dtPath string, err error) {
	type ann struct {
		ID         int        `json:"id"`
		ImageID    int        `json:"image_id"`
		CategoryID int        `json:"category_id"`
		BBox       [4]float64 `json:"bbox"`
		Area       float64    `json:"area"`
		IsCrowd    int        `json:"iscrowd"`
	}
	type det struct {
		ImageID    int        `json:"image_id"`
		CategoryID int        `json:"category_id"`
		BBox       [4]float64 `json:"bbox"`
		Score      float64    `json:"score"`
	}
	type category struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	type image struct {
		ID       int    `json:"id"`
		FileName string `json:"file_name"`
	}
	var gt struct {
		Images      []image    `json:"images"`
		Categories  []category `json:"categories"`
		Annotations []ann      `json:"annotations"`
	}
	var dts []det
	for c := g.NC - 1; c >= 0; c-- {
		gt.Categories = append(gt.Categories, category{CategoryID(c), ClassName(c)})
	}
	for k, im := range g.Images {
		id := 100 + im.Image
		gt.Images = append(gt.Images, image{id, fmt.Sprintf("%d.jpg", im.Image)})
		for _, l := range g.Labels(k) {
			b := xywh(l.Box)
			gt.Annotations = append(gt.Annotations, ann{len(gt.Annotations) + 1, id, CategoryID(l.Class), b, b[2] * b[3], 0})
		}
		for _, d := range g.Detections(k) {
			dts = append(dts, det{id, CategoryID(d.Class), xywh(d.Box), float64(d.Conf)})
		}
	}
	for i, j := 0, len(dts)-1; i < j; i, j = i+1, j-1 {
		dts[i], dts[j] = dts[j], dts[i]
	}
	gtPath, dtPath = filepath.Join(dir, "gt.json"), filepath.Join(dir, "dt.json")
	if err := writeJSON(gtPath, gt); err != nil {
		return "", "", err
	}
	if err := writeJSON(dtPath, dts); err != nil {
		return "", "", err
	}
	return gtPath, dtPath, nil
}

// xywh is exact: the difference of two float32 values fits a float64.
func xywh(b [4]float32) [4]float64 {
	return [4]float64{float64(b[0]), float64(b[1]), float64(b[2]) - float64(b[0]), float64(b[3]) - float64(b[1])}
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
