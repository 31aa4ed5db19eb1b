package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/yoloforge/yoloforge/sdk/safetensors"
)

// ReadWeights reads the safetensors file the host wrote for a
// ConvertRequest (WeightsFile): every tensor by its state_dict name.
func ReadWeights(path string) (Weights, error) {
	ts, _, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	w := make(Weights, len(ts))
	for _, t := range ts {
		w[t.Name] = Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data}
	}
	return w, nil
}

// WriteWeights writes w to path as safetensors (atomically, names sorted),
// the form ReadWeights and the host's ConvertRequest use.
func WriteWeights(path string, w Weights) error {
	names := make([]string, 0, len(w))
	for n := range w {
		names = append(names, n)
	}
	slices.Sort(names)
	ts := make([]safetensors.Tensor, len(names))
	for i, n := range names {
		t := w[n]
		ts[i] = safetensors.Tensor{Name: n, Shape: t.Shape, Data: t.Data}
	}
	return safetensors.WriteFile(path, ts, nil)
}

// Numel is the number of elements t's shape describes.
func (t Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// WriteFile writes data to path atomically, for a backend's converted
// files: into a temporary file beside path, synced, given mode, then
// renamed into place, so a reader never sees half a file.
func WriteFile(path string, data []byte, mode os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	// CreateTemp makes the file private.
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
