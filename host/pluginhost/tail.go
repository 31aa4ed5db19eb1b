package pluginhost

import (
	"bytes"
	"strings"
	"sync"
)

// maxLineLen caps one remembered stderr line; a plugin that dumps a whole
// tensor on one line should not turn an error message into megabytes.
const maxLineLen = 2000

// tail is an io.Writer that remembers the last lines written to it: the
// plugin's stderr, shown when the plugin dies. Writes may split or join
// lines arbitrarily.
type tail struct {
	mu      sync.Mutex
	max     int
	lines   []string
	partial []byte
	total   int // lines seen so far
	// crash is the first line of the last Go crash report ("panic: ...",
	// "fatal error: ..."), kept even when the stack trace below it scrolls
	// it out, because it is the line that says what went wrong.
	crash   string
	crashAt int
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if room := maxLineLen - len(t.partial); room > 0 {
				t.partial = append(t.partial, b[:min(room, len(b))]...)
			}
			break
		}
		if room := maxLineLen - len(t.partial); room > 0 {
			t.partial = append(t.partial, b[:min(room, i)]...)
		}
		t.add(string(t.partial))
		t.partial = t.partial[:0]
		b = b[i+1:]
	}
	return n, nil
}

func (t *tail) add(line string) {
	line = strings.TrimRight(line, "\r")
	if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
		t.crash, t.crashAt = line, t.total
	}
	t.total++
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = append(t.lines[:0], t.lines[len(t.lines)-t.max:]...)
	}
}

// Lines returns the remembered lines, oldest first, with an unterminated
// last line and, when it scrolled out, the crash line in front.
func (t *tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if len(t.partial) > 0 && len(lines) >= t.max {
		lines = lines[1:] // the unterminated line counts towards max
	}
	var out []string
	if t.crash != "" && t.crashAt < t.total-len(lines) { // scrolled out
		out = append(out, t.crash, "...")
	}
	out = append(out, lines...)
	if len(t.partial) > 0 {
		out = append(out, strings.TrimRight(string(t.partial), "\r"))
	}
	return out
}
