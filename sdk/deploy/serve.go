package deploy

import (
	"context"
	"fmt"
	"os"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/yoloforge/yoloforge/sdk/plugin"
)

// Kind is the plugin kind of deploy backends: their executables are
// named yoloforge-plugin-deploy-<name>.
const Kind = plugin.KindDeploy

// Serve runs a deploy backend plugin's main:
//
//	func main() { deploy.Serve(myBackend{}) }
//
// It speaks the same handshake and protocol version as plugin.Serve; the
// backend is the "deploy" entry of the plugin set. Implement Runner as
// well to let the host load and run what Convert wrote. Run with the
// single argument --yoloforge-manifest it prints the manifest and exits.
func Serve(impl Backend) { ServeWithOptions(impl, plugin.ServeOptions{}) }

// ServeWithOptions is Serve with plugin.ServeOptions.
func ServeWithOptions(impl Backend, opts plugin.ServeOptions) {
	if impl == nil {
		fmt.Fprintln(os.Stderr, "yoloforge deploy plugin: Serve was given no backend")
		os.Exit(1)
	}
	info, err := impl.Describe(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "yoloforge deploy plugin: describe backend: %v\n", err)
		os.Exit(1)
	}
	m := plugin.Manifest{Name: info.Name, Kind: Kind, Version: info.Version, ProtocolVersion: opts.Version(), Description: info.Description}
	if code, serve := plugin.Preflight(m, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); !serve {
		os.Exit(code)
	}
	plugin.ServeGRPC(info.Name, Kind, &GRPCPlugin{Impl: impl}, opts)
}

// VersionedPlugins is the host's whole plugin set: the component kinds of
// plugin.VersionedPlugins plus the "deploy" entry. A fresh map per call.
func VersionedPlugins() map[int]goplugin.PluginSet {
	sets := plugin.VersionedPlugins()
	sets[plugin.ProtocolVersion][string(Kind)] = &GRPCPlugin{}
	return sets
}
