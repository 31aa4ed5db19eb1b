package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
)

// Image is an 8-bit RGB image: rows of W*3 bytes, no padding. The reference
// holds BGR; this package keeps RGB throughout, which is what the network
// sees in both.
type Image struct {
	W, H int
	Pix  []uint8
}

// NewImage allocates a w x h image.
func NewImage(w, h int) *Image {
	m := &Image{}
	m.setSize(w, h)
	return m
}

// setSize resizes m in place, reusing its buffer when it is big enough.
func (m *Image) setSize(w, h int) {
	n := w * h * 3
	if cap(m.Pix) < n {
		m.Pix = make([]uint8, n)
	}
	m.Pix = m.Pix[:n]
	m.W, m.H = w, h
}

// Bytes is the memory the pixels take.
func (m *Image) Bytes() int64 { return int64(len(m.Pix)) }

// At returns the RGB value of pixel (x, y).
func (m *Image) At(x, y int) (r, g, b uint8) {
	i := (y*m.W + x) * 3
	return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
}

// Set sets pixel (x, y).
func (m *Image) Set(x, y int, r, g, b uint8) {
	i := (y*m.W + x) * 3
	m.Pix[i], m.Pix[i+1], m.Pix[i+2] = r, g, b
}

// fillBytes sets every byte of p to v by doubling copies, which run at
// memmove speed where a byte loop would not (only zeroing is a memclr).
func fillBytes(p []uint8, v uint8) {
	if len(p) == 0 {
		return
	}
	p[0] = v
	for n := 1; n < len(p); n *= 2 {
		copy(p[n:], p[:n])
	}
}

// imageFormat sniffs the container from the magic bytes.
func imageFormat(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "jpeg"
	case len(b) >= 8 && string(b[:8]) == "\x89PNG\r\n\x1a\n":
		return "png"
	case len(b) >= 2 && string(b[:2]) == "BM":
		return "bmp"
	case len(b) >= 4 && (string(b[:4]) == "II*\x00" || string(b[:4]) == "MM\x00*"):
		return "tiff"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	}
	return "unknown"
}

// errUnsupported marks an image container this package cannot decode.
var errUnsupported = errors.New("unsupported image format")

// decodeConfig reads the size of an encoded image (after EXIF orientation)
// from the first bytes of the file.
func decodeConfig(b []byte) (w, h int, format string, err error) {
	format = imageFormat(b)
	var cfg image.Config
	switch format {
	case "jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(b))
	case "png":
		cfg, err = png.DecodeConfig(bytes.NewReader(b))
	default:
		return 0, 0, format, fmt.Errorf("%w %s (supported: jpeg, png)", errUnsupported, format)
	}
	if err != nil {
		return 0, 0, format, err
	}
	w, h = cfg.Width, cfg.Height
	if format == "jpeg" && exifOrientation(b) >= 5 {
		w, h = h, w
	}
	return w, h, format, nil
}

// decodeBytes decodes an encoded JPEG or PNG into dst (RGB, EXIF
// orientation applied). tmp is scratch for the orientation step.
func decodeBytes(b []byte, dst, tmp *Image) error {
	format := imageFormat(b)
	var src image.Image
	var err error
	switch format {
	case "jpeg":
		src, err = jpeg.Decode(bytes.NewReader(b))
	case "png":
		src, err = png.Decode(bytes.NewReader(b))
	default:
		return fmt.Errorf("%w %s (supported: jpeg, png)", errUnsupported, format)
	}
	if err != nil {
		return err
	}
	if format == "jpeg" {
		if o := exifOrientation(b); o > 1 && o <= 8 {
			toRGB(src, tmp)
			orient(tmp, dst, o)
			return nil
		}
	}
	toRGB(src, dst)
	return nil
}

// ReadImage decodes a JPEG or PNG file to RGB, applying EXIF orientation
// as cv2.imread does.
func ReadImage(path string) (*Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m, tmp Image
	if err := decodeBytes(b, &m, &tmp); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return &m, nil
}

// readFile reads a whole file into buf (grown as needed) to spare the
// allocation os.ReadFile makes per call.
func readFile(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return buf, err
	}
	n := int(st.Size())
	if cap(buf) < n {
		buf = make([]byte, n+n/8)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(f, buf); err != nil {
		return buf, err
	}
	return buf, nil
}

// toRGB converts a decoded image to packed RGB, with fast paths for what the
// standard decoders return. Alpha is dropped as cv2.imread(IMREAD_COLOR)
// does; 16-bit samples keep their high byte.
func toRGB(src image.Image, dst *Image) {
	r := src.Bounds()
	w, h := r.Dx(), r.Dy()
	dst.setSize(w, h)
	out := dst.Pix
	switch m := src.(type) {
	case *image.YCbCr:
		var sx, sy uint
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio422:
			sx = 1
		case image.YCbCrSubsampleRatio420:
			sx, sy = 1, 1
		case image.YCbCrSubsampleRatio440:
			sy = 1
		case image.YCbCrSubsampleRatio411:
			sx = 2
		case image.YCbCrSubsampleRatio410:
			sx, sy = 2, 1
		}
		for y := 0; y < h; y++ {
			yy := r.Min.Y + y
			yrow := m.Y[(yy-r.Min.Y)*m.YStride:]
			crow := (yy>>sy - r.Min.Y>>sy) * m.CStride
			o := out[y*w*3 : (y+1)*w*3]
			for x := 0; x < w; x++ {
				xx := r.Min.X + x
				ci := crow + (xx>>sx - r.Min.X>>sx)
				R, G, B := color.YCbCrToRGB(yrow[x], m.Cb[ci], m.Cr[ci])
				o[3*x], o[3*x+1], o[3*x+2] = R, G, B
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := out[y*w*3 : (y+1)*w*3]
			for x, v := range row {
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
	case *image.RGBA:
		copyRGBX(out, m.Pix, m.Stride, w, h)
	case *image.NRGBA:
		copyRGBX(out, m.Pix, m.Stride, w, h)
	case *image.Paletted:
		var pal [256][3]uint8
		for i, c := range m.Palette {
			nc := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]uint8{nc.R, nc.G, nc.B}
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := out[y*w*3 : (y+1)*w*3]
			for x, v := range row {
				p := pal[v]
				o[3*x], o[3*x+1], o[3*x+2] = p[0], p[1], p[2]
			}
		}
	default:
		i := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				c := color.NRGBA64Model.Convert(src.At(x, y)).(color.NRGBA64)
				out[i], out[i+1], out[i+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
				i += 3
			}
		}
	}
}

func copyRGBX(out, pix []uint8, stride, w, h int) {
	for y := 0; y < h; y++ {
		row := pix[y*stride : y*stride+4*w]
		o := out[y*w*3 : (y+1)*w*3]
		for x := 0; x < w; x++ {
			o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
}

// exifOrientation returns the EXIF orientation tag (1..8) of a JPEG, or 0
// when it has none. cv2.imread applies it, so labels refer to the rotated
// image.
func exifOrientation(b []byte) int {
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return 0
		}
		marker := b[i+1]
		if marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 || marker == 0xFF {
			i++
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // image data starts: no EXIF before it
			return 0
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		seg := b[i+4 : min(len(b), i+2+n)]
		if marker == 0xE1 && len(seg) > 14 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 0
}

func tiffOrientation(t []byte) int {
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int(bo.Uint32(t[4:]))
	if off+2 > len(t) {
		return 0
	}
	n := int(bo.Uint16(t[off:]))
	for k := 0; k < n; k++ {
		e := off + 2 + 12*k
		if e+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[e:]) == 0x0112 {
			return int(bo.Uint16(t[e+8:]))
		}
	}
	return 0
}

// orient applies EXIF orientation o to src, writing dst.
func orient(src, dst *Image, o int) {
	w, h := src.W, src.H
	if o >= 5 {
		dst.setSize(h, w)
	} else {
		dst.setSize(w, h)
	}
	for y := 0; y < dst.H; y++ {
		for x := 0; x < dst.W; x++ {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			default:
				sx, sy = x, y
			}
			si, di := (sy*w+sx)*3, (y*dst.W+x)*3
			dst.Pix[di], dst.Pix[di+1], dst.Pix[di+2] = src.Pix[si], src.Pix[si+1], src.Pix[si+2]
		}
	}
}
