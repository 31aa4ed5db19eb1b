package registry

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrNotFound matches (errors.Is) every error Resolve returns for a plugin
// that is not installed.
var ErrNotFound = errors.New("plugin not found")

// NotFoundError reports a plugin that Resolve could not find, with what was
// available instead, in the spirit of MMEngine's registry errors.
type NotFoundError struct {
	Kind      string
	Name      string
	Available []string // names of plugins of Kind, sorted
	Searched  []string // directories searched, in order
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no %s plugin named %q; available: ", e.Kind, e.Name)
	if len(e.Available) == 0 {
		b.WriteString("none")
	} else {
		b.WriteString(strings.Join(e.Available, ", "))
	}
	if len(e.Searched) > 0 {
		fmt.Fprintf(&b, " (searched: %s)", strings.Join(e.Searched, ", "))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Resolve returns the first non-shadowed entry with the given kind and
// name. Otherwise it returns a *NotFoundError listing the available plugins
// of that kind and the searched directories (pass them as searched; see
// Catalog.Resolve, which does).
func Resolve(entries []Entry, kind, name string, searched ...string) (Entry, error) {
	set := map[string]bool{}
	for _, e := range entries {
		if e.Kind != kind || e.Shadowed() {
			continue
		}
		if e.Name == name {
			return e, nil
		}
		set[e.Name] = true
	}
	avail := make([]string, 0, len(set))
	for n := range set {
		avail = append(avail, n)
	}
	sort.Strings(avail)
	return Entry{}, &NotFoundError{Kind: kind, Name: name, Available: avail, Searched: searched}
}
