package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// COCO ground truth and detections, reduced to the fields the protocol
// uses. Image ids may be numbers or strings (YOLOv5's save_json writes the
// file stem when it is not numeric); 7 and "7" name the same image.
type (
	cocoGT struct {
		Images      []cocoImage      `json:"images"`
		Categories  []cocoCategory   `json:"categories"`
		Annotations []cocoAnnotation `json:"annotations"`
	}
	cocoImage struct {
		ID imageID `json:"id"`
	}
	cocoCategory struct {
		ID   *int   `json:"id"`
		Name string `json:"name"`
	}
	cocoAnnotation struct {
		ID         json.RawMessage `json:"id"`
		ImageID    imageID         `json:"image_id"`
		CategoryID *int            `json:"category_id"`
		BBox       []float64       `json:"bbox"`
		IsCrowd    int             `json:"iscrowd"`
	}
	cocoDetection struct {
		ImageID    imageID   `json:"image_id"`
		CategoryID *int      `json:"category_id"`
		BBox       []float64 `json:"bbox"`
		Score      *float64  `json:"score"`
	}
)

// imageID is a COCO image id in canonical text form.
type imageID string

func (id *imageID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = imageID(s)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("image id %s is neither an integer nor a string", b)
	}
	*id = imageID(strconv.FormatInt(n, 10))
	return nil
}

// EvaluateCOCO runs the reference's validation protocol (process_batch
// matching, ap_per_class) on a COCO annotations file and a COCO results
// file. Categories map to contiguous class indices in ascending id order;
// every image listed counts, with or without annotations; crowd
// annotations are left out, as YOLOv5's COCO label conversion does.
func EvaluateCOCO(gtPath, dtPath string) (*Report, error) {
	ds, err := LoadCOCO(gtPath, dtPath)
	if err != nil {
		return nil, err
	}
	return ds.Evaluate()
}

// Dataset is ground truth and detections per image, ready for Stats.
type Dataset struct {
	Classes []Class
	Images  []Image
}

// Image is one image's ground truth and detections.
type Image struct {
	ID         string
	Labels     []Label
	Detections []Detection // by confidence descending, as NMS outputs them
}

// Evaluate runs the protocol over every image.
func (ds *Dataset) Evaluate() (*Report, error) {
	st := NewStats(len(ds.Classes))
	for _, im := range ds.Images {
		if err := st.Add(im.Detections, im.Labels); err != nil {
			return nil, fmt.Errorf("image %s: %w", im.ID, err)
		}
	}
	return st.Report(ds.Classes)
}

// LoadCOCO reads and checks a COCO annotations file and results file.
func LoadCOCO(gtPath, dtPath string) (*Dataset, error) {
	var gt cocoGT
	if err := readJSON(gtPath, &gt); err != nil {
		return nil, err
	}
	var dts []cocoDetection
	if err := readJSON(dtPath, &dts); err != nil {
		return nil, err
	}

	// Categories, ascending id = contiguous index.
	ds := &Dataset{}
	catIndex := map[int]int{}
	for i, c := range gt.Categories {
		if c.ID == nil {
			return nil, fmt.Errorf("%s: category %d has no id", gtPath, i)
		}
		if _, dup := catIndex[*c.ID]; dup {
			return nil, fmt.Errorf("%s: category id %d appears twice", gtPath, *c.ID)
		}
		catIndex[*c.ID] = 0
		ds.Classes = append(ds.Classes, Class{ID: *c.ID, Name: c.Name})
	}
	slices.SortFunc(ds.Classes, func(a, b Class) int { return a.ID - b.ID })
	for i, c := range ds.Classes {
		catIndex[c.ID] = i
	}

	imgIndex := map[imageID]int{}
	for i, im := range gt.Images {
		if im.ID == "" {
			return nil, fmt.Errorf("%s: image %d has no id", gtPath, i)
		}
		if _, dup := imgIndex[im.ID]; dup {
			return nil, fmt.Errorf("%s: image id %s appears twice", gtPath, im.ID)
		}
		imgIndex[im.ID] = i
		ds.Images = append(ds.Images, Image{ID: string(im.ID)})
	}

	for i, a := range gt.Annotations {
		name := annotationName(i, a.ID)
		if a.ImageID == "" {
			return nil, fmt.Errorf("%s: %s has no image_id", gtPath, name)
		}
		ii, ok := imgIndex[a.ImageID]
		if !ok {
			return nil, fmt.Errorf("%s: %s refers to unknown image id %s", gtPath, name, a.ImageID)
		}
		if a.CategoryID == nil {
			return nil, fmt.Errorf("%s: %s has no category_id", gtPath, name)
		}
		ci, ok := catIndex[*a.CategoryID]
		if !ok {
			return nil, fmt.Errorf("%s: %s refers to unknown category id %d", gtPath, name, *a.CategoryID)
		}
		box, err := xywhToXYXY(a.BBox, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", gtPath, name, err)
		}
		if a.IsCrowd != 0 {
			continue
		}
		ds.Images[ii].Labels = append(ds.Images[ii].Labels, Label{Class: ci, Box: box})
	}

	// Unknown ids are collected so one run names them all.
	var unknownImages []string
	var unknownCats []int
	for i, d := range dts {
		ii, okImg := imgIndex[d.ImageID]
		if d.ImageID == "" {
			return nil, fmt.Errorf("%s: detection %d has no image_id", dtPath, i)
		}
		if d.CategoryID == nil {
			return nil, fmt.Errorf("%s: detection %d has no category_id", dtPath, i)
		}
		if d.Score == nil {
			return nil, fmt.Errorf("%s: detection %d has no score", dtPath, i)
		}
		ci, okCat := catIndex[*d.CategoryID]
		if !okImg && !slices.Contains(unknownImages, string(d.ImageID)) {
			unknownImages = append(unknownImages, string(d.ImageID))
		}
		if !okCat && !slices.Contains(unknownCats, *d.CategoryID) {
			unknownCats = append(unknownCats, *d.CategoryID)
		}
		// Detections are taken as given, degenerate or not: the reference
		// scores whatever boxes NMS returned (the golden set has one with
		// x2 < x1).
		box, err := xywhToXYXY(d.BBox, true)
		if err != nil {
			return nil, fmt.Errorf("%s: detection %d: %w", dtPath, i, err)
		}
		if okImg && okCat {
			ds.Images[ii].Detections = append(ds.Images[ii].Detections, Detection{Box: box, Conf: float32(*d.Score), Class: ci})
		}
	}
	if len(unknownImages) > 0 || len(unknownCats) > 0 {
		var parts []string
		if len(unknownImages) > 0 {
			parts = append(parts, "unknown image ids "+strings.Join(unknownImages, ", "))
		}
		if len(unknownCats) > 0 {
			parts = append(parts, "unknown category ids "+strings.Trim(fmt.Sprint(unknownCats), "[]"))
		}
		return nil, fmt.Errorf("%s: detections refer to %s (not in %s)", dtPath, strings.Join(parts, " and "), gtPath)
	}
	// val.py sees each image's detections in NMS order; ties keep file order.
	for i := range ds.Images {
		slices.SortStableFunc(ds.Images[i].Detections, func(a, b Detection) int {
			switch {
			case a.Conf > b.Conf:
				return -1
			case a.Conf < b.Conf:
				return 1
			}
			return 0
		})
	}
	return ds, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func annotationName(i int, id json.RawMessage) string {
	if len(id) == 0 || string(id) == "null" {
		return fmt.Sprintf("annotation #%d (no id)", i)
	}
	return "annotation id " + string(id)
}

// xywhToXYXY turns a COCO [x, y, w, h] box into float32 corners; the sum is
// taken in float64 so boxes that came from float32 corners return exactly.
func xywhToXYXY(b []float64, allowNegative bool) ([4]float32, error) {
	if len(b) != 4 {
		return [4]float32{}, fmt.Errorf("bbox has %d numbers, want [x, y, w, h]", len(b))
	}
	if !allowNegative && (b[2] < 0 || b[3] < 0) {
		return [4]float32{}, fmt.Errorf("bbox %v has a negative width or height", b)
	}
	return [4]float32{float32(b[0]), float32(b[1]), float32(b[0] + b[2]), float32(b[1] + b[3])}, nil
}
