package pluginhost_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/yoloforge/yoloforge/host/pluginhost"
	"github.com/yoloforge/yoloforge/sdk/plugin"
	"github.com/yoloforge/yoloforge/sdk/plugin/plugintest"
)

func asPluginError(err error) *pluginhost.PluginError {
	GinkgoHelper()
	var pe *pluginhost.PluginError
	Expect(errors.As(err, &pe)).To(BeTrue(), "want a *PluginError, got %T: %v", err, err)
	return pe
}

var _ = Describe("Manager", func() {
	var (
		m    *pluginhost.Manager
		logs *gbytes.Buffer
		opts pluginhost.Options
	)

	BeforeEach(func() {
		logs = gbytes.NewBuffer()
		opts = pluginhost.Options{
			Logger: hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Debug, Output: io.MultiWriter(GinkgoWriter, logs)}),
		}
	})
	JustBeforeEach(func() {
		m = pluginhost.NewManager(opts)
	})
	AfterEach(func() {
		m.Shutdown() // the suite's AfterEach then checks that nothing is left
	})

	launch := func(ctx context.Context, name string, kind plugin.Kind) *pluginhost.Plugin {
		GinkgoHelper()
		p, err := m.Launch(ctx, pluginhost.Spec{Path: bin(name), Kind: kind})
		Expect(err).NotTo(HaveOccurred())
		return p
	}

	Context("with a well-behaved plugin", func() {
		It("describes and builds over gRPC exactly as the component does in process", func(ctx SpecContext) {
			p := launch(ctx, "echo", plugin.KindBackbone)
			Expect(p.Pid()).To(BeNumerically(">", 0))
			Expect(p.Exited()).To(BeFalse())

			want, err := plugintest.Echo{}.Describe(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Info()).To(Equal(want))
			info, err := p.Describe(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(info).To(Equal(want))

			bc := plugin.BuildContext{
				Args:       map[string]any{"width": int64(16), "ratio": 1.0, "strides": []any{int64(8), int64(16)}},
				FirstLayer: 0, WidthMultiple: 0.5, DepthMultiple: 0.33, InChannels: 3, NC: 7,
				Anchors: plugintest.DefaultAnchors(),
			}
			local, err := plugintest.Echo{}.Build(ctx, bc)
			Expect(err).NotTo(HaveOccurred())
			part, err := p.Build(ctx, bc)
			Expect(err).NotTo(HaveOccurred())
			Expect(part).To(Equal(local))
			Expect(part.Graph.Validate()).To(Succeed())
		})

		It("carries graphs larger than gRPC's default 4 MiB limit", func(ctx SpecContext) {
			p := launch(ctx, "echo", plugin.KindBackbone)
			bc := plugin.BuildContext{Args: map[string]any{"depth": int64(3000)}}
			local, err := plugintest.Echo{}.Build(ctx, bc)
			Expect(err).NotTo(HaveOccurred())
			msg, err := plugin.PartToProto(local)
			Expect(err).NotTo(HaveOccurred())
			Expect(protoSize(msg)).To(BeNumerically(">", 4<<20))

			part, err := p.Build(ctx, bc)
			Expect(err).NotTo(HaveOccurred())
			Expect(part).To(Equal(local))
		})

		It("hands the component's error over with its message intact and keeps the plugin", func(ctx SpecContext) {
			p := launch(ctx, "echo", plugin.KindBackbone)
			msg := "echo: width 7 is not a multiple of 8\n(see the backbone's docs)"
			_, err := p.Build(ctx, plugin.BuildContext{Args: map[string]any{"fail": msg}})
			pe := asPluginError(err)
			Expect(pe.Reason).To(Equal(pluginhost.ReasonComponent))
			var remote *plugin.RemoteError
			Expect(errors.As(err, &remote)).To(BeTrue())
			Expect(remote.Message).To(Equal(msg))
			Expect(err.Error()).To(Equal(`backbone plugin "echo": Build: ` + msg))

			_, err = p.Build(ctx, plugin.BuildContext{})
			Expect(err).NotTo(HaveOccurred())
		})

		It("accepts a binary that matches its manifest's checksum", func(ctx SpecContext) {
			sum := sha256File(bin("echo"))
			_, err := m.Launch(ctx, pluginhost.Spec{Path: bin("echo"), Kind: plugin.KindBackbone, SHA256: sum})
			Expect(err).NotTo(HaveOccurred())
		})

		It("refuses a plugin of another kind", func(ctx SpecContext) {
			_, err := m.Launch(ctx, pluginhost.Spec{Path: bin("echo"), Kind: plugin.KindHead})
			pe := asPluginError(err)
			Expect(pe.Reason).To(Equal(pluginhost.ReasonKind))
			Expect(err.Error()).To(ContainSubstring(`is a backbone "echo", not a head`))
			Expect(leftoverPlugins()).To(BeEmpty())
		})

		It("stops a plugin on Kill and refuses calls afterwards", func(ctx SpecContext) {
			p := launch(ctx, "echo", plugin.KindBackbone)
			p.Kill()
			Expect(p.Exited()).To(BeTrue())
			Expect(leftoverPlugins()).To(BeEmpty())
			_, err := p.Build(ctx, plugin.BuildContext{})
			Expect(asPluginError(err).Reason).To(Equal(pluginhost.ReasonStopped))
			p.Kill() // idempotent
		})

		It("stops every plugin on Shutdown and launches no more", func(ctx SpecContext) {
			a := launch(ctx, "echo", plugin.KindBackbone)
			b := launch(ctx, "echo", plugin.KindBackbone)
			Expect(m.Plugins()).To(HaveLen(2))
			m.Shutdown()
			Expect(a.Exited()).To(BeTrue())
			Expect(b.Exited()).To(BeTrue())
			Expect(m.Plugins()).To(BeEmpty())
			Expect(leftoverPlugins()).To(BeEmpty())

			_, err := m.Launch(ctx, pluginhost.Spec{Path: bin("echo"), Kind: plugin.KindBackbone})
			Expect(asPluginError(err).Reason).To(Equal(pluginhost.ReasonStopped))
		})

		It("leaves nothing behind when Shutdown races launches", func(ctx SpecContext) {
			for i := range 6 {
				mm := pluginhost.NewManager(opts)
				errs := make(chan error, 3)
				for range 3 {
					go func() {
						_, err := mm.Launch(ctx, pluginhost.Spec{Path: bin("echo"), Kind: plugin.KindBackbone})
						errs <- err
					}()
				}
				time.Sleep(time.Duration(i) * 15 * time.Millisecond)
				mm.Shutdown()
				for range 3 {
					if err := <-errs; err != nil {
						Expect(asPluginError(err).Reason).To(BeElementOf(pluginhost.ReasonStopped, pluginhost.ReasonExited, pluginhost.ReasonProtocol))
					}
				}
				Expect(mm.Plugins()).To(BeEmpty())
				Expect(leftoverPlugins()).To(BeEmpty(), "iteration %d", i)
			}
		})

		It("stops the plugins and exits 143 on SIGTERM, 130 on SIGINT", func(ctx SpecContext) {
			codes := make(chan int, 2)
			opts.Exit = func(code int) { codes <- code }
			m = pluginhost.NewManager(opts)
			p := launch(ctx, "echo", plugin.KindBackbone)

			sigs, done := make(chan os.Signal, 1), make(chan struct{})
			defer close(done)
			go m.WatchSignals(sigs, done)
			sigs <- syscall.SIGTERM
			Eventually(codes).WithTimeout(10 * time.Second).Should(Receive(Equal(143)))
			Expect(p.Exited()).To(BeTrue())
			Expect(leftoverPlugins()).To(BeEmpty())

			sigs2, done2 := make(chan os.Signal, 1), make(chan struct{})
			defer close(done2)
			go pluginhost.NewManager(opts).WatchSignals(sigs2, done2)
			sigs2 <- os.Interrupt
			Eventually(codes).Should(Receive(Equal(130)))

			stop := m.KillOnSignals()
			stop()
			stop()
		})
	})

	Context("with a plugin that panics in Build", func() {
		It("reports the plugin, the call, the exit status and the panic", func(ctx SpecContext) {
			p, err := m.Launch(ctx, pluginhost.Spec{Path: bin("panic"), Name: "panicky", Kind: plugin.KindBackbone})
			Expect(err).NotTo(HaveOccurred())
			_, err = p.Build(ctx, plugin.BuildContext{})
			pe := asPluginError(err)
			Expect(pe.Reason).To(Equal(pluginhost.ReasonExited))
			Expect(pe.ExitStatus).To(Equal("exit status 2"))
			Expect(pe.Stderr).To(ContainElement("panic: panicky: anchors are upside down"))
			Expect(err.Error()).To(And(
				ContainSubstring(`plugin "panicky": Build: the plugin process exited (exit status 2)`),
				ContainSubstring("last lines of the plugin's stderr:\n  panic: panicky: anchors are upside down")))
			Expect(p.Exited()).To(BeTrue())
			Expect(leftoverPlugins()).To(BeEmpty())

			// The plugin's stderr also went to the log, under its name.
			Expect(logs).To(gbytes.Say(`host\.panicky.*panic: panicky: anchors are upside down`))

			_, err = p.Describe(ctx)
			pe = asPluginError(err)
			Expect(pe.Reason).To(Equal(pluginhost.ReasonExited))
			Expect(pe.ExitStatus).To(Equal("exit status 2"))
		})
	})

	Context("with a plugin that exits in Build", func() {
		It("reports the exit status and what it wrote to stderr", func(ctx SpecContext) {
			p := launch(ctx, "exit", plugin.KindBackbone)
			_, err := p.Build(ctx, plugin.BuildContext{})
			pe := asPluginError(err)
			Expect(pe.Reason).To(Equal(pluginhost.ReasonExited))
			Expect(pe.ExitStatus).To(Equal("exit status 3"))
			Expect(pe.Stderr).To(ContainElements("quitter: loading weights", "quitter: fatal: weights file is truncated"))
			Expect(err.Error()).To(And(
				ContainSubstring(`backbone plugin "exit": Build: the plugin process exited (exit status 3)`),
				ContainSubstring("quitter: fatal: weights file is truncated")))
			Expect(leftoverPlugins()).To(BeEmpty())
		})
	})

	Context("with a plugin that hangs in Build", func() {
		BeforeEach(func() { opts.CallTimeout = 2 * time.Second })

		It("times the call out, says so, and kills the plugin", func(ctx SpecContext) {
			p := launch(ctx, "hang", plugin.KindBackbone)
			start := time.Now()
			_, err := p.Build(ctx, plugin.BuildContext{})
			Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
			pe := asPluginError(err)
			Expect(pe.Reason).To(Equal(pluginhost.ReasonTimeout))
			Expect(pe.Timeout).To(Equal(2 * time.Second))
			Expect(err.Error()).To(Equal(`backbone plugin "hang": Build: call timed out after 2 seconds; the plugin was killed`))
			Expect(p.Exited()).To(BeTrue())
			Expect(leftoverPlugins()).To(BeEmpty())
		})

		It("leaves the plugin alone when the caller gives up first", func(ctx SpecContext) {
			p := launch(ctx, "hang", plugin.KindBackbone)
			short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			_, err := p.Build(short, plugin.BuildContext{})
			pe := asPluginError(err)
			Expect(pe.Reason).To(Equal(pluginhost.ReasonCanceled))
			Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue())
			Expect(p.Exited()).To(BeFalse())
		})
	})

	Context("with a plugin that speaks another protocol version", func() {
		It("refuses it with a message that says what to do", func(ctx SpecContext) {
			_, err := m.Launch(ctx, pluginhost.Spec{Path: bin("future"), Kind: plugin.KindBackbone})
			pe := asPluginError(err)
			Expect(pe.Reason).To(Equal(pluginhost.ReasonProtocolVersion))
			Expect(pe.PluginProtocol).To(Equal(99))
			Expect(err.Error()).To(ContainSubstring(
				"the plugin speaks protocol version 99 but this host speaks protocol version 1; rebuild the plugin against a YOLOForge SDK"))
			Expect(leftoverPlugins()).To(BeEmpty())
		})
	})

	Context("with a binary that does not match its manifest", func() {
		It("refuses it before it runs", func(ctx SpecContext) {
			dir := GinkgoT().TempDir()
			tampered := filepath.Join(dir, "echo")
			copyExecutable(bin("echo"), tampered)
			sum := sha256File(tampered)
			f, err := os.OpenFile(tampered, os.O_APPEND|os.O_WRONLY, 0)
			Expect(err).NotTo(HaveOccurred())
			_, err = f.Write([]byte{0})
			Expect(err).NotTo(HaveOccurred())
			Expect(f.Close()).To(Succeed())

			marker := filepath.Join(dir, "ran")
			Expect(os.Setenv("YOLOFORGE_TEST_RAN_MARKER", marker)).To(Succeed())
			DeferCleanup(os.Unsetenv, "YOLOFORGE_TEST_RAN_MARKER")

			_, err = m.Launch(ctx, pluginhost.Spec{Path: tampered, Kind: plugin.KindBackbone, SHA256: sum})
			pe := asPluginError(err)
			Expect(pe.Reason).To(Equal(pluginhost.ReasonChecksum))
			Expect(err.Error()).To(And(
				ContainSubstring("checksum of "+tampered+" does not match the manifest"),
				ContainSubstring("file sha256 "+hex.EncodeToString(sha256File(tampered))),
				ContainSubstring("refusing to run it")))
			Expect(marker).NotTo(BeAnExistingFile(), "the tampered binary ran")

			// The marker works: the same binary with a matching sum does run.
			_, err = m.Launch(ctx, pluginhost.Spec{Path: tampered, Kind: plugin.KindBackbone, SHA256: sha256File(tampered)})
			Expect(err).NotTo(HaveOccurred())
			Expect(marker).To(BeAnExistingFile())
		})
	})

	Context("with bad specs", func() {
		It("names a missing executable", func(ctx SpecContext) {
			_, err := m.Launch(ctx, pluginhost.Spec{Path: "/nonexistent/yoloforge-plugin-backbone-x", Kind: plugin.KindBackbone})
			Expect(asPluginError(err).Reason).To(Equal(pluginhost.ReasonStart))
			Expect(err.Error()).To(ContainSubstring("/nonexistent/yoloforge-plugin-backbone-x"))
		})

		It("refuses an unknown kind, a canceled context and a malformed checksum", func(ctx SpecContext) {
			_, err := m.Launch(ctx, pluginhost.Spec{Path: bin("echo"), Kind: "optimizer"})
			Expect(asPluginError(err).Reason).To(Equal(pluginhost.ReasonKind))
			canceled, cancel := context.WithCancel(ctx)
			cancel()
			_, err = m.Launch(canceled, pluginhost.Spec{Path: bin("echo"), Kind: plugin.KindBackbone})
			Expect(asPluginError(err).Reason).To(Equal(pluginhost.ReasonCanceled))
			_, err = m.Launch(ctx, pluginhost.Spec{Path: bin("echo"), Kind: plugin.KindBackbone, SHA256: []byte{1, 2}})
			Expect(asPluginError(err).Reason).To(Equal(pluginhost.ReasonChecksum))
		})

		It("reports what a non-plugin executable said", func(ctx SpecContext) {
			script := filepath.Join(GinkgoT().TempDir(), "not-a-plugin")
			Expect(os.WriteFile(script, []byte("#!/bin/sh\necho 'something went wrong' >&2\nexit 4\n"), 0o755)).To(Succeed())
			_, err := m.Launch(ctx, pluginhost.Spec{Path: script, Kind: plugin.KindBackbone})
			pe := asPluginError(err)
			Expect(pe.Reason).To(Equal(pluginhost.ReasonStart))
			Expect(pe.Stderr).To(ContainElement("something went wrong"))
			Expect(pe.ExitStatus).To(Equal("exit status 4"))
		})
	})
})

var _ = Describe("a plugin binary run outside the host", func() {
	It("prints its manifest for --yoloforge-manifest", func() {
		out, err := exec.Command(bin("echo"), plugin.ManifestFlag).Output()
		Expect(err).NotTo(HaveOccurred())
		var mf plugin.Manifest
		Expect(json.Unmarshal(out, &mf)).To(Succeed())
		Expect(mf).To(Equal(plugin.Manifest{Name: "echo", Kind: plugin.KindBackbone, Version: "1.2.3",
			ProtocolVersion: 1, Description: "Reference component: a two-level YOLO model built from the context."}))

		out, err = exec.Command(bin("future"), plugin.ManifestFlag).Output()
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(out, &mf)).To(Succeed())
		Expect(mf.ProtocolVersion).To(Equal(99))
	})

	It("tells a person it is meant to be launched by yoloforge", func() {
		cmd := exec.Command(bin("echo"))
		stderr := gbytes.NewBuffer()
		cmd.Stderr = stderr
		err := cmd.Run()
		var exit *exec.ExitError
		Expect(errors.As(err, &exit)).To(BeTrue())
		Expect(exit.ExitCode()).To(Equal(1))
		Expect(stderr).To(gbytes.Say("YOLOForge backbone plugin"))
		Expect(stderr).To(gbytes.Say("launched by `yoloforge`"))
	})
})

var _ = Describe("the stderr tail", func() {
	It("keeps the last lines, joining split writes", func() {
		t := pluginhost.NewTail(3)
		for _, s := range []string{"one\ntw", "o\nthree\n", "four\n", "fi"} {
			_, _ = t.Write([]byte(s))
		}
		Expect(t.Lines()).To(Equal([]string{"three", "four", "fi"}))
	})

	It("keeps a crash's first line when the stack trace scrolls it out", func() {
		t := pluginhost.NewTail(2)
		_, _ = t.Write([]byte("log\npanic: boom\n\ngoroutine 1 [running]:\nmain.main()\n"))
		Expect(t.Lines()).To(Equal([]string{"panic: boom", "...", "goroutine 1 [running]:", "main.main()"}))
	})
})
