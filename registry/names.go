// Package registry finds, describes and verifies YOLOForge plugin
// executables on disk.
//
// A plugin is an executable named yoloforge-plugin-<kind>-<name>. Beside it
// may sit <binary>.manifest.json, a Manifest recording what the plugin said
// about itself (its --yoloforge-manifest output) plus the SHA-256 of the
// binary, so that the host can tell a plugin from its file name alone and
// notice when a binary was replaced without being re-registered.
//
// The package is a leaf: it imports only the standard library, so the host,
// the command line and build tooling can all use it without import cycles.
// It never reads the process environment or working directory behind the
// caller's back when told otherwise (see DiscoverOptions), which keeps
// discovery hermetic in tests.
package registry

import (
	"fmt"
	"runtime"
	"strings"
)

const (
	// BinaryPrefix starts the file name of every plugin executable.
	BinaryPrefix = "yoloforge-plugin-"
	// ManifestSuffix is appended to a binary's file name to name its manifest.
	ManifestSuffix = ".manifest.json"
	// ManifestFlag is the single argument that makes a plugin print its
	// self-description as JSON on stdout and exit 0.
	ManifestFlag = "--yoloforge-manifest"
	// KindDeploy is the kind of deploy backend plugins
	// (yoloforge-plugin-deploy-<name>), which serve sdk/deploy's service
	// instead of the Component one; discovery treats them like any kind.
	KindDeploy = "deploy"
)

// exeSuffix is what executables end with on this OS; plugin names never
// include it.
func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

// BinaryName returns the executable file name for a plugin, including the
// OS's executable suffix (".exe" on Windows).
func BinaryName(kind, name string) string {
	return BinaryPrefix + kind + "-" + name + exeSuffix()
}

// ManifestPath returns where the manifest of the binary at binaryPath lives.
func ManifestPath(binaryPath string) string {
	return binaryPath + ManifestSuffix
}

// ParseBinaryName splits a plugin file name (no directory) into kind and
// name. The kind is the segment after the prefix up to the next '-'; the
// name is the rest and may itself contain '-'. ok is false for anything that
// is not a well-formed plugin name, including manifests and temp files that
// share the prefix.
func ParseBinaryName(file string) (kind, name string, ok bool) {
	rest, found := strings.CutPrefix(file, BinaryPrefix)
	if !found {
		return "", "", false
	}
	if sfx := exeSuffix(); sfx != "" {
		if rest, found = strings.CutSuffix(rest, sfx); !found {
			return "", "", false
		}
	}
	kind, name, found = strings.Cut(rest, "-")
	if !found || CheckName(kind, name) != nil {
		return "", "", false
	}
	return kind, name, true
}

// CheckName reports whether kind and name can form a plugin file name.
// Kinds are lower-case letters and digits (they end at the first '-');
// names are letters, digits, '_' and '-', not starting or ending with '-'.
// Dots are rejected so that "<binary>.manifest.json" or "<binary>.bak" are
// never mistaken for plugins.
func CheckName(kind, name string) error {
	if kind == "" {
		return fmt.Errorf("empty plugin kind")
	}
	for _, r := range kind {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return fmt.Errorf("plugin kind %q: only lower-case letters and digits are allowed", kind)
		}
	}
	if name == "" {
		return fmt.Errorf("empty plugin name (kind %q)", kind)
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return fmt.Errorf("plugin name %q must not start or end with '-'", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("plugin name %q: only letters, digits, '_' and '-' are allowed", name)
		}
	}
	return nil
}
