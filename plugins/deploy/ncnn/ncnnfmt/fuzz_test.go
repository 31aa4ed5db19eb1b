package ncnnfmt_test

import (
	"bytes"
	"testing"

	"github.com/yoloforge/yoloforge/plugins/deploy/ncnn/ncnnfmt"
)

// FuzzReadParam: the reader never panics, whatever the input; what it
// accepts formats back to text it reads to the same model; validating it
// (with an empty .bin) never panics either. Seeds are in testdata/fuzz.
func FuzzReadParam(f *testing.F) {
	f.Add([]byte("7767517\n2 2\nInput in 0 1 in 0=4 1=4 2=3\nReLU r 1 1 in out 0=1.0e-01\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := ncnnfmt.ReadParam(data)
		if err != nil {
			return
		}
		text := pf.Bytes()
		again, err := ncnnfmt.ReadParam(text)
		if err != nil {
			t.Fatalf("formatted model does not read back: %v\n%s", err, text)
		}
		if !bytes.Equal(again.Bytes(), text) {
			t.Fatalf("formatting is not stable:\n%s\n---\n%s", text, again.Bytes())
		}
		_, _ = ncnnfmt.Validate(pf, nil)
	})
}
