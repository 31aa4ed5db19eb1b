// Package safetensors reads and writes the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON {"name": {"dtype", "shape",
// "data_offsets": [begin, end]}, ..., "__metadata__": {string: string}},
// then the tensor bytes, little-endian, with offsets relative to the end of
// the header.
//
// It lives in the SDK so that plugins (deploy backends reading the weights
// the host hands them as a file) and the host share one codec. Readers
// validate the header against the file size before allocating, so a
// truncated or malicious file gives an error, never a panic.
package safetensors

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// MetadataKey is the header key holding the string metadata.
const MetadataKey = "__metadata__"

// Tensor is one named float32 tensor, row-major. A scalar has an empty
// Shape and one element.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// WriteFile writes tensors (as F32, in order) and meta to path atomically:
// a temporary file in the same directory is written, synced and renamed
// over path, so readers see the old file or the complete new one.
func WriteFile(path string, tensors []Tensor, meta map[string]string) error {
	return WriteFileWrapped(path, tensors, meta, nil)
}

// WriteFileWrapped is WriteFile with the file writer wrapped by wrap (when
// not nil), so tests can make a write fail part-way.
func WriteFileWrapped(path string, tensors []Tensor, meta map[string]string, wrap func(io.Writer) io.Writer) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm() // replacing a file keeps its permissions
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	var w io.Writer = tmp
	if wrap != nil {
		w = wrap(w)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := Encode(bw, tensors, meta); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable. Best effort: not every platform
	// can sync a directory, and the new file is in place either way.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Encode writes tensors (all as F32, in order) and meta in the safetensors
// format.
func Encode(w io.Writer, tensors []Tensor, meta map[string]string) error {
	var hdr bytes.Buffer
	hdr.WriteByte('{')
	if len(meta) > 0 {
		hdr.WriteString(`"` + MetadataKey + `":`)
		b, err := json.Marshal(meta) // sorted keys: deterministic output
		if err != nil {
			return err
		}
		hdr.Write(b)
	}
	var offset int64
	seen := make(map[string]bool, len(tensors))
	for i, t := range tensors {
		if t.Name == MetadataKey {
			return fmt.Errorf("tensor name %q is reserved for metadata", t.Name)
		}
		if t.Name == "" {
			return errors.New("tensor without a name")
		}
		if seen[t.Name] {
			return fmt.Errorf("tensor %q appears twice", t.Name)
		}
		seen[t.Name] = true
		if err := CheckShape(t.Shape, len(t.Data)); err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if i > 0 || len(meta) > 0 {
			hdr.WriteByte(',')
		}
		k, err := json.Marshal(t.Name)
		if err != nil {
			return err
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{} // a scalar's shape is [], never null
		}
		sh, err := json.Marshal(shape)
		if err != nil {
			return err
		}
		end := offset + 4*int64(len(t.Data))
		fmt.Fprintf(&hdr, `%s:{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}`, k, sh, offset, end)
		offset = end
	}
	hdr.WriteByte('}')
	// Pad with spaces so the data starts 8-byte aligned, as the reference
	// implementation does.
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(hdr.Len()))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	for _, t := range tensors {
		for _, v := range t.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	_, err := w.Write(buf)
	return err
}

// ReadFile reads a safetensors file with the rules of Decode; errors name
// the file.
func ReadFile(path string) ([]Tensor, map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	ts, meta, err := Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return ts, meta, nil
}

// entry is one tensor of a header.
type entry struct {
	name       string
	dtype      string
	shape      []int
	begin, end int64
}

// Decode decodes a whole safetensors file held in memory: the tensors in
// data order and the "__metadata__" strings (nil if absent). F32, F16 and
// BF16 tensors are converted to float32; integer num_batches_tracked
// counters, which PyTorch state dicts carry, are skipped; any other dtype
// is an error.
func Decode(data []byte) ([]Tensor, map[string]string, error) {
	if len(data) < 8 {
		return nil, nil, fmt.Errorf("%d bytes is too short for a safetensors file (truncated?)", len(data))
	}
	hlen := binary.LittleEndian.Uint64(data)
	if hlen > uint64(len(data)-8) {
		return nil, nil, fmt.Errorf("header length %d exceeds the %d bytes after it (truncated or not safetensors)", hlen, len(data)-8)
	}
	hdr, body := data[8:8+hlen], data[8+hlen:]
	if len(bytes.TrimSpace(hdr)) == 0 || bytes.TrimLeft(hdr, " \t\r\n")[0] != '{' {
		return nil, nil, errors.New("header is not a JSON object (not safetensors)")
	}
	entries, meta, err := parseHeader(hdr)
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	if err := checkLayout(entries, int64(len(body))); err != nil {
		return nil, nil, err
	}
	out := make([]Tensor, 0, len(entries))
	for _, e := range entries {
		if e.dtype != "F32" && e.dtype != "F16" && e.dtype != "BF16" {
			// Integer counters are legitimately present in PyTorch state dicts.
			if isIntDType(e.dtype) && strings.HasSuffix(e.name, "num_batches_tracked") {
				continue
			}
			return nil, nil, fmt.Errorf("tensor %q: dtype %s is not supported (F32, F16, BF16 are)", e.name, e.dtype)
		}
		if e.name == "" {
			return nil, nil, errors.New("tensor without a name")
		}
		b := body[e.begin:e.end]
		vals := make([]float32, len(b)/dtypeSize(e.dtype))
		le := binary.LittleEndian
		switch e.dtype {
		case "F32":
			for i := range vals {
				vals[i] = math.Float32frombits(le.Uint32(b[4*i:]))
			}
		case "F16":
			for i := range vals {
				vals[i] = HalfToFloat32(le.Uint16(b[2*i:]))
			}
		case "BF16":
			for i := range vals {
				vals[i] = math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
			}
		}
		out = append(out, Tensor{Name: e.name, Shape: e.shape, Data: vals})
	}
	return out, meta, nil
}

// parseHeader decodes the JSON header, keeping tensor order and rejecting
// duplicate names, which a plain map would silently merge.
func parseHeader(hdr []byte) ([]entry, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("not a JSON object")
	}
	var entries []entry
	var meta map[string]string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		name, _ := tok.(string) // object keys are always strings
		if seen[name] {
			return nil, nil, fmt.Errorf("key %q appears twice", name)
		}
		seen[name] = true
		if name == MetadataKey {
			if err := dec.Decode(&meta); err != nil {
				return nil, nil, fmt.Errorf("%s: must map strings to strings: %w", MetadataKey, err)
			}
			continue
		}
		var raw map[string]json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		e := entry{name: name}
		var offs []int64
		for _, f := range []struct {
			key string
			dst any
		}{{"dtype", &e.dtype}, {"shape", &e.shape}, {"data_offsets", &offs}} {
			v, ok := raw[f.key]
			if !ok {
				return nil, nil, fmt.Errorf("tensor %q: no %q", name, f.key)
			}
			if err := json.Unmarshal(v, f.dst); err != nil {
				return nil, nil, fmt.Errorf("tensor %q: %s: %w", name, f.key, err)
			}
		}
		if len(offs) != 2 {
			return nil, nil, fmt.Errorf("tensor %q: data_offsets %v must be [begin, end]", name, offs)
		}
		e.begin, e.end = offs[0], offs[1]
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("data after the JSON object")
	}
	return entries, meta, nil
}

// checkLayout verifies each entry's dtype, shape and byte range, and that
// the ranges tile the data section exactly (no overlap, gap or trailing
// bytes), as the reference implementation requires. It sorts entries by
// offset, which is the order the tensors are loaded in.
func checkLayout(entries []entry, dataLen int64) error {
	for _, e := range entries {
		size := dtypeSize(e.dtype)
		if size == 0 {
			return fmt.Errorf("tensor %q: unknown dtype %q", e.name, e.dtype)
		}
		if e.begin < 0 || e.end < e.begin || e.end > dataLen {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] outside the %d data bytes", e.name, e.begin, e.end, dataLen)
		}
		n := (e.end - e.begin) / int64(size)
		if (e.end-e.begin)%int64(size) != 0 {
			return fmt.Errorf("tensor %q: %d bytes is not a whole number of %s elements", e.name, e.end-e.begin, e.dtype)
		}
		if err := CheckShape(e.shape, int(n)); err != nil {
			return fmt.Errorf("tensor %q (%s, %d bytes): %w", e.name, e.dtype, e.end-e.begin, err)
		}
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end))
	})
	var at int64
	for i, e := range entries {
		if e.begin != at {
			if e.begin < at {
				return fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q", e.name, e.begin, e.end, entries[i-1].name)
			}
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] leave a gap after byte %d", e.name, e.begin, e.end, at)
		}
		at = e.end
	}
	if at != dataLen {
		return fmt.Errorf("tensors cover %d of the %d data bytes", at, dataLen)
	}
	return nil
}

// CheckShape verifies that shape is valid and holds exactly n elements,
// without overflowing on absurd dimensions.
func CheckShape(shape []int, n int) error {
	prod := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d == 0 {
			prod = 0
			continue
		}
		if prod > n/d+1 { // the product already exceeds n: stop before it can overflow
			return fmt.Errorf("shape %v needs more than the %d elements given", shape, n)
		}
		prod *= d
	}
	if prod != n {
		return fmt.Errorf("shape %v needs %d elements, data has %d", shape, prod, n)
	}
	return nil
}

// dtypeSize is the byte size of a safetensors dtype, 0 if unknown.
func dtypeSize(d string) int {
	switch d {
	case "F64", "I64", "U64":
		return 8
	case "F32", "I32", "U32":
		return 4
	case "F16", "BF16", "I16", "U16":
		return 2
	case "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3":
		return 1
	}
	return 0
}

func isIntDType(d string) bool {
	switch d {
	case "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL":
		return true
	}
	return false
}

// HalfToFloat32 converts IEEE 754 binary16 bits to float32 exactly.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf and NaN keep their payload
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal: rebias the exponent from 15 to 127
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	default: // zero and subnormals: mant × 2^-24, exact in float32
		f := float32(mant) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
}

// Float32ToHalf converts a float32 to IEEE 754 binary16 bits, rounding to
// nearest even; values beyond the half range become ±Inf, NaN stays NaN.
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 { // subnormal half, or zero
		if e < -10 {
			return sign
		}
		m := mant | 0x800000 // the implicit leading one
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is the right rounding up to Inf
	}
	return sign | uint16(r)
}
