package weights

import (
	"fmt"
	"io"

	"github.com/yoloforge/yoloforge/sdk/safetensors"
)

// The safetensors codec itself lives in sdk/safetensors, shared with the
// plugins that read the weights the host hands them; these functions adapt
// it to Set.

// Save writes set and meta to path as a safetensors file (F32). It writes a
// temporary file in the same directory, syncs it and renames it over path,
// so readers see either the old file or the complete new one, and a failed
// save leaves an existing file untouched.
func Save(path string, set *Set, meta map[string]string) error {
	return save(path, set, meta, nil)
}

// save is Save with a hook wrapping the file writer, so tests can make the
// write fail part-way.
func save(path string, set *Set, meta map[string]string, wrap func(io.Writer) io.Writer) error {
	return safetensors.WriteFileWrapped(path, toST(set), meta, wrap)
}

// WriteSafetensors encodes set (all tensors as F32, in set order) and meta
// in the safetensors format.
func WriteSafetensors(w io.Writer, set *Set, meta map[string]string) error {
	return safetensors.Encode(w, toST(set), meta)
}

// toST lists the set's tensors for the codec, sharing their data.
func toST(set *Set) []safetensors.Tensor {
	names := set.Names()
	out := make([]safetensors.Tensor, len(names))
	for i, name := range names {
		t, _ := set.Get(name)
		out[i] = safetensors.Tensor{Name: name, Shape: t.Shape, Data: t.Data}
	}
	return out
}

// Load reads a safetensors file: the tensors in data order and the
// "__metadata__" strings (nil if absent). F32, F16 and BF16 tensors are
// converted to float32; integer num_batches_tracked counters, which PyTorch
// state dicts carry, are skipped; any other dtype is an error.
func Load(path string) (*Set, map[string]string, error) {
	ts, meta, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	set, err := fromST(ts)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	set.Source = path
	return set, meta, nil
}

// ReadSafetensors decodes a whole safetensors file held in memory, with the
// same rules as Load.
func ReadSafetensors(data []byte) (*Set, map[string]string, error) {
	ts, meta, err := safetensors.Decode(data)
	if err != nil {
		return nil, nil, err
	}
	set, err := fromST(ts)
	if err != nil {
		return nil, nil, err
	}
	return set, meta, nil
}

func fromST(ts []safetensors.Tensor) (*Set, error) {
	set := &Set{}
	for _, t := range ts {
		if err := set.Put(t.Name, Tensor{Shape: t.Shape, Data: t.Data}); err != nil {
			return nil, err
		}
	}
	return set, nil
}
