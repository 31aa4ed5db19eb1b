package pluginhost_test

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/pluginhost"
	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

var _ = Describe("deploy backend plugins", func() {
	var m *pluginhost.Manager
	BeforeEach(func() {
		m = pluginhost.NewManager(pluginhost.Options{Logger: hclog.New(&hclog.LoggerOptions{Name: "host", Output: io.Writer(GinkgoWriter)})})
	})
	AfterEach(func() { m.Shutdown() })

	graph := func(op string) *ir.Graph {
		return &ir.Graph{
			Inputs:  []ir.Input{{Name: "images", Shape: []int{1, 3, 8, 8}, Layer: -1}},
			Outputs: []string{"y"},
			Nodes:   []ir.Node{{Name: "model.0.act", Op: op, Inputs: []string{"images"}, Outputs: []string{"y"}}},
		}
	}

	It("describes, converts with the weights as a file, and runs tensors larger than one message", func(ctx SpecContext) {
		d, err := m.LaunchDeploy(ctx, pluginhost.Spec{Path: bin("deployecho")})
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Kind()).To(Equal(plugin.KindDeploy))
		Expect(d.Info().Name).To(Equal("deployecho"))
		Expect(d.Info().Ops).To(Equal([]string{"Conv", "SiLU"}))
		Expect(d.Info().CanInfer).To(BeTrue())

		dir := GinkgoT().TempDir()
		wf := filepath.Join(dir, "w.safetensors")
		Expect(deploy.WriteWeights(wf, deploy.Weights{
			"model.0.conv.weight": {Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}},
			"model.0.conv.bias":   {Shape: []int{2}, Data: []float32{0.5, 0.5}},
		})).To(Succeed())
		res, err := d.Convert(ctx, deploy.ConvertRequest{Graph: graph("SiLU"), WeightsFile: wf, OutDir: dir,
			Precision: deploy.FP32, Options: map[string]any{"opset": 13}})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Files).To(ConsistOf(filepath.Join(dir, "model.txt")))
		txt, err := os.ReadFile(filepath.Join(dir, "model.txt"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(txt)).To(Equal("nodes 1\nsum 11\nopset 13\n"))

		// 5 MB in (more than gRPC's 4 MB default message), 6 MB out.
		n := 3 * 640 * 640
		in := deploy.Tensor{Name: "images", Shape: []int{1, 3, 640, 640}, Data: make([]float32, n)}
		for i := range in.Data {
			in.Data[i] = float32(i%1000) / 7
		}
		sess, err := d.Load(ctx, deploy.LoadRequest{Dir: dir, Files: []string{"outputs=1500000"}})
		Expect(err).NotTo(HaveOccurred())
		out, err := d.Infer(ctx, sess, []deploy.Tensor{in, {Name: "empty", Shape: []int{0, 4}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(HaveLen(3))
		Expect(out[0].Name).To(Equal("images_x2"))
		Expect(out[0].Shape).To(Equal([]int{1, 3, 640, 640}))
		for _, i := range []int{0, 1, 262143, 262144, n - 1} {
			Expect(out[0].Data[i]).To(Equal(2 * in.Data[i]))
		}
		Expect(out[1].Shape).To(Equal([]int{0, 4}))
		Expect(out[1].Data).To(BeEmpty())
		Expect(out[2].Data).To(HaveLen(1500000))
		Expect(out[2].Data[1499999]).To(Equal(float32(1499999)))

		t, err := d.Time(ctx, sess, []deploy.Tensor{in}, 7)
		Expect(err).NotTo(HaveOccurred())
		Expect(t).To(Equal(deploy.Timing{Iterations: 7, MedianMS: 1.5, MinMS: 1}))
		Expect(d.Unload(ctx, sess)).To(Succeed())
	})

	It("reports a backend's own error as a component error naming the plugin and the call", func(ctx SpecContext) {
		d, err := m.LaunchDeploy(ctx, pluginhost.Spec{Path: bin("deployecho")})
		Expect(err).NotTo(HaveOccurred())
		_, err = d.Convert(ctx, deploy.ConvertRequest{Graph: graph("Resize"), WeightsFile: "/nonexistent", OutDir: GinkgoT().TempDir()})
		pe := asPluginError(err)
		Expect(pe.Reason).To(Equal(pluginhost.ReasonComponent))
		Expect(err.Error()).To(ContainSubstring(`deploy plugin "deployecho": Convert: node model.0.act: op Resize is not supported`))

		_, err = d.Convert(ctx, deploy.ConvertRequest{Graph: graph("SiLU"), WeightsFile: "/nonexistent/w.safetensors", OutDir: GinkgoT().TempDir()})
		Expect(err).To(MatchError(ContainSubstring("read /nonexistent/w.safetensors")))

		_, err = d.Infer(ctx, "nope", nil)
		Expect(asPluginError(err).Reason).To(Equal(pluginhost.ReasonComponent))
		Expect(err.Error()).To(ContainSubstring(`no session "nope"`))
	})

	It("refuses a component plugin launched as a deploy backend and a deploy plugin launched as a component", func(ctx context.Context) {
		_, err := m.LaunchDeploy(ctx, pluginhost.Spec{Path: bin("echo")})
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring(`deploy plugin "echo"`))

		_, err = m.Launch(ctx, pluginhost.Spec{Path: bin("deployecho"), Kind: plugin.KindBackbone})
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring(`backbone plugin "deployecho"`))

		_, err = m.LaunchDeploy(ctx, pluginhost.Spec{Path: bin("deployecho"), Kind: plugin.KindHead})
		Expect(asPluginError(err).Reason).To(Equal(pluginhost.ReasonKind))
	})
})
