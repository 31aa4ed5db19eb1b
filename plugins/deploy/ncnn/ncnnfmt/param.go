// Package ncnnfmt writes, reads and checks ncnn models: the text .param
// file (magic 7767517, layer and blob counts, one line per layer) and the
// binary .bin file of weights, and converts an SDK graph with its weights
// into them.
//
// The format follows ncnn's own loader (src/net.cpp load_param,
// src/paramdict.cpp, src/modelbin.cpp and each layer's load_param and
// load_model), which is what the stock runtime accepts.
package ncnnfmt

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Magic is the first line of every .param file ncnn accepts.
const Magic = 7767517

// MaxParamID bounds parameter ids (NCNN_MAX_PARAM_COUNT is 32).
const MaxParamID = 31

// arrayBase is ncnn's marker for array parameters: key -23300-id.
const arrayBase = 23300

// maxValueLen is the longest value token ncnn scans ("%15[^,\n ]").
const maxValueLen = 15

// maxNameLen is the longest layer, type or blob name ncnn scans ("%255s").
const maxNameLen = 255

// Value is one parameter value: an int or float, or an array of them.
// ncnn decides int or float from the text (a '.' or 'e' makes a float), and
// reads a float parameter's bits as they were stored, so the writer must
// spell floats as floats.
type Value struct {
	Array  bool
	Float  bool
	Ints   []int32
	Floats []float32
}

// Int is a scalar integer value.
func Int(v int) Value { return Value{Ints: []int32{int32(v)}} }

// Float is a scalar float value.
func Float(v float64) Value { return Value{Float: true, Floats: []float32{float32(v)}} }

// IntArray is an integer array value.
func IntArray(v ...int) Value {
	out := Value{Array: true, Ints: make([]int32, len(v))}
	for i, x := range v {
		out.Ints[i] = int32(x)
	}
	return out
}

// FloatArray is a float array value.
func FloatArray(v ...float64) Value {
	out := Value{Array: true, Float: true, Floats: make([]float32, len(v))}
	for i, x := range v {
		out.Floats[i] = float32(x)
	}
	return out
}

// Len is the number of elements.
func (v Value) Len() int {
	if v.Float {
		return len(v.Floats)
	}
	return len(v.Ints)
}

func formatFloat(f float32) string {
	// 'e' always contains an 'e', so ncnn parses it as a float; the
	// shortest float32 form is at most 14 characters ("-1.1754944e-38").
	return strconv.FormatFloat(float64(f), 'e', -1, 32)
}

func (v Value) elems() []string {
	out := make([]string, v.Len())
	for i := range out {
		if v.Float {
			out[i] = formatFloat(v.Floats[i])
		} else {
			out[i] = strconv.Itoa(int(v.Ints[i]))
		}
	}
	return out
}

// Param is one key=value pair of a layer line.
type Param struct {
	ID    int
	Value Value
}

func (p Param) String() string {
	if p.Value.Array && p.Value.Len() == 0 {
		return fmt.Sprintf("%d=0", -arrayBase-p.ID)
	}
	if p.Value.Array {
		return fmt.Sprintf("%d=%d,%s", -arrayBase-p.ID, p.Value.Len(), strings.Join(p.Value.elems(), ","))
	}
	return fmt.Sprintf("%d=%s", p.ID, p.Value.elems()[0])
}

// Layer is one line of a .param file.
type Layer struct {
	Type    string
	Name    string
	Inputs  []string
	Outputs []string
	Params  []Param
}

// Get returns the parameter with the given id.
func (l *Layer) Get(id int) (Value, bool) {
	for _, p := range l.Params {
		if p.ID == id {
			return p.Value, true
		}
	}
	return Value{}, false
}

// Int returns a scalar int parameter or def when absent. A float stored
// under an int id is reported by the validator, not here.
func (l *Layer) Int(id, def int) int {
	v, ok := l.Get(id)
	if !ok || v.Array || v.Float || len(v.Ints) != 1 {
		return def
	}
	return int(v.Ints[0])
}

// FloatParam returns a scalar float parameter or def when absent.
func (l *Layer) FloatParam(id int, def float32) float32 {
	v, ok := l.Get(id)
	if !ok || v.Array || !v.Float || len(v.Floats) != 1 {
		return def
	}
	return v.Floats[0]
}

// Line formats the layer as ncnn's tools do: type, name, counts, blobs, params.
func (l *Layer) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %-24s %d %d", l.Type, l.Name, len(l.Inputs), len(l.Outputs))
	for _, s := range l.Inputs {
		b.WriteString(" " + s)
	}
	for _, s := range l.Outputs {
		b.WriteString(" " + s)
	}
	for _, p := range l.Params {
		b.WriteString(" " + p.String())
	}
	return b.String()
}

// ParamFile is a parsed or generated .param file.
type ParamFile struct {
	// BlobCount is the count on the second line: the number of distinct
	// blob names.
	BlobCount int
	Layers    []Layer
}

// CountBlobs returns the number of distinct blob names the layers use.
func (f *ParamFile) CountBlobs() int {
	seen := map[string]bool{}
	for _, l := range f.Layers {
		for _, s := range l.Inputs {
			seen[s] = true
		}
		for _, s := range l.Outputs {
			seen[s] = true
		}
	}
	return len(seen)
}

// Bytes formats the file.
func (f *ParamFile) Bytes() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d %d\n", Magic, len(f.Layers), f.BlobCount)
	for i := range f.Layers {
		b.WriteString(f.Layers[i].Line())
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ReadParam parses a .param file. It checks the syntax ncnn's loader
// requires (magic, counts, names, key=value pairs, array lengths, value
// lengths and ids); Validate checks the meaning.
func ReadParam(data []byte) (*ParamFile, error) {
	lines := strings.Split(string(data), "\n")
	var body []numberedLine
	for i, s := range lines {
		s = strings.TrimRight(s, "\r")
		if strings.TrimSpace(s) == "" {
			continue
		}
		body = append(body, numberedLine{i + 1, s})
	}
	if len(body) < 2 {
		return nil, fmt.Errorf("param: want the magic line and the counts line, file has %d non-empty lines", len(body))
	}
	if f := strings.Fields(body[0].text); len(f) != 1 || f[0] != strconv.Itoa(Magic) {
		return nil, fmt.Errorf("param line %d: want magic %d, got %q", body[0].no, Magic, body[0].text)
	}
	counts := strings.Fields(body[1].text)
	if len(counts) != 2 {
		return nil, fmt.Errorf("param line %d: want \"layer_count blob_count\", got %q", body[1].no, body[1].text)
	}
	layerCount, err1 := strconv.Atoi(counts[0])
	blobCount, err2 := strconv.Atoi(counts[1])
	if err1 != nil || err2 != nil || layerCount <= 0 || blobCount <= 0 {
		return nil, fmt.Errorf("param line %d: layer and blob counts must be positive integers, got %q", body[1].no, body[1].text)
	}
	rest := body[2:]
	if layerCount != len(rest) {
		return nil, fmt.Errorf("param line %d: declares %d layers, file has %d layer lines", body[1].no, layerCount, len(rest))
	}
	out := &ParamFile{BlobCount: blobCount, Layers: make([]Layer, 0, len(rest))}
	for _, ln := range rest {
		l, err := parseLayer(ln.text)
		if err != nil {
			return nil, fmt.Errorf("param line %d: %w", ln.no, err)
		}
		out.Layers = append(out.Layers, l)
	}
	return out, nil
}

type numberedLine struct {
	no   int
	text string
}

func parseLayer(s string) (Layer, error) {
	tok := strings.Fields(s)
	if len(tok) < 4 {
		return Layer{}, fmt.Errorf("want \"type name inputs outputs ...\", got %q", s)
	}
	l := Layer{Type: tok[0], Name: tok[1]}
	for _, n := range tok[:2] {
		if len(n) > maxNameLen {
			return Layer{}, fmt.Errorf("name %.20q... longer than %d characters", n, maxNameLen)
		}
	}
	nin, err1 := strconv.Atoi(tok[2])
	nout, err2 := strconv.Atoi(tok[3])
	if err1 != nil || err2 != nil || nin < 0 || nout < 0 {
		return Layer{}, fmt.Errorf("layer %s: input and output counts must be non-negative integers, got %q %q", l.Name, tok[2], tok[3])
	}
	tok = tok[4:]
	if nin > len(tok) || nout > len(tok)-nin {
		return Layer{}, fmt.Errorf("layer %s: declares %d inputs and %d outputs, line has %d names after the counts", l.Name, nin, nout, len(tok))
	}
	for _, n := range tok[:nin+nout] {
		if strings.Contains(n, "=") {
			return Layer{}, fmt.Errorf("layer %s: blob name %q contains '=' (fewer blobs than declared?)", l.Name, n)
		}
		if len(n) > maxNameLen {
			return Layer{}, fmt.Errorf("layer %s: blob name %.20q... longer than %d characters", l.Name, n, maxNameLen)
		}
	}
	l.Inputs = append([]string(nil), tok[:nin]...)
	l.Outputs = append([]string(nil), tok[nin:nin+nout]...)
	seen := map[int]bool{}
	for _, kv := range tok[nin+nout:] {
		p, err := parseParam(kv)
		if err != nil {
			return Layer{}, fmt.Errorf("layer %s: %w", l.Name, err)
		}
		if seen[p.ID] {
			return Layer{}, fmt.Errorf("layer %s: parameter %d given twice", l.Name, p.ID)
		}
		seen[p.ID] = true
		l.Params = append(l.Params, p)
	}
	return l, nil
}

func parseParam(kv string) (Param, error) {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return Param{}, fmt.Errorf("want key=value, got %q", kv)
	}
	key, err := strconv.Atoi(k)
	if err != nil {
		return Param{}, fmt.Errorf("key %q of %q is not an integer", k, kv)
	}
	array := key <= -arrayBase
	id := key
	if array {
		id = -key - arrayBase
	}
	if id < 0 || id > MaxParamID {
		return Param{}, fmt.Errorf("parameter id %d of %q outside 0..%d", id, kv, MaxParamID)
	}
	if !array {
		val, err := parseElem(v)
		if err != nil {
			return Param{}, fmt.Errorf("parameter %d: %w", id, err)
		}
		return Param{ID: id, Value: val}, nil
	}
	parts := strings.Split(v, ",")
	n, err := strconv.Atoi(parts[0])
	if err != nil || n < 0 {
		return Param{}, fmt.Errorf("array parameter %d: length %q is not a non-negative integer", id, parts[0])
	}
	if n != len(parts)-1 {
		return Param{}, fmt.Errorf("array parameter %d: declares %d elements, has %d", id, n, len(parts)-1)
	}
	val := Value{Array: true}
	for i, e := range parts[1:] {
		x, err := parseElem(e)
		if err != nil {
			return Param{}, fmt.Errorf("array parameter %d element %d: %w", id, i, err)
		}
		if i > 0 && x.Float != val.Float {
			return Param{}, fmt.Errorf("array parameter %d mixes ints and floats", id)
		}
		val.Float = x.Float
		val.Ints = append(val.Ints, x.Ints...)
		val.Floats = append(val.Floats, x.Floats...)
	}
	return Param{ID: id, Value: val}, nil
}

func parseElem(s string) (Value, error) {
	if s == "" {
		return Value{}, fmt.Errorf("empty value")
	}
	if len(s) > maxValueLen {
		return Value{}, fmt.Errorf("value %q longer than ncnn's %d characters", s, maxValueLen)
	}
	// ncnn's own number parser knows digits, sign, point and exponent only.
	if strings.Trim(s, "0123456789+-.eE") != "" {
		return Value{}, fmt.Errorf("value %q is not a decimal number", s)
	}
	if strings.ContainsAny(s, ".eE") {
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return Value{}, fmt.Errorf("value %q is not a number", s)
		}
		return Value{Float: true, Floats: []float32{float32(f)}}, nil
	}
	i, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return Value{}, fmt.Errorf("value %q is not a 32-bit integer", s)
	}
	return Value{Ints: []int32{int32(i)}}, nil
}
