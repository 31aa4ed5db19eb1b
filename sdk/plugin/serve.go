package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Manifest is what a plugin binary prints, as JSON, when run with the
// single argument ManifestFlag; the registry stores it next to the binary.
type Manifest struct {
	Name            string `json:"name"`
	Kind            Kind   `json:"kind"`
	Version         string `json:"version"`
	ProtocolVersion int    `json:"protocol_version"`
	Description     string `json:"description"`
}

// ServeOptions tune ServeWithOptions. The zero value is right for plugins.
type ServeOptions struct {
	// ProtocolVersion replaces ProtocolVersion as the only version the
	// plugin offers. YOLOForge's tests set it to see how the host treats a
	// plugin built against another SDK.
	ProtocolVersion int
	// Logger receives go-plugin's own messages. The default writes JSON
	// to stderr, which the host parses and routes to its log, at the level
	// named by YOLOFORGE_PLUGIN_LOG_LEVEL (info when unset).
	Logger hclog.Logger
}

// Serve runs a plugin binary's main:
//
//	func main() { plugin.Serve(myBackbone{}) }
//
// It asks impl.Describe for the component's kind and serves impl as that
// kind until the host stops it. Run with the single argument
// --yoloforge-manifest it prints the Manifest and exits 0 instead; run by
// hand it explains that the host launches it and exits 1.
func Serve(impl Component) { ServeWithOptions(impl, ServeOptions{}) }

// ServeWithOptions is Serve with options.
func ServeWithOptions(impl Component, opts ServeOptions) {
	info, code, serve := prepare(impl, opts, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if !serve {
		os.Exit(code)
	}
	ServeGRPC(info.Name, info.Kind, &GRPCPlugin{Impl: impl}, opts)
}

// Version is the protocol version the plugin offers: ProtocolVersion
// unless the options replace it.
func (o ServeOptions) Version() int {
	if o.ProtocolVersion != 0 {
		return o.ProtocolVersion
	}
	return ProtocolVersion
}

// prepare does everything short of serving; serve is false when the
// process should exit with code instead.
func prepare(impl Component, opts ServeOptions, args []string, getenv func(string) string, stdout, stderr io.Writer) (info Info, code int, serve bool) {
	if impl == nil {
		fmt.Fprintln(stderr, "yoloforge plugin: Serve was given no component")
		return Info{}, 1, false
	}
	info, err := impl.Describe(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "yoloforge plugin: describe component: %v\n", err)
		return Info{}, 1, false
	}
	if !ValidKind(info.Kind) {
		fmt.Fprintf(stderr, "yoloforge plugin %q: unknown kind %q (want one of %v)\n", info.Name, info.Kind, ComponentKinds())
		return Info{}, 1, false
	}
	m := Manifest{Name: info.Name, Kind: info.Kind, Version: info.Version, ProtocolVersion: opts.Version(), Description: info.Description}
	code, serve = Preflight(m, args, getenv, stdout, stderr)
	return info, code, serve
}

// Preflight is what every kind's Serve does before serving: with the
// single argument ManifestFlag it prints m and says to exit 0; started
// without the host's handshake cookie (by a person) it explains what the
// binary is and says to exit 1. serve is true when the process should
// serve.
func Preflight(m Manifest, args []string, getenv func(string) string, stdout, stderr io.Writer) (code int, serve bool) {
	if len(args) == 1 && args[0] == ManifestFlag {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(m); err != nil {
			fmt.Fprintf(stderr, "yoloforge plugin %q: write manifest: %v\n", m.Name, err)
			return 1, false
		}
		return 0, false
	}
	if getenv(MagicCookieKey) != MagicCookieValue {
		use := "name it in a model config"
		if m.Kind == KindDeploy {
			use = "use it with `yoloforge export --backend " + m.Name + "`"
		}
		fmt.Fprintf(stderr, "This is %q, a YOLOForge %s plugin (version %s).\n"+
			"It is meant to be launched by `yoloforge`, not run by hand: install it with\n"+
			"the yoloforge CLI and %s. Run it with %s\n"+
			"to print its manifest.\n", m.Name, m.Kind, m.Version, use, ManifestFlag)
		return 1, false
	}
	return 0, true
}

// ServeGRPC serves p as the plugin set's entry for kind until the host
// stops the process; Serve uses it for components, other kinds' Serve
// functions (sdk/deploy) for theirs, so every kind gets the same
// handshake, logging, message limits and orphan watch.
func ServeGRPC(name string, kind Kind, p goplugin.Plugin, opts ServeOptions) {
	logger := opts.Logger
	if logger == nil {
		level := hclog.LevelFromString(os.Getenv("YOLOFORGE_PLUGIN_LOG_LEVEL"))
		if level == hclog.NoLevel {
			level = hclog.Info
		}
		logger = hclog.New(&hclog.LoggerOptions{Name: name, Level: level, Output: os.Stderr, JSONFormat: true})
	}
	// go-plugin points os.Stderr at a pipe it streams to the host over
	// gRPC. A plugin that writes to stderr and then exits or crashes would
	// lose those last lines, which are the ones the host shows in its error
	// report, so the first call puts the real stderr back: a pipe the host
	// reads synchronously. go-plugin has already swapped it by the time any
	// call arrives.
	realStderr := os.Stderr
	var restore sync.Once
	interceptor := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		restore.Do(func() { os.Stderr = realStderr })
		return handler(ctx, req)
	}
	// go-plugin's own streams (stdio, broker) open with the connection;
	// only a call of a YOLOForge service counts as the first call.
	streamInterceptor := func(srv any, ss grpc.ServerStream, si *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if strings.HasPrefix(si.FullMethod, "/yoloforge.") {
			restore.Do(func() { os.Stderr = realStderr })
		}
		return handler(srv, ss)
	}
	exitWhenOrphaned(logger)
	v := opts.Version()
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  uint(v),
			MagicCookieKey:   MagicCookieKey,
			MagicCookieValue: MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{
			v: {string(kind): p},
		},
		GRPCServer: func(o []grpc.ServerOption) *grpc.Server {
			o = append(o,
				grpc.MaxRecvMsgSize(MaxMessageSize),
				grpc.MaxSendMsgSize(MaxMessageSize),
				grpc.ChainUnaryInterceptor(interceptor),
				grpc.ChainStreamInterceptor(streamInterceptor))
			return grpc.NewServer(o...)
		},
		Logger: logger,
	})
}

// exitWhenOrphaned ends the plugin once its host is gone. A host that dies
// without stopping its plugins (SIGKILL, a crash) closes nothing the
// plugin waits on, so without this the plugin would serve forever. The
// host is gone when the process has been handed to another parent.
func exitWhenOrphaned(logger hclog.Logger) {
	parent := os.Getppid()
	if parent <= 1 {
		return // started by init itself: there is no host to watch
	}
	go func() {
		for range time.Tick(time.Second) {
			if os.Getppid() != parent {
				logger.Warn("the host process is gone; exiting")
				os.Exit(1)
			}
		}
	}()
}
