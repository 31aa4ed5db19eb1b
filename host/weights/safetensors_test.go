package weights_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/weights"
)

// sampleSet has a conv weight, odd float values, a scalar and an empty
// tensor.
func sampleSet() *weights.Set {
	s := weights.NewSet("")
	must := func(name string, t weights.Tensor) { Expect(s.Put(name, t)).To(Succeed()) }
	w := make([]float32, 2*3*3*3)
	for i := range w {
		w[i] = float32(i)*0.25 - 3
	}
	must("model.0.conv.weight", weights.Tensor{Shape: []int{2, 3, 3, 3}, Data: w})
	must("odd", weights.Tensor{Shape: []int{5}, Data: []float32{
		float32(math.NaN()), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, math.MaxFloat32,
	}})
	must("scalar", weights.Tensor{Shape: []int{}, Data: []float32{42}})
	must("empty", weights.Tensor{Shape: []int{0, 4}, Data: []float32{}})
	return s
}

// expectSameSet compares names, order, shapes and value bits.
func expectSameSet(got, want *weights.Set) {
	GinkgoHelper()
	Expect(got.Names()).To(Equal(want.Names()))
	for _, n := range want.Names() {
		a, _ := got.Get(n)
		b, _ := want.Get(n)
		Expect(a.Shape).To(Equal(b.Shape), n)
		Expect(a.Data).To(HaveLen(len(b.Data)), n)
		for i := range a.Data {
			Expect(math.Float32bits(a.Data[i])).To(Equal(math.Float32bits(b.Data[i])), "%s[%d]", n, i)
		}
	}
}

// stFile assembles a safetensors file from a header and data section.
func stFile(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func f32bytes(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// listDir returns the names in dir.
func listDir(dir string) []string {
	GinkgoHelper()
	es, err := os.ReadDir(dir)
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

var _ = Describe("safetensors", func() {
	meta := map[string]string{
		"model":     `{"nc": 10, "depth_multiple": 0.33, "name": "yolov5n \"custom\""}`,
		"yoloforge": "0.1.0",
		"epoch":     "17",
		"note":      "ünïcode ✓ <&>",
	}

	It("round-trips tensors, order and metadata", func() {
		path := filepath.Join(GinkgoT().TempDir(), "w.safetensors")
		Expect(weights.Save(path, sampleSet(), meta)).To(Succeed())
		got, gotMeta, err := weights.Load(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Source).To(Equal(path))
		Expect(gotMeta).To(Equal(meta))
		expectSameSet(got, sampleSet())
	})

	It("writes the standard layout byte for byte", func() {
		s := weights.NewSet("")
		Expect(s.Put("a", weights.Tensor{Shape: []int{2}, Data: []float32{1, 2}})).To(Succeed())
		var buf bytes.Buffer
		Expect(weights.WriteSafetensors(&buf, s, map[string]string{"k": "v"})).To(Succeed())
		header := `{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
		for len(header)%8 != 0 {
			header += " " // padded so the data is 8-byte aligned
		}
		Expect(buf.Bytes()).To(Equal(stFile(header, f32bytes(1, 2))))
	})

	It("round-trips the golden yolov5n weights", func() {
		raw, err := weights.LoadRaw(golden("yolov5n-weights.bin"), golden("yolov5n-weights.json"))
		Expect(err).NotTo(HaveOccurred())
		path := filepath.Join(GinkgoT().TempDir(), "yolov5n.safetensors")
		Expect(weights.Save(path, raw, map[string]string{"epoch": "0"})).To(Succeed())
		got, m, err := weights.Load(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(m).To(HaveKeyWithValue("epoch", "0"))
		expectSameSet(got, raw)
	})

	It("reads F16 and BF16 in data order, with no metadata", func() {
		data := []byte{0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f} // F16 1, -2; BF16 1
		header := `{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[],"data_offsets":[4,6]}}`
		// Declared in reverse order: loading follows the data, not the JSON.
		header2 := `{"b":{"dtype":"BF16","shape":[],"data_offsets":[4,6]},"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`
		for _, h := range []string{header, header2} {
			s, m, err := weights.ReadSafetensors(stFile(h, data))
			Expect(err).NotTo(HaveOccurred())
			Expect(m).To(BeNil())
			Expect(s.Names()).To(Equal([]string{"h", "b"}))
			hv, _ := s.Get("h")
			Expect(hv.Data).To(Equal([]float32{1, -2}))
			bv, _ := s.Get("b")
			Expect(bv.Data).To(Equal([]float32{1}))
		}
	})

	It("skips integer num_batches_tracked counters and rejects other integer tensors", func() {
		data := append(f32bytes(1), make([]byte, 8)...)
		ok := `{"bn.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[4,12]}}`
		s, _, err := weights.ReadSafetensors(stFile(ok, data))
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Names()).To(Equal([]string{"bn.weight"}))
		bad := `{"bn.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"idx":{"dtype":"I64","shape":[],"data_offsets":[4,12]}}`
		_, _, err = weights.ReadSafetensors(stFile(bad, data))
		Expect(err).To(MatchError(ContainSubstring(`tensor "idx": dtype I64 is not supported`)))
	})

	Describe("atomic Save", func() {
		var dir, path string
		var old []byte
		BeforeEach(func() {
			dir = GinkgoT().TempDir()
			path = filepath.Join(dir, "w.safetensors")
			Expect(weights.Save(path, sampleSet(), map[string]string{"epoch": "1"})).To(Succeed())
			var err error
			old, err = os.ReadFile(path)
			Expect(err).NotTo(HaveOccurred())
		})
		expectUntouched := func() {
			GinkgoHelper()
			now, err := os.ReadFile(path)
			Expect(err).NotTo(HaveOccurred())
			Expect(now).To(Equal(old))
			Expect(listDir(dir)).To(Equal([]string{"w.safetensors"}), "no temporary file left behind")
		}

		It("leaves the old file intact when writing fails part-way", func() {
			big := weights.NewSet("")
			Expect(big.Put("x", weights.Tensor{Shape: []int{1 << 20}, Data: make([]float32, 1<<20)})).To(Succeed())
			failAfter := func(w io.Writer) io.Writer { return &failingWriter{w: w, left: 100_000} }
			err := weights.SaveWrapped(path, big, nil, failAfter)
			Expect(err).To(MatchError(And(ContainSubstring("write "+path), ContainSubstring("disk full"))))
			expectUntouched()
		})

		It("leaves the old file intact when the directory is not writable", func() {
			Expect(os.Chmod(dir, 0o555)).To(Succeed())
			DeferCleanup(os.Chmod, dir, os.FileMode(0o755))
			if f, err := os.CreateTemp(dir, "probe"); err == nil {
				f.Close()
				os.Remove(f.Name())
				Skip("permissions are not enforced for this user (root)")
			}
			err := weights.Save(path, sampleSet(), nil)
			Expect(err).To(MatchError(And(ContainSubstring("write "+path), ContainSubstring("permission denied"))))
			expectUntouched()
		})

		It("leaves the old file intact when the set cannot be encoded", func() {
			bad := weights.NewSet("")
			Expect(bad.Put("__metadata__", weights.Tensor{Shape: []int{1}, Data: []float32{1}})).To(Succeed())
			Expect(weights.Save(path, bad, nil)).To(MatchError(ContainSubstring("reserved for metadata")))
			expectUntouched()
		})

		It("replaces the file and keeps its permissions", func() {
			Expect(os.Chmod(path, 0o600)).To(Succeed())
			Expect(weights.Save(path, sampleSet(), map[string]string{"epoch": "2"})).To(Succeed())
			_, m, err := weights.Load(path)
			Expect(err).NotTo(HaveOccurred())
			Expect(m).To(Equal(map[string]string{"epoch": "2"}))
			fi, err := os.Stat(path)
			Expect(err).NotTo(HaveOccurred())
			Expect(fi.Mode().Perm()).To(Equal(os.FileMode(0o600)))
			Expect(listDir(dir)).To(Equal([]string{"w.safetensors"}))
		})

		It("names the file when its directory does not exist", func() {
			p := filepath.Join(dir, "missing", "w.safetensors")
			Expect(weights.Save(p, sampleSet(), nil)).To(MatchError(ContainSubstring("write " + p)))
		})
	})

	Describe("corrupt input", func() {
		valid := func() []byte {
			var b bytes.Buffer
			Expect(weights.WriteSafetensors(&b, sampleSet(), map[string]string{"a": "b"})).To(Succeed())
			return b.Bytes()
		}

		It("rejects every truncation of a valid file", func() {
			full := valid()
			for cut := 0; cut < len(full); cut++ {
				_, _, err := weights.ReadSafetensors(full[:cut])
				Expect(err).To(HaveOccurred(), "cut at %d", cut)
			}
		})

		It("names the file", func() {
			path := filepath.Join(GinkgoT().TempDir(), "bad.safetensors")
			Expect(os.WriteFile(path, valid()[:20], 0o644)).To(Succeed())
			_, _, err := weights.Load(path)
			Expect(err).To(MatchError(HavePrefix("read " + path + ": header length")))
			_, _, err = weights.Load(path + ".missing")
			Expect(errors.Is(err, os.ErrNotExist)).To(BeTrue())
		})

		f4 := f32bytes(1)
		entry := func(dtype, shape string, b, e int) string {
			return fmt.Sprintf(`{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, dtype, shape, b, e)
		}
		DescribeTable("is an error, never a panic",
			func(file []byte, want string) {
				_, _, err := weights.ReadSafetensors(file)
				Expect(err).To(MatchError(ContainSubstring(want)))
			},
			Entry("empty", []byte{}, "too short"),
			Entry("header length beyond the file", stFile("{}", nil)[:8], "header length 2 exceeds"),
			Entry("header length near 2^64", append(binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "{}"...), "exceeds"),
			Entry("header not an object", stFile(`[1,2]`, nil), "not a JSON object"),
			Entry("header not JSON", stFile(`{"a":`, nil), "header"),
			Entry("data after the header object", stFile(`{} {}`, nil), "data after the JSON object"),
			Entry("duplicate tensor", stFile(`{"a":`+entry("F32", "[1]", 0, 4)+`,"a":`+entry("F32", "[1]", 0, 4)+`}`, f4), `"a" appears twice`),
			Entry("offsets past the data", stFile(`{"a":`+entry("F32", "[2]", 0, 8)+`}`, f4), "outside the 4 data bytes"),
			Entry("negative offsets", stFile(`{"a":`+entry("F32", "[1]", -4, 0)+`}`, f4), "outside"),
			Entry("reversed offsets", stFile(`{"a":`+entry("F32", "[0]", 4, 0)+`}`, f4), "outside"),
			Entry("overlapping tensors", stFile(`{"a":`+entry("F32", "[2]", 0, 8)+`,"b":`+entry("F32", "[1]", 4, 8)+`}`, f32bytes(1, 2)), "overlap"),
			Entry("gap between tensors", stFile(`{"a":`+entry("F32", "[1]", 4, 8)+`}`, f32bytes(1, 2)), "gap"),
			Entry("trailing data bytes", stFile(`{"a":`+entry("F32", "[1]", 0, 4)+`}`, f32bytes(1, 2)), "cover 4 of the 8"),
			Entry("partial element", stFile(`{"a":`+entry("F32", "[1]", 0, 6)+`}`, make([]byte, 6)), "not a whole number of F32"),
			Entry("shape disagrees with bytes", stFile(`{"a":`+entry("F32", "[3]", 0, 4)+`}`, f4), "needs 3 elements, data has 1"),
			Entry("overflowing shape", stFile(`{"a":`+entry("F32", "[4294967296,4294967296,4294967296]", 0, 4)+`}`, f4), "needs more than"),
			Entry("negative dimension", stFile(`{"a":`+entry("F32", "[-1,-1]", 0, 4)+`}`, f4), "negative"),
			Entry("unknown dtype", stFile(`{"a":`+entry("F31", "[1]", 0, 4)+`}`, f4), `unknown dtype "F31"`),
			Entry("unsupported dtype", stFile(`{"a":`+entry("F64", "[1]", 0, 8)+`}`, make([]byte, 8)), "dtype F64 is not supported"),
			Entry("missing data_offsets", stFile(`{"a":{"dtype":"F32","shape":[1]}}`, f4), `no "data_offsets"`),
			Entry("three offsets", stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, f4), "must be [begin, end]"),
			Entry("fractional offset", stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}}`, f4), "data_offsets"),
			Entry("tensor entry not an object", stFile(`{"a":[1]}`, f4), `tensor "a"`),
			Entry("metadata not strings", stFile(`{"__metadata__":{"epoch":3}}`, nil), "must map strings to strings"),
		)
	})
})

// failingWriter accepts left bytes, then fails as a full disk would.
type failingWriter struct {
	w    io.Writer
	left int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		n, _ := f.w.Write(p[:f.left])
		f.left = 0
		return n, errors.New("disk full")
	}
	f.left -= len(p)
	return f.w.Write(p)
}
