package weights

import "io"

// SaveWrapped is Save with the file writer wrapped, so tests can make a
// save fail part-way through writing.
func SaveWrapped(path string, set *Set, meta map[string]string, wrap func(io.Writer) io.Writer) error {
	return save(path, set, meta, wrap)
}
