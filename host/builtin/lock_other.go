//go:build !unix

package builtin

// lockBinDir is a no-op where advisory file locks are not available; only
// concurrent builds of the same checkout can then race.
func lockBinDir(string) (func(), error) { return func() {}, nil }
