package plugin

import (
	goplugin "github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the version of the plugin protocol this SDK speaks.
// It changes only when the Component service changes incompatibly; adding
// a plugin kind does not change it (see VersionedPlugins).
const ProtocolVersion = 1

// MaxMessageSize bounds one gRPC message in either direction. Graphs carry
// shapes, never weights, so even large models stay far below it; the margin
// is there so that a model with tens of thousands of nodes still fits.
const MaxMessageSize = 64 << 20

// MagicCookieKey and MagicCookieValue are go-plugin's handshake cookie: not
// a security measure, only a way for a plugin binary to tell that it was
// started by the host rather than by a person.
const (
	MagicCookieKey   = "YOLOFORGE_PLUGIN_COOKIE"
	MagicCookieValue = "7c1f5e0a93d24b6b8e6f2d94a1c03b57e8d9f41a26c5b3e0"
)

// ManifestFlag is the single argument that makes a plugin binary print its
// manifest (see Manifest) and exit instead of serving.
const ManifestFlag = "--yoloforge-manifest"

// Handshake returns the go-plugin handshake shared by host and plugins.
func Handshake() goplugin.HandshakeConfig {
	return goplugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// ComponentKinds are the kinds served through the Component service.
func ComponentKinds() []Kind { return []Kind{KindBackbone, KindNeck, KindHead} }

// ValidKind reports whether k is served through the Component service.
func ValidKind(k Kind) bool {
	for _, c := range ComponentKinds() {
		if c == k {
			return true
		}
	}
	return false
}

// VersionedPlugins is the host's go-plugin plugin set per protocol version:
// one entry per kind, dispensed by kind name. The host asks a plugin for
// its own kind only, so a kind added later (a pruner, a quantizer, a deploy
// backend, each with its own gRPC service) is one more entry here and
// changes nothing for plugins already built. An incompatible change to the
// Component service gets a new version key, while the old key stays as long
// as old plugins are to be served.
//
// It returns a fresh map on every call so that no caller can change
// another's set.
func VersionedPlugins() map[int]goplugin.PluginSet {
	set := goplugin.PluginSet{}
	for _, k := range ComponentKinds() {
		set[string(k)] = &GRPCPlugin{}
	}
	return map[int]goplugin.PluginSet{ProtocolVersion: set}
}
