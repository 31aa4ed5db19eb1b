package data

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Label is one object: class and box (centre x, centre y, width, height),
// normalised to the image size.
type Label struct {
	Class      int
	X, Y, W, H float32
}

// Dataset is a scanned split: the images that passed validation, their
// labels and original sizes, in sorted path order.
type Dataset struct {
	Files      []string
	LabelFiles []string
	Labels     [][]Label
	Sizes      [][2]int // original (w, h), EXIF orientation applied
	NC         int      // class count the labels were checked against (0: unchecked)
	Names      []string // class names when opened from a Config
	Summary    Summary
	Warnings   []string // one per skipped or repaired file, in path order
}

// Len is the number of usable images.
func (d *Dataset) Len() int { return len(d.Files) }

// Summary counts what a scan found, as the reference's cache_labels does.
type Summary struct {
	Images      int   `json:"images"`      // usable images (backgrounds included)
	Backgrounds int   `json:"backgrounds"` // usable images without objects
	Missing     int   `json:"missing"`     // ... of which have no label file
	Empty       int   `json:"empty"`       // ... of which have an empty label file
	Corrupt     int   `json:"corrupt"`     // images skipped: unreadable image or bad label file
	Duplicates  int   `json:"duplicates"`  // duplicate label rows removed
	Instances   int   `json:"instances"`   // objects in usable images
	PerClass    []int `json:"per_class"`   // objects per class (len NC when NC > 0)
}

func (s Summary) String() string {
	return fmt.Sprintf("%d images, %d backgrounds, %d corrupt, %d duplicate labels removed", s.Images, s.Backgrounds, s.Corrupt, s.Duplicates)
}

// ScanOptions control Scan.
type ScanOptions struct {
	NC      int  // class ids must be < NC; 0 skips the check
	Workers int  // parallel file checks; 0: GOMAXPROCS
	Verify  bool // decode every image fully (default: headers only)
}

// ListImages expands image sources as the reference does: a directory is
// searched recursively for image files, a file is a list of image paths
// (one a line). The result is sorted.
func ListImages(sources []string) ([]string, error) {
	var files []string
	for _, src := range sources {
		st, err := os.Stat(src)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s does not exist", src)
			}
			return nil, err
		}
		if st.IsDir() {
			err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				name := d.Name()
				if strings.HasPrefix(name, ".") && p != src { // glob('**/*.*') skips hidden entries
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
				if !d.IsDir() && isImageName(name) {
					files = append(files, p)
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", src, err)
			}
			continue
		}
		lines, err := readList(src)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			if isImageName(l) {
				files = append(files, l)
			}
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("no images found in %s", strings.Join(sources, ", "))
	}
	return files, nil
}

// isImageName reports whether the extension is one of the reference's
// IMG_FORMATS (files listed as images, decodable or not).
func isImageName(name string) bool {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return false
	}
	switch strings.ToLower(name[dot+1:]) {
	case "bmp", "jpg", "jpeg", "png", "tif", "tiff", "dng", "webp", "mpo":
		return true
	}
	return false
}

// readList reads an image list file; relative entries are relative to the
// list's directory.
func readList(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dir := filepath.Dir(file)
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" {
			continue
		}
		if !filepath.IsAbs(l) {
			l = filepath.Join(dir, l)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return out, nil
}

// LabelPath is the reference's img2label_paths: the last /images/ of the
// path becomes /labels/ and the extension becomes .txt.
func LabelPath(img string) string {
	sa, sb := string(filepath.Separator)+"images"+string(filepath.Separator), string(filepath.Separator)+"labels"+string(filepath.Separator)
	p := img
	if i := strings.LastIndex(p, sa); i >= 0 {
		p = p[:i] + sb + p[i+len(sa):]
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		p = p[:i]
	}
	return p + ".txt"
}

// checked is the outcome of checking one image and its label file.
type checked struct {
	labels  []Label
	w, h    int
	missing bool // no label file
	empty   bool // empty label file
	corrupt bool
	dups    int
	warns   []string
}

// Scan lists, checks and loads the labels of every image of the sources.
// Unusable files are skipped with a warning naming them; only a missing
// source or no images at all are errors.
func Scan(sources []string, o ScanOptions) (*Dataset, error) {
	files, err := ListImages(sources)
	if err != nil {
		return nil, err
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	res := make([]checked, len(files))
	var wg sync.WaitGroup
	next := make(chan int, 64)
	for range min(workers, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			var img, tmp Image
			for i := range next {
				res[i], buf = checkPair(files[i], LabelPath(files[i]), o, buf, &img, &tmp)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()

	d := &Dataset{NC: o.NC}
	s := &d.Summary
	if o.NC > 0 {
		s.PerClass = make([]int, o.NC)
	}
	for i, r := range res {
		d.Warnings = append(d.Warnings, r.warns...)
		s.Duplicates += r.dups
		if r.corrupt {
			s.Corrupt++
			continue
		}
		d.Files = append(d.Files, files[i])
		d.LabelFiles = append(d.LabelFiles, LabelPath(files[i]))
		d.Labels = append(d.Labels, r.labels)
		d.Sizes = append(d.Sizes, [2]int{r.w, r.h})
		s.Images++
		if len(r.labels) == 0 {
			s.Backgrounds++
		}
		if r.missing {
			s.Missing++
		}
		if r.empty {
			s.Empty++
		}
		s.Instances += len(r.labels)
		for _, l := range r.labels {
			if l.Class < len(s.PerClass) {
				s.PerClass[l.Class]++
			}
		}
	}
	return d, nil
}

// checkPair is the reference's verify_image_label.
func checkPair(imgFile, lbFile string, o ScanOptions, buf []byte, img, tmp *Image) (checked, []byte) {
	var r checked
	corrupt := func(err error) (checked, []byte) {
		return checked{corrupt: true, warns: []string{fmt.Sprintf("WARNING: %s: ignoring corrupt image/label: %v", imgFile, err)}}, buf
	}
	w, h, note, buf, err := checkImage(imgFile, o.Verify, buf, img, tmp)
	if err != nil {
		return corrupt(err)
	}
	r.w, r.h = w, h
	if note != "" {
		r.warns = append(r.warns, note)
	}
	b, err := os.ReadFile(lbFile)
	if errors.Is(err, fs.ErrNotExist) {
		r.missing = true
		return r, buf
	}
	if err != nil {
		return corrupt(fmt.Errorf("read label file: %w", err))
	}
	labels, dups, err := ParseLabels(b, o.NC)
	if err != nil {
		return corrupt(fmt.Errorf("%s: %w", lbFile, err))
	}
	r.labels, r.dups = labels, dups
	r.empty = len(labels) == 0
	if dups > 0 {
		r.warns = append(r.warns, fmt.Sprintf("WARNING: %s: %d duplicate labels removed (%s)", imgFile, dups, lbFile))
	}
	return r, buf
}

// checkImage reads an image's size and checks it as the reference does: a
// known format, both sides at least 10 pixels, a JPEG that ends with its
// end-of-image marker (or else decodes completely). With verify every
// image is decoded.
func checkImage(file string, verify bool, buf []byte, img, tmp *Image) (w, h int, note string, _ []byte, err error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, "", buf, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, "", buf, err
	}
	size := int(st.Size())
	// Headers sit in the first bytes; EXIF (APP1) is at most 64 KiB.
	n := size
	if !verify {
		n = min(size, 96<<10)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(f, buf); err != nil {
		return 0, 0, "", buf, err
	}
	w, h, format, err := decodeConfig(buf)
	if err != nil && n < size && errors.Is(err, io.ErrUnexpectedEOF) {
		buf, err = readFile(file, buf)
		if err == nil {
			n = size
			w, h, format, err = decodeConfig(buf)
		}
	}
	if err != nil {
		if errors.Is(err, errUnsupported) {
			return 0, 0, "", buf, err
		}
		return 0, 0, "", buf, fmt.Errorf("decode header: %w", err)
	}
	if w < 10 || h < 10 {
		return 0, 0, "", buf, fmt.Errorf("image size %dx%d <10 pixels", w, h)
	}
	full := verify
	if format == "jpeg" {
		var tail [2]byte
		if _, err := f.ReadAt(tail[:], int64(size-2)); err != nil {
			return 0, 0, "", buf, err
		}
		if tail != [2]byte{0xFF, 0xD9} {
			full = true
			note = fmt.Sprintf("WARNING: %s: corrupt JPEG (no end-of-image marker), kept because it decodes", file)
		}
	}
	if full {
		if n < size {
			if buf, err = readFile(file, buf); err != nil {
				return 0, 0, "", buf, err
			}
		}
		if err := decodeBytes(buf, img, tmp); err != nil {
			return 0, 0, "", buf, fmt.Errorf("decode: %w", err)
		}
	}
	return w, h, note, buf, nil
}

// ParseLabels parses and checks a label file: one object a line, `class xc
// yc w h` normalised, or `class x1 y1 x2 y2 ...` (a polygon of at least
// four points, turned into its box as the reference's segments2boxes). The
// first problem is returned naming its line. Exact duplicate rows are
// removed (first kept) and counted. nc <= 0 skips the class range check.
func ParseLabels(b []byte, nc int) (labels []Label, dups int, err error) {
	var seen map[[5]float32]struct{}
	lineNo := 0
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		lineNo++
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			continue
		}
		l, err := parseLabel(fields, nc)
		if err != nil {
			return nil, 0, fmt.Errorf("line %d: %w", lineNo, err)
		}
		key := [5]float32{float32(l.Class), l.X, l.Y, l.W, l.H}
		if seen == nil {
			seen = map[[5]float32]struct{}{}
		}
		if _, ok := seen[key]; ok {
			dups++
			continue
		}
		seen[key] = struct{}{}
		labels = append(labels, l)
	}
	return labels, dups, nil
}

func parseLabel(fields []string, nc int) (Label, error) {
	n := len(fields)
	if n != 5 && (n < 9 || n%2 == 0) {
		return Label{}, fmt.Errorf("labels require 5 columns (class xc yc w h), %d columns detected", n)
	}
	v := make([]float64, n)
	for i, f := range fields {
		x, err := strconv.ParseFloat(f, 32) // the reference reads labels as float32
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return Label{}, fmt.Errorf("column %d: %q is not a number", i+1, f)
		}
		v[i] = x
	}
	cls := v[0]
	if cls != math.Trunc(cls) {
		return Label{}, fmt.Errorf("class %s is not an integer", fields[0])
	}
	box := v[1:5]
	if n > 5 { // polygon -> box
		x1, y1, x2, y2 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for i := 1; i < n; i += 2 {
			x1, x2 = math.Min(x1, v[i]), math.Max(x2, v[i])
			y1, y2 = math.Min(y1, v[i+1]), math.Max(y2, v[i+1])
		}
		box = []float64{(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1}
	}
	if cls < 0 {
		return Label{}, fmt.Errorf("negative class %s", fields[0])
	}
	for i, x := range box {
		if x < 0 || x > 1 {
			return Label{}, fmt.Errorf("non-normalized or out of bounds coordinate %s=%g (must be in [0, 1])", [4]string{"xc", "yc", "w", "h"}[i], x)
		}
	}
	if box[2] <= 0 || box[3] <= 0 {
		return Label{}, fmt.Errorf("box of zero size (w=%g, h=%g)", box[2], box[3])
	}
	if nc > 0 && cls >= float64(nc) {
		return Label{}, fmt.Errorf("class %d out of range [0, %d)", int(cls), nc)
	}
	return Label{Class: int(cls), X: float32(box[0]), Y: float32(box[1]), W: float32(box[2]), H: float32(box[3])}, nil
}
