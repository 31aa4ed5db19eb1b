package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

type fakeComponent struct {
	info Info
	err  error
}

func (f fakeComponent) Describe(context.Context) (Info, error) { return f.info, f.err }
func (f fakeComponent) Build(context.Context, BuildContext) (Part, error) {
	return Part{}, errors.New("not built")
}

var _ = Describe("Serve's preparation", func() {
	comp := fakeComponent{info: Info{Name: "tiny", Kind: KindHead, Version: "0.1.0", Description: "a head"}}
	noEnv := func(string) string { return "" }
	var stdout, stderr *bytes.Buffer
	BeforeEach(func() {
		stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	})

	It("prints the manifest and exits 0 for --yoloforge-manifest", func() {
		_, code, serve := prepare(comp, ServeOptions{}, []string{ManifestFlag}, noEnv, stdout, stderr)
		Expect(serve).To(BeFalse())
		Expect(code).To(Equal(0))
		var m map[string]any
		Expect(json.Unmarshal(stdout.Bytes(), &m)).To(Succeed())
		Expect(m).To(Equal(map[string]any{"name": "tiny", "kind": "head", "version": "0.1.0",
			"protocol_version": float64(ProtocolVersion), "description": "a head"}))
	})

	It("tells a person that the host launches it, and exits 1", func() {
		_, code, serve := prepare(comp, ServeOptions{}, nil, noEnv, stdout, stderr)
		Expect(serve).To(BeFalse())
		Expect(code).To(Equal(1))
		Expect(stderr.String()).To(ContainSubstring("YOLOForge head plugin"))
		Expect(stderr.String()).To(ContainSubstring("launched by `yoloforge`"))
		Expect(stdout.Len()).To(BeZero())
	})

	It("serves when the host's cookie is set", func() {
		env := func(k string) string {
			if k == MagicCookieKey {
				return MagicCookieValue
			}
			return ""
		}
		info, _, serve := prepare(comp, ServeOptions{}, nil, env, stdout, stderr)
		Expect(serve).To(BeTrue())
		Expect(info.Kind).To(Equal(KindHead))
	})

	It("refuses a component of unknown kind or one that cannot describe itself", func() {
		_, code, serve := prepare(fakeComponent{info: Info{Name: "x", Kind: "optimizer"}}, ServeOptions{}, []string{ManifestFlag}, noEnv, stdout, stderr)
		Expect(serve).To(BeFalse())
		Expect(code).To(Equal(1))
		Expect(stderr.String()).To(ContainSubstring(`unknown kind "optimizer"`))

		_, code, _ = prepare(fakeComponent{err: errors.New("boom")}, ServeOptions{}, nil, noEnv, stdout, stderr)
		Expect(code).To(Equal(1))
		Expect(stderr.String()).To(ContainSubstring("boom"))

		_, code, _ = prepare(nil, ServeOptions{}, nil, noEnv, stdout, stderr)
		Expect(code).To(Equal(1))
	})
})
