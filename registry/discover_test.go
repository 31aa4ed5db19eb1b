package registry_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/registry"
)

var _ = Describe("Discover", func() {
	var root, wd string
	BeforeEach(func() {
		skipOnWindows()
		root = GinkgoT().TempDir()
		wd = filepath.Join(root, "project")
		Expect(os.MkdirAll(wd, 0o755)).To(Succeed())
	})

	d := func(parts ...string) string { return filepath.Join(append([]string{root}, parts...)...) }

	discover := func(dirs []string, vars map[string]string) *registry.Catalog {
		GinkgoHelper()
		cat, err := registry.Discover(registry.DiscoverOptions{Dirs: dirs, WorkDir: wd, LookupEnv: env(vars)})
		Expect(err).NotTo(HaveOccurred())
		return cat
	}

	sources := func(cat *registry.Catalog) []string {
		var out []string
		for _, s := range cat.Searched {
			out = append(out, string(s.Source)+"="+s.Path)
		}
		return out
	}

	Describe("search order", func() {
		It("searches explicit dirs, YOLOFORGE_PLUGIN_PATH, ./bin/plugins, then GOBIN", func() {
			cat := discover([]string{d("flag1"), "rel"}, map[string]string{
				"YOLOFORGE_PLUGIN_PATH": d("pp1") + string(os.PathListSeparator) + string(os.PathListSeparator) + d("pp2"),
				"GOBIN":                 d("gobin"),
				"GOPATH":                d("gopath"),
				"HOME":                  d("home"),
			})
			Expect(sources(cat)).To(Equal([]string{
				"explicit=" + d("flag1"),
				"explicit=" + filepath.Join(wd, "rel"),
				"YOLOFORGE_PLUGIN_PATH=" + d("pp1"),
				"YOLOFORGE_PLUGIN_PATH=" + d("pp2"),
				"./bin/plugins=" + filepath.Join(wd, "bin", "plugins"),
				"GOBIN=" + d("gobin"),
			}))
		})

		DescribeTable("falls back like go install",
			func(vars map[string]string, want string) {
				s := sources(discover(nil, vars))
				Expect(s[len(s)-1]).To(Equal(strings.ReplaceAll(want, "$WD", wd)))
			},
			Entry("GOPATH (first entry) when GOBIN is unset", map[string]string{"GOPATH": "/gp1" + string(os.PathListSeparator) + "/gp2", "HOME": "/h"}, "GOPATH=/gp1/bin"),
			Entry("GOPATH when GOBIN is empty", map[string]string{"GOBIN": "", "GOPATH": "/gp1", "HOME": "/h"}, "GOPATH=/gp1/bin"),
			Entry("HOME/go/bin when neither is set", map[string]string{"HOME": "/h"}, "HOME=/h/go/bin"),
			Entry("nothing more without HOME", map[string]string{}, "./bin/plugins=$WD/bin/plugins"),
		)

		It("does not search a directory twice", func() {
			cat := discover([]string{d("x"), d("x", "..", "x")}, map[string]string{
				"YOLOFORGE_PLUGIN_PATH": filepath.Join(wd, "bin", "plugins"),
				"GOBIN":                 d("x"),
			})
			Expect(sources(cat)).To(Equal([]string{"explicit=" + d("x"), "YOLOFORGE_PLUGIN_PATH=" + filepath.Join(wd, "bin", "plugins")}))
		})
	})

	It("finds plugins in every searched dir, in order, and marks shadowed ones", func() {
		a := registerPlugin(d("a"), "backbone", "cspdarknet")
		writePlugin(d("a"), "neck", "pafpn")
		b := writePlugin(d("b"), "backbone", "cspdarknet")
		writePlugin(d("b"), "backbone", "ghost-net")
		local := writePlugin(filepath.Join(wd, "bin", "plugins"), "head", "detect")
		gobinDup := writePlugin(d("gobin"), "neck", "pafpn")

		cat := discover([]string{d("a")}, map[string]string{"YOLOFORGE_PLUGIN_PATH": d("b"), "GOBIN": d("gobin")})

		type row struct{ Kind, Name, Dir, ShadowedBy string }
		var rows []row
		for _, e := range cat.Entries {
			rows = append(rows, row{e.Kind, e.Name, e.Dir, e.ShadowedBy})
		}
		Expect(rows).To(Equal([]row{
			{"backbone", "cspdarknet", d("a"), ""},
			{"neck", "pafpn", d("a"), ""},
			{"backbone", "cspdarknet", d("b"), a},
			{"backbone", "ghost-net", d("b"), ""},
			{"head", "detect", filepath.Join(wd, "bin", "plugins"), ""},
			{"neck", "pafpn", d("gobin"), filepath.Join(d("a"), "yoloforge-plugin-neck-pafpn")},
		}))
		Expect(cat.Entries[2].Path).To(Equal(b))
		Expect(cat.Entries[4].Path).To(Equal(local))
		Expect(cat.Entries[5].Path).To(Equal(gobinDup))
		Expect(cat.Entries[5].Shadowed()).To(BeTrue())
		Expect(cat.Active()).To(HaveLen(4))
		Expect(cat.Kinds()).To(Equal([]string{"backbone", "head", "neck"}))

		Expect(cat.Entries[0].Manifest).NotTo(BeNil())
		Expect(cat.Entries[0].Manifest.Version).To(Equal("1.0.0"))
		Expect(cat.Entries[0].ManifestErr).NotTo(HaveOccurred())
		Expect(cat.Entries[1].Manifest).To(BeNil()) // none written
		Expect(cat.Entries[1].ManifestErr).NotTo(HaveOccurred())
	})

	It("ignores non-plugins: manifests, non-executables, directories, temp files, other names", func() {
		dir := d("mixed")
		registerPlugin(dir, "backbone", "ok")
		Expect(os.WriteFile(filepath.Join(dir, "yoloforge-plugin-backbone-noexec"), []byte("x"), 0o644)).To(Succeed())
		Expect(os.MkdirAll(filepath.Join(dir, "yoloforge-plugin-backbone-adir"), 0o755)).To(Succeed())
		writeExe(dir, ".yoloforge-plugin-backbone-tmp", "true")
		writeExe(dir, "yoloforge-plugin-backbone-old.bak", "true")
		writeExe(dir, "some-tool", "true")

		cat := discover([]string{dir}, nil)
		Expect(cat.Entries).To(HaveLen(1))
		Expect(cat.Entries[0].Name).To(Equal("ok"))
	})

	It("follows symlinks to plugin executables", func() {
		target := writePlugin(d("real"), "head", "detect")
		Expect(os.MkdirAll(d("links"), 0o755)).To(Succeed())
		Expect(os.Symlink(target, filepath.Join(d("links"), "yoloforge-plugin-head-detect"))).To(Succeed())
		Expect(os.Symlink(d("nowhere"), filepath.Join(d("links"), "yoloforge-plugin-head-dangling"))).To(Succeed())

		cat := discover([]string{d("links")}, nil)
		Expect(cat.Entries).To(HaveLen(1))
		Expect(cat.Entries[0].Path).To(Equal(filepath.Join(d("links"), "yoloforge-plugin-head-detect")))
	})

	DescribeTable("reports unusable manifests on the entry",
		func(content, wantErr string) {
			p := writePlugin(d("m"), "neck", "pafpn")
			Expect(os.WriteFile(p+".manifest.json", []byte(content), 0o644)).To(Succeed())
			cat := discover([]string{d("m")}, nil)
			Expect(cat.Entries).To(HaveLen(1))
			Expect(cat.Entries[0].Manifest).To(BeNil())
			Expect(cat.Entries[0].ManifestErr).To(MatchError(ContainSubstring(wantErr)))
		},
		Entry("malformed JSON", `{not json`, "parse manifest"),
		Entry("invalid fields", `{"name":"pafpn","kind":"neck","protocol_version":0,"sha256":"`+zeros64+`","binary":"b"}`, "protocol_version"),
		Entry("describes another plugin", `{"name":"fpn","kind":"neck","protocol_version":1,"sha256":"`+zeros64+`","binary":"b"}`, "describes neck/fpn, but the binary is named for neck/pafpn"),
	)

	It("records unreadable dirs without failing the search", func() {
		if os.Geteuid() == 0 {
			Skip("root can read any directory")
		}
		Expect(os.MkdirAll(d("locked"), 0o000)).To(Succeed())
		DeferCleanup(os.Chmod, d("locked"), os.FileMode(0o755))
		writePlugin(d("open"), "head", "detect")

		cat := discover([]string{d("locked"), d("open")}, nil)
		Expect(cat.Searched[0].Err).To(MatchError(ContainSubstring("list plugin dir")))
		Expect(cat.Entries).To(HaveLen(1))
	})

	It("treats missing dirs as empty", func() {
		cat := discover([]string{d("missing")}, map[string]string{"GOBIN": d("also-missing")})
		Expect(cat.Entries).To(BeEmpty())
		for _, s := range cat.Searched {
			Expect(s.Err).NotTo(HaveOccurred())
		}
	})
})

var _ = Describe("Resolve", func() {
	var cat *registry.Catalog
	var a string
	BeforeEach(func() {
		skipOnWindows()
		root := GinkgoT().TempDir()
		a = writePlugin(filepath.Join(root, "a"), "backbone", "cspdarknet")
		writePlugin(filepath.Join(root, "a"), "backbone", "ghostnet")
		writePlugin(filepath.Join(root, "b"), "backbone", "cspdarknet")
		writePlugin(filepath.Join(root, "b"), "neck", "pafpn")
		writePlugin(filepath.Join(root, "b"), registry.KindDeploy, "onnx")
		var err error
		cat, err = registry.Discover(registry.DiscoverOptions{
			Dirs:      []string{filepath.Join(root, "a"), filepath.Join(root, "b")},
			WorkDir:   root,
			LookupEnv: env(nil),
		})
		Expect(err).NotTo(HaveOccurred())
	})

	It("returns the winning entry", func() {
		e, err := cat.Resolve("backbone", "cspdarknet")
		Expect(err).NotTo(HaveOccurred())
		Expect(e.Path).To(Equal(a))
	})

	It("lists what is available of that kind, once each, and where it looked", func() {
		_, err := cat.Resolve("backbone", "foo")
		Expect(err).To(MatchError(registry.ErrNotFound))
		Expect(err.Error()).To(Equal(`no backbone plugin named "foo"; available: cspdarknet, ghostnet (searched: ` +
			strings.Join(cat.SearchedPaths(), ", ") + `)`))

		var nf *registry.NotFoundError
		Expect(err).To(BeAssignableToTypeOf(nf))
	})

	It("finds deploy backends like any other kind", func() {
		e, err := cat.Resolve("deploy", "onnx")
		Expect(err).NotTo(HaveOccurred())
		Expect(filepath.Base(e.Path)).To(Equal(registry.BinaryName("deploy", "onnx")))
		_, err = cat.Resolve(registry.KindDeploy, "tensorrt")
		Expect(err).To(MatchError(ContainSubstring(`no deploy plugin named "tensorrt"; available: onnx`)))
	})

	It("says none when nothing of that kind exists", func() {
		_, err := registry.Resolve(cat.Entries, "head", "detect")
		Expect(err).To(MatchError(`no head plugin named "detect"; available: none`))
	})

	It("matches kind as well as name", func() {
		_, err := registry.Resolve(cat.Entries, "neck", "cspdarknet", "/x")
		Expect(err).To(MatchError(`no neck plugin named "cspdarknet"; available: pafpn (searched: /x)`))
	})
})
