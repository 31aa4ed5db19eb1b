package registry_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/registry"
)

var _ = Describe("manifests", func() {
	var dir string
	BeforeEach(func() {
		skipOnWindows()
		dir = GinkgoT().TempDir()
	})

	Describe("ParseDescription", func() {
		It("parses a plugin's self-description, ignoring unknown fields and registry-owned ones", func() {
			m, err := registry.ParseDescription([]byte(`
				{"name":"cspdarknet","kind":"backbone","version":"1.0.0","protocol_version":1,
				 "description":"CSP","future_field":true,"sha256":"forged","binary":"forged"}
			`))
			Expect(err).NotTo(HaveOccurred())
			Expect(m).To(Equal(registry.Manifest{Name: "cspdarknet", Kind: "backbone", Version: "1.0.0", ProtocolVersion: 1, Description: "CSP"}))
		})

		DescribeTable("rejects bad descriptions",
			func(in, wantErr string) {
				_, err := registry.ParseDescription([]byte(in))
				Expect(err).To(MatchError(ContainSubstring(wantErr)))
			},
			Entry("empty output", ``, "parse plugin description"),
			Entry("not JSON", `starting server...`, `"starting server..."`),
			Entry("trailing garbage", `{"name":"a","kind":"neck","protocol_version":1} extra`, "parse plugin description"),
			Entry("missing kind", `{"name":"a","protocol_version":1}`, "empty plugin kind"),
			Entry("missing name", `{"kind":"neck","protocol_version":1}`, "empty plugin name"),
			Entry("bad name", `{"name":"a.b","kind":"neck","protocol_version":1}`, `plugin name "a.b"`),
			Entry("missing protocol version", `{"name":"a","kind":"neck"}`, "protocol_version must be >= 1"),
		)
	})

	Describe("Register", func() {
		It("writes a manifest with the binary's hash and file name", func() {
			p := writePlugin(dir, "backbone", "cspdarknet")
			m, err := registry.Register(p, describeJSON("backbone", "cspdarknet"))
			Expect(err).NotTo(HaveOccurred())

			data, err := os.ReadFile(p)
			Expect(err).NotTo(HaveOccurred())
			sum := sha256.Sum256(data)
			Expect(m.SHA256).To(Equal(hex.EncodeToString(sum[:])))
			Expect(m.Binary).To(Equal("yoloforge-plugin-backbone-cspdarknet"))

			var onDisk registry.Manifest
			raw, err := os.ReadFile(p + ".manifest.json")
			Expect(err).NotTo(HaveOccurred())
			Expect(json.Unmarshal(raw, &onDisk)).To(Succeed())
			Expect(onDisk).To(Equal(m))
			Expect(raw).To(ContainSubstring(`"protocol_version": 1`))

			read, err := registry.ReadManifest(p)
			Expect(err).NotTo(HaveOccurred())
			Expect(*read).To(Equal(m))
		})

		It("leaves no temp files behind and replaces an old manifest", func() {
			p := registerPlugin(dir, "neck", "pafpn")
			Expect(os.WriteFile(p, []byte("#!/bin/sh\necho changed\n"), 0o755)).To(Succeed())
			m, err := registry.Register(p, describeJSON("neck", "pafpn"))
			Expect(err).NotTo(HaveOccurred())
			Expect(registry.Verify(mustInspect(p)).OK()).To(BeTrue())
			Expect(m.SHA256).NotTo(BeEmpty())

			names := dirNames(dir)
			Expect(names).To(ConsistOf("yoloforge-plugin-neck-pafpn", "yoloforge-plugin-neck-pafpn.manifest.json"))
		})

		It("refuses a binary whose description names another plugin", func() {
			p := writePlugin(dir, "backbone", "foo")
			_, err := registry.Register(p, describeJSON("neck", "bar"))
			Expect(err).To(MatchError(And(
				ContainSubstring("describes itself as neck/bar"),
				ContainSubstring("file name says backbone/foo"),
				ContainSubstring("rename it to yoloforge-plugin-neck-bar"),
			)))
			Expect(p + ".manifest.json").NotTo(BeAnExistingFile())
		})

		It("refuses a file that is not named like a plugin", func() {
			p := writeExe(dir, "cspdarknet", "true")
			_, err := registry.Register(p, describeJSON("backbone", "cspdarknet"))
			Expect(err).To(MatchError(ContainSubstring("file name is not of the form yoloforge-plugin-<kind>-<name>")))
		})

		It("reports a missing binary", func() {
			_, err := registry.Register(filepath.Join(dir, "yoloforge-plugin-head-x"), describeJSON("head", "x"))
			Expect(err).To(MatchError(fs.ErrNotExist))
		})
	})

	Describe("ReadManifest", func() {
		It("reports a missing manifest as fs.ErrNotExist", func() {
			_, err := registry.ReadManifest(filepath.Join(dir, "yoloforge-plugin-head-x"))
			Expect(err).To(MatchError(fs.ErrNotExist))
		})

		DescribeTable("rejects bad manifests with the file's path",
			func(content, wantErr string) {
				p := filepath.Join(dir, "yoloforge-plugin-head-x")
				Expect(os.WriteFile(p+".manifest.json", []byte(content), 0o644)).To(Succeed())
				_, err := registry.ReadManifest(p)
				Expect(err).To(MatchError(And(ContainSubstring(p+".manifest.json"), ContainSubstring(wantErr))))
			},
			Entry("truncated JSON", `{"name":"x",`, "parse manifest"),
			Entry("bad hash", `{"name":"x","kind":"head","protocol_version":1,"sha256":"abc","binary":"b"}`, "not 64 lower-case hex digits"),
			Entry("no binary", `{"name":"x","kind":"head","protocol_version":1,"sha256":"`+zeros64+`"}`, "binary is empty"),
		)
	})

	Describe("Describe", func() {
		It("returns the plugin's stdout", func() {
			p := writeExe(dir, "yoloforge-plugin-head-x", `[ "$1" = "--yoloforge-manifest" ] || exit 3; echo '{"name":"x"}'`)
			out, err := registry.Describe(context.Background(), p, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(out)).To(Equal("{\"name\":\"x\"}\n"))
		})

		It("includes stderr when the plugin fails", func() {
			p := writeExe(dir, "yoloforge-plugin-head-x", `echo "unknown flag $1" >&2; exit 2`)
			_, err := registry.Describe(context.Background(), p, nil)
			Expect(err).To(MatchError(And(ContainSubstring("exit status 2"), ContainSubstring("unknown flag --yoloforge-manifest"))))
		})
	})
})

const zeros64 = "0000000000000000000000000000000000000000000000000000000000000000"

func mustInspect(p string) registry.Entry {
	GinkgoHelper()
	e, err := registry.Inspect(p)
	Expect(err).NotTo(HaveOccurred())
	return e
}

func dirNames(dir string) []string {
	GinkgoHelper()
	des, err := os.ReadDir(dir)
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}
