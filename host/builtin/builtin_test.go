package builtin_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/builtin"
	"github.com/yoloforge/yoloforge/registry"
)

// pluginMain is a minimal plugin: it answers --yoloforge-manifest and
// nothing else. It avoids fmt to keep builds fast.
func pluginMain(kind, name string) string {
	return `package main

import "os"

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--yoloforge-manifest" {
		os.Stdout.WriteString(` + "`" + `{"name":"` + name + `","kind":"` + kind + `","version":"1.0.0","protocol_version":1,"description":"fake"}` + "`" + ` + "\n")
		return
	}
	os.Exit(1)
}
`
}

func write(path, content string) {
	GinkgoHelper()
	Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
	Expect(os.WriteFile(path, []byte(content), 0o644)).To(Succeed())
}

// newTree creates a dependency-free module that claims to be YOLOForge,
// with one backbone plugin and an empty sdk/.
func newTree() string {
	GinkgoHelper()
	root := GinkgoT().TempDir()
	write(filepath.Join(root, "go.mod"), "module "+builtin.ModulePath+"\n\ngo 1.21\n")
	write(filepath.Join(root, "plugins", "backbones", "fake", "main.go"), pluginMain("backbone", "fake"))
	Expect(os.MkdirAll(filepath.Join(root, "sdk"), 0o755)).To(Succeed())
	return root
}

// hermetic env: no toolchain downloads, no network for modules, no VCS
// stamping of the temp tree.
func testEnv() []string {
	return append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off", "GOPROXY=off")
}

// recorder collects log lines; Logf is serialized by the builder, but the
// lock keeps the race detector quiet regardless.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func (r *recorder) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

func mtime(path string) time.Time {
	GinkgoHelper()
	fi, err := os.Stat(path)
	Expect(err).NotTo(HaveOccurred())
	return fi.ModTime()
}

// touch makes path newer than anything built so far.
func touch(path string) {
	GinkgoHelper()
	now := time.Now()
	Expect(os.Chtimes(path, now, now)).To(Succeed())
}

var _ = Describe("FindRoot", func() {
	DescribeTable("recognizes the module line",
		func(gomod string, want bool) {
			root := GinkgoT().TempDir()
			write(filepath.Join(root, "go.mod"), gomod)
			sub := filepath.Join(root, "a", "b")
			Expect(os.MkdirAll(sub, 0o755)).To(Succeed())
			got, ok := builtin.FindRoot(sub)
			Expect(ok).To(Equal(want))
			if want {
				Expect(got).To(Equal(root))
			}
		},
		Entry("plain", "module github.com/yoloforge/yoloforge\n\ngo 1.26\n", true),
		Entry("comments and spacing", "// the framework\n  module   github.com/yoloforge/yoloforge // main\n", true),
		Entry("quoted", "module \"github.com/yoloforge/yoloforge\"\n", true),
		Entry("another module", "module example.com/mine\n", false),
		Entry("a prefix of ours", "module github.com/yoloforge/yoloforge/v2\n", false),
		Entry("not a module line", "modulegithub.com/yoloforge/yoloforge\n", false),
		Entry("empty go.mod", "", false),
	)

	It("walks past a nested module of another name", func() {
		root := newTree()
		nested := filepath.Join(root, "examples", "custom")
		write(filepath.Join(nested, "go.mod"), "module example.com/custom\n")
		got, ok := builtin.FindRoot(nested)
		Expect(ok).To(BeTrue())
		Expect(got).To(Equal(root))
	})
})

var _ = Describe("List", func() {
	It("lists plugins/<kind>s/<name> directories holding package main", func() {
		root := newTree()
		write(filepath.Join(root, "plugins", "necks", "pa-fpn", "main.go"), pluginMain("neck", "pa-fpn"))
		write(filepath.Join(root, "plugins", "necks", "pa-fpn", "internal", "x.go"), "package internal\n")
		write(filepath.Join(root, "plugins", "necks", "common", "lib.go"), "package common\n")
		write(filepath.Join(root, "plugins", "heads", "testonly", "main_test.go"), "package main\n")
		write(filepath.Join(root, "plugins", "heads", "ignored", "gen.go"), "//go:build ignore\n\npackage main\n")
		write(filepath.Join(root, "plugins", "heads", "bad.name", "main.go"), "package main\n")
		write(filepath.Join(root, "plugins", "misc", "tool", "main.go"), "package main\n")
		write(filepath.Join(root, "plugins", "README.md"), "hi\n")
		// Deploy backends live in plugins/deploy/<name>: "deploy" has no plural.
		write(filepath.Join(root, "plugins", "deploy", "trt", "main.go"), pluginMain("deploy", "trt"))

		ps, err := builtin.List(root)
		Expect(err).NotTo(HaveOccurred())
		Expect(ps).To(Equal([]builtin.Plugin{
			{Kind: "backbone", Name: "fake", Pkg: "./plugins/backbones/fake",
				Dir:    filepath.Join(root, "plugins", "backbones", "fake"),
				Binary: filepath.Join(root, "bin", "plugins", registry.BinaryName("backbone", "fake"))},
			{Kind: "deploy", Name: "trt", Pkg: "./plugins/deploy/trt",
				Dir:    filepath.Join(root, "plugins", "deploy", "trt"),
				Binary: filepath.Join(root, "bin", "plugins", registry.BinaryName("deploy", "trt"))},
			{Kind: "neck", Name: "pa-fpn", Pkg: "./plugins/necks/pa-fpn",
				Dir:    filepath.Join(root, "plugins", "necks", "pa-fpn"),
				Binary: filepath.Join(root, "bin", "plugins", registry.BinaryName("neck", "pa-fpn"))},
		}))
		Expect(ps[0].String()).To(Equal("backbone/fake"))
	})

	It("finds nothing without a plugins dir", func() {
		ps, err := builtin.List(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		Expect(ps).To(BeEmpty())
	})
})

var _ = Describe("EnsureBuilt", func() {
	var (
		root, bin string
		log       *recorder
		ctx       context.Context
	)
	BeforeEach(func() {
		if _, err := exec.LookPath("go"); err != nil {
			Skip("needs the go command")
		}
		root = newTree()
		bin = filepath.Join(root, "bin", "plugins", registry.BinaryName("backbone", "fake"))
		log = &recorder{}
		ctx = context.Background()
	})

	ensure := func() []builtin.Plugin {
		GinkgoHelper()
		built, err := builtin.EnsureBuiltWith(ctx, root, builtin.Options{Logf: log.logf, Env: testEnv()})
		Expect(err).NotTo(HaveOccurred())
		return built
	}
	builtNames := func(ps []builtin.Plugin) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.String())
		}
		return out
	}

	It("builds a missing plugin, registers it, and leaves it alone while fresh", func() {
		Expect(builtNames(ensure())).To(Equal([]string{"backbone/fake"}))
		Expect(log.Lines()).To(Equal([]string{"building plugin backbone/fake ..."}))

		m, err := registry.ReadManifest(bin)
		Expect(err).NotTo(HaveOccurred())
		sum, err := registry.SHA256File(bin)
		Expect(err).NotTo(HaveOccurred())
		Expect(m.SHA256).To(Equal(sum))
		Expect(*m).To(MatchFields(sum))
		Expect(registry.Verify(mustInspect(bin)).OK()).To(BeTrue())

		// Only the binary and its manifest: no temp dirs or files left.
		des, err := os.ReadDir(filepath.Dir(bin))
		Expect(err).NotTo(HaveOccurred())
		var names []string
		for _, d := range des {
			names = append(names, d.Name())
		}
		// The binary and its manifest, no build leftovers; the lock file stays.
		Expect(names).To(ConsistOf(".build.lock", filepath.Base(bin), filepath.Base(bin)+".manifest.json"))

		before := mtime(bin)
		Expect(ensure()).To(BeEmpty())
		Expect(mtime(bin)).To(Equal(before))
		Expect(log.Lines()).To(HaveLen(1))

		reason, err := builtin.Stale(root, mustList(root)[0])
		Expect(err).NotTo(HaveOccurred())
		Expect(reason).To(BeEmpty())
	})

	DescribeTable("rebuilds when an input changes",
		func(change func(root, bin string), wantReason string) {
			ensure()
			before := mtime(bin)
			change(root, bin)

			reason, err := builtin.Stale(root, mustList(root)[0])
			Expect(err).NotTo(HaveOccurred())
			Expect(reason).To(ContainSubstring(wantReason))

			Expect(builtNames(ensure())).To(Equal([]string{"backbone/fake"}))
			Expect(mtime(bin)).NotTo(Equal(before))
			Expect(registry.Verify(mustInspect(bin)).OK()).To(BeTrue())
			Expect(ensure()).To(BeEmpty()) // and settles
		},
		Entry("plugin source touched", func(root, _ string) {
			touch(filepath.Join(root, "plugins", "backbones", "fake", "main.go"))
		}, "plugins/backbones/fake/main.go is newer than the binary"),
		Entry("plugin sub-package added", func(root, _ string) {
			write(filepath.Join(root, "plugins", "backbones", "fake", "layers", "l.go"), "package layers\n")
		}, "plugins/backbones/fake/layers/l.go is newer"),
		Entry("SDK source added", func(root, _ string) {
			write(filepath.Join(root, "sdk", "ir", "graph.go"), "package ir\n")
		}, "sdk/ir/graph.go is newer"),
		Entry("go.mod touched", func(root, _ string) {
			touch(filepath.Join(root, "go.mod"))
		}, "go.mod is newer"),
		Entry("go.sum created", func(root, _ string) {
			write(filepath.Join(root, "go.sum"), "")
		}, "go.sum is newer"),
		Entry("manifest deleted", func(_, bin string) {
			Expect(os.Remove(bin + ".manifest.json")).To(Succeed())
		}, "no manifest"),
		Entry("manifest corrupted", func(_, bin string) {
			Expect(os.WriteFile(bin+".manifest.json", []byte("{"), 0o644)).To(Succeed())
		}, "bad manifest"),
		Entry("binary replaced", func(_, bin string) {
			old := mtime(bin)
			Expect(os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)).To(Succeed())
			Expect(os.Chtimes(bin, old, old)).To(Succeed()) // hash, not mtime, must catch it
		}, "checksum mismatch"),
		Entry("binary deleted", func(_, bin string) {
			Expect(os.Remove(bin)).To(Succeed())
		}, "binary missing"),
	)

	It("ignores test files and testdata when judging freshness", func() {
		ensure()
		write(filepath.Join(root, "plugins", "backbones", "fake", "main_test.go"), "package main\n")
		write(filepath.Join(root, "sdk", "testdata", "x.go"), "package x\n")
		Expect(ensure()).To(BeEmpty())
	})

	It("builds several plugins and reports every compile error with compiler output", func() {
		write(filepath.Join(root, "plugins", "necks", "good", "main.go"), pluginMain("neck", "good"))
		write(filepath.Join(root, "plugins", "heads", "broken", "main.go"), "package main\n\nfunc main() { undefinedThing() }\n")

		built, err := builtin.EnsureBuiltWith(ctx, root, builtin.Options{Logf: log.logf, Env: testEnv(), Jobs: 2})
		Expect(err).To(MatchError(And(
			ContainSubstring("build plugin head/broken: go build -o"),
			ContainSubstring("./plugins/heads/broken"),
			ContainSubstring("undefined: undefinedThing"),
		)))
		Expect(builtNames(built)).To(ConsistOf("backbone/fake", "neck/good"))
		Expect(log.Lines()).To(ConsistOf(
			"building plugin backbone/fake ...",
			"building plugin head/broken ...",
			"building plugin neck/good ...",
		))
		Expect(filepath.Join(root, "bin", "plugins", registry.BinaryName("head", "broken"))).NotTo(BeAnExistingFile())
		Expect(registry.Verify(mustInspect(filepath.Join(root, "bin", "plugins", registry.BinaryName("neck", "good")))).OK()).To(BeTrue())
	})

	It("refuses a plugin whose manifest names another plugin and does not install it", func() {
		write(filepath.Join(root, "plugins", "backbones", "fake", "main.go"), pluginMain("neck", "fake"))
		_, err := builtin.EnsureBuiltWith(ctx, root, builtin.Options{Env: testEnv()})
		Expect(err).To(MatchError(ContainSubstring("describes itself as neck/fake but its file name says backbone/fake")))
		Expect(bin).NotTo(BeAnExistingFile())
	})

	Context("without the go command", func() {
		noGo := func(string) (string, error) { return "", exec.ErrNotFound }

		It("says exactly what to run", func() {
			_, err := builtin.EnsureBuiltWith(ctx, root, builtin.Options{Env: testEnv(), LookPath: noGo})
			Expect(err).To(MatchError(And(
				ContainSubstring("go command was not found"),
				ContainSubstring("cd "+root+" && go build -o bin/plugins/yoloforge-plugin-backbone-fake ./plugins/backbones/fake"),
			)))
		})

		It("still registers a fresh binary that only lacks its manifest", func() {
			ensure()
			Expect(os.Remove(bin + ".manifest.json")).To(Succeed())
			built, err := builtin.EnsureBuiltWith(ctx, root, builtin.Options{Logf: log.logf, Env: testEnv(), LookPath: noGo})
			Expect(err).NotTo(HaveOccurred())
			Expect(builtNames(built)).To(Equal([]string{"backbone/fake"}))
			Expect(log.Lines()).To(ContainElement("registering plugin backbone/fake ..."))
			Expect(registry.Verify(mustInspect(bin)).OK()).To(BeTrue())
		})

		It("needs nothing when everything is fresh", func() {
			ensure()
			Expect(builtin.EnsureBuiltWith(ctx, root, builtin.Options{LookPath: noGo})).To(BeEmpty())
		})
	})

	It("stops on a cancelled context", func() {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := builtin.EnsureBuiltWith(cctx, root, builtin.Options{Env: testEnv()})
		Expect(err).To(MatchError(context.Canceled))
	})
})

var _ = Describe("Prepare", func() {
	It("does nothing outside the source tree", func() {
		dir := GinkgoT().TempDir()
		write(filepath.Join(dir, "go.mod"), "module example.com/user\n")
		write(filepath.Join(dir, "plugins", "backbones", "x", "main.go"), pluginMain("backbone", "x"))
		root, err := builtin.Prepare(context.Background(), dir, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(root).To(BeEmpty())
		Expect(filepath.Join(dir, "bin")).NotTo(BeADirectory())
	})

	It("builds from anywhere inside the tree and returns the root", func() {
		if _, err := exec.LookPath("go"); err != nil {
			Skip("needs the go command")
		}
		tree := newTree()
		// Prepare uses the process environment; make sure nothing reaches
		// for the network regardless of the developer's settings.
		for _, kv := range testEnv()[len(os.Environ()):] {
			k, v, _ := strings.Cut(kv, "=")
			GinkgoT().Setenv(k, v)
		}
		root, err := builtin.Prepare(context.Background(), filepath.Join(tree, "plugins", "backbones"), nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(root).To(Equal(tree))
		Expect(filepath.Join(tree, "bin", "plugins", registry.BinaryName("backbone", "fake"))).To(BeAnExistingFile())
	})
})

func mustInspect(p string) registry.Entry {
	GinkgoHelper()
	e, err := registry.Inspect(p)
	Expect(err).NotTo(HaveOccurred())
	return e
}

func mustList(root string) []builtin.Plugin {
	GinkgoHelper()
	ps, err := builtin.List(root)
	Expect(err).NotTo(HaveOccurred())
	return ps
}

// MatchFields checks the manifest's self-described fields.
func MatchFields(sum string) OmegaMatcher {
	return Equal(registry.Manifest{
		Name: "fake", Kind: "backbone", Version: "1.0.0", ProtocolVersion: 1,
		Description: "fake", SHA256: sum, Binary: registry.BinaryName("backbone", "fake"),
	})
}
