package deploy

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/sdk/ir"
	pb "github.com/yoloforge/yoloforge/sdk/proto/yoloforge/v1"
)

// roundTrip sends ts through sendTensors into an assembler; n is the
// number of chunks sent.
func roundTrip(ts []Tensor) (out []Tensor, n int, err error) {
	var a assembler
	err = sendTensors(ts, func(c *pb.DeployTensorChunk) error {
		n++
		Expect(len(c.GetData())).To(BeNumerically("<=", ChunkBytes))
		return a.add(c)
	})
	if err != nil {
		return nil, n, err
	}
	out, err = a.finish()
	return out, n, err
}

var _ = Describe("tensor chunks", func() {
	It("cut tensors into chunks of at most ChunkBytes and put them back", func() {
		big := Tensor{Name: "big", Shape: []int{3, ChunkBytes/4 + 5}, Data: make([]float32, 3*(ChunkBytes/4+5))}
		for i := range big.Data {
			big.Data[i] = float32(i) * 0.5
		}
		out, n, err := roundTrip([]Tensor{big, {Name: "empty", Shape: []int{2, 0}}, {Name: "scalar", Shape: []int{}, Data: []float32{-1}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(HaveLen(3))
		// big needs 3*ChunkBytes + 60 bytes: four chunks; empty and scalar one each.
		Expect(n).To(Equal(6))
		Expect(out[0].Shape).To(Equal(big.Shape))
		Expect(out[0].Data).To(Equal(big.Data))
		Expect(out[1].Data).To(BeEmpty())
		Expect(out[2].Data).To(Equal([]float32{-1}))
	})

	It("refuses a tensor whose data does not fit its shape", func() {
		_, _, err := roundTrip([]Tensor{{Name: "x", Shape: []int{2, 2}, Data: []float32{1}}})
		Expect(err).To(MatchError(ContainSubstring(`tensor 0 ("x"): shape [2 2] needs 4 values, has 1`)))
	})

	It("refuses chunks out of order, too long, too short, or a shape beyond the limit, before allocating for it", func() {
		var a assembler
		Expect(a.add(&pb.DeployTensorChunk{Index: 1, Name: "x", Shape: []int64{1}})).To(MatchError(ContainSubstring("arrived after 0 tensors")))
		a = assembler{}
		Expect(a.add(&pb.DeployTensorChunk{Name: "x", Shape: []int64{1}, Offset: 4, Data: make([]byte, 4)})).To(MatchError(ContainSubstring("chunk at byte 4, expected byte 0")))
		a = assembler{}
		Expect(a.add(&pb.DeployTensorChunk{Name: "x", Shape: []int64{1}, Data: make([]byte, 8)})).To(MatchError(ContainSubstring("more than the 4 bytes")))
		a = assembler{}
		Expect(a.add(&pb.DeployTensorChunk{Name: "x", Shape: []int64{2}, Data: make([]byte, 4)})).To(Succeed())
		_, err := a.finish()
		Expect(err).To(MatchError(ContainSubstring("got 4 of the 8 bytes")))
		a = assembler{}
		Expect(a.add(&pb.DeployTensorChunk{Name: "x", Shape: []int64{1 << 40, 1 << 40}})).To(MatchError(ContainSubstring("is larger than")))
		Expect(a.add(&pb.DeployTensorChunk{Name: "x", Shape: []int64{-1}})).To(MatchError(ContainSubstring("negative dimension")))
	})
})

var _ = Describe("CheckOps", func() {
	g := &ir.Graph{
		Inputs:  []ir.Input{{Name: "images", Shape: []int{1, 3, 8, 8}}},
		Outputs: []string{"output", "raw_p3"},
		Nodes: []ir.Node{
			{Name: "model.0.conv", Op: "Conv", Inputs: []string{"images"}, Outputs: []string{"a"}},
			{Name: "model.0.act", Op: "SiLU", Inputs: []string{"a"}, Outputs: []string{"raw_p3"}},
			{Name: "model.1.decode", Op: "DetectDecode", Inputs: []string{"raw_p3"}, Outputs: []string{"output"}},
		},
	}
	It("names the first unsupported op and its node, and needs no decode op for raw outputs", func() {
		info := Info{Name: "b", Ops: []string{"Conv", "SiLU"}}
		Expect(CheckOps(info, g, false)).To(MatchError(`backend "b" does not support op DetectDecode (node model.1.decode); it supports Conv, SiLU`))
		Expect(CheckOps(info, g, true)).To(Succeed())
		Expect(Outputs(g, true)).To(Equal([]string{"raw_p3"}))
		Expect(LiveNodes(g, []string{"raw_p3"})).To(Equal([]int{0, 1}))
		info.Ops = []string{"Conv"}
		Expect(CheckOps(info, g, false)).To(MatchError(ContainSubstring("op SiLU (node model.0.act); also unsupported: DetectDecode")))
	})
})

var _ = Describe("weights files", func() {
	It("round-trip through safetensors and name a missing file", func() {
		path := filepath.Join(GinkgoT().TempDir(), "w.safetensors")
		w := Weights{"model.0.conv.weight": {Shape: []int{2, 1}, Data: []float32{1, 2}}, "b": {Shape: []int{}, Data: []float32{3}}}
		Expect(WriteWeights(path, w)).To(Succeed())
		got, err := ReadWeights(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(got["model.0.conv.weight"].Data).To(Equal([]float32{1, 2}))
		Expect(got["model.0.conv.weight"].Name).To(Equal("model.0.conv.weight"))
		Expect(got["b"].Shape).To(BeEmpty())
		_, err = ReadWeights(path + ".missing")
		Expect(err).To(MatchError(ContainSubstring("read " + path + ".missing")))
		Expect(os.WriteFile(path, []byte("junk"), 0o644)).To(Succeed())
		_, err = ReadWeights(path)
		Expect(err).To(MatchError(ContainSubstring("too short for a safetensors file")))
	})
})

var _ = Describe("WriteFile", func() {
	It("replaces the file whole with the given mode and leaves no temporary file", func() {
		dir := GinkgoT().TempDir()
		path := filepath.Join(dir, "model.bin")
		Expect(os.WriteFile(path, []byte("old"), 0o600)).To(Succeed())
		Expect(WriteFile(path, []byte("new data"), 0o644)).To(Succeed())
		Expect(os.ReadFile(path)).To(Equal([]byte("new data")))
		fi, err := os.Stat(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(fi.Mode().Perm()).To(Equal(os.FileMode(0o644)))
		entries, err := os.ReadDir(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(HaveLen(1))
		Expect(WriteFile(filepath.Join(dir, "missing", "x"), nil, 0o644)).To(MatchError(ContainSubstring("write " + dir)))
	})
})
