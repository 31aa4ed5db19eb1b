package pluginhost

import (
	"io"
	"os"
)

// Test-only access to internals, for the external test package.

func (m *Manager) WatchSignals(ch <-chan os.Signal, done <-chan struct{}) { m.watchSignals(ch, done) }

func NewTail(n int) interface {
	io.Writer
	Lines() []string
} {
	return newTail(n)
}
