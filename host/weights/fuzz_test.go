package weights_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/yoloforge/yoloforge/host/weights"
)

// FuzzReadSafetensors checks that no input makes ReadSafetensors panic, and
// that whatever it accepts survives a write and a second read unchanged.
// `go test -fuzz FuzzReadSafetensors ./host/weights` explores.
func FuzzReadSafetensors(f *testing.F) {
	s := weights.NewSet("")
	_ = s.Put("a", weights.Tensor{Shape: []int{2, 1}, Data: []float32{1, -2}})
	_ = s.Put("s", weights.Tensor{Shape: []int{}, Data: []float32{3}})
	var b bytes.Buffer
	_ = weights.WriteSafetensors(&b, s, map[string]string{"epoch": "3"})
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:20])
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}\x00<\x00\xc0"))
	f.Add([]byte("\x40\x00\x00\x00\x00\x00\x00\x00{\"b\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,2]},\"__metadata__\":{}}    \x80?"))
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, meta, err := weights.ReadSafetensors(data)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := weights.WriteSafetensors(&out, set, meta); err != nil {
			if _, reserved := set.Get("__metadata__"); reserved {
				return
			}
			t.Fatalf("accepted set does not write back: %v", err)
		}
		again, meta2, err := weights.ReadSafetensors(out.Bytes())
		if err != nil {
			t.Fatalf("written file does not read back: %v", err)
		}
		if len(meta2) != len(meta) || again.Len() != set.Len() {
			t.Fatalf("round trip changed the file: %d/%d tensors, %d/%d metadata", again.Len(), set.Len(), len(meta2), len(meta))
		}
		for _, n := range set.Names() {
			x, _ := set.Get(n)
			y, ok := again.Get(n)
			if !ok || len(x.Data) != len(y.Data) {
				t.Fatalf("tensor %q lost", n)
			}
			for i := range x.Data {
				if math.Float32bits(x.Data[i]) != math.Float32bits(y.Data[i]) {
					t.Fatalf("tensor %q changed", n)
				}
			}
		}
	})
}
