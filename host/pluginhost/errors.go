package pluginhost

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/yoloforge/yoloforge/sdk/plugin"
)

// Reason classifies a PluginError, so that a caller can react to the kind
// of failure without parsing messages.
type Reason string

const (
	// ReasonStart: the plugin could not be started or did not complete the
	// go-plugin handshake.
	ReasonStart Reason = "start"
	// ReasonChecksum: the executable's SHA-256 differs from the manifest's;
	// it was not run.
	ReasonChecksum Reason = "checksum"
	// ReasonProtocolVersion: the plugin speaks another protocol version.
	ReasonProtocolVersion Reason = "protocol-version"
	// ReasonKind: the plugin serves a different kind than it was launched as.
	ReasonKind Reason = "kind"
	// ReasonComponent: the component itself returned an error; Err is a
	// *plugin.RemoteError with the plugin's message.
	ReasonComponent Reason = "component"
	// ReasonExited: the plugin process died; ExitStatus and Stderr say how.
	ReasonExited Reason = "exited"
	// ReasonTimeout: the call took longer than Timeout; the plugin was killed.
	ReasonTimeout Reason = "timeout"
	// ReasonCanceled: the caller's context ended first.
	ReasonCanceled Reason = "canceled"
	// ReasonStopped: the plugin had been stopped before the call.
	ReasonStopped Reason = "stopped"
	// ReasonProtocol: the plugin answered with something the host could not
	// use, or the connection failed while the process kept running.
	ReasonProtocol Reason = "protocol"
)

// PluginError is every error Manager and Plugin return. Error gives a
// complete, multi-line message for a person; the fields let a CLI lay it
// out differently.
type PluginError struct {
	Plugin string      // the plugin's name
	Kind   plugin.Kind // the kind it was launched as
	Path   string      // its executable
	Op     string      // "launch", "Describe", "Build"
	Reason Reason
	// ExitStatus is how the process ended ("exit status 3", "signal:
	// killed"), when it is known to have ended.
	ExitStatus string
	// Stderr holds the last lines the plugin wrote to stderr, for
	// failures where they help (the process died or would not start).
	Stderr []string
	// Timeout is the limit a timed-out call ran into.
	Timeout time.Duration
	// PluginProtocol is the protocol version the plugin speaks, for
	// ReasonProtocolVersion.
	PluginProtocol int
	// Err is the underlying error.
	Err error
}

func (e *PluginError) Error() string {
	var b strings.Builder
	if e.Op == "launch" {
		fmt.Fprintf(&b, "launch %s plugin %q (%s): ", e.Kind, e.Plugin, e.Path)
	} else {
		fmt.Fprintf(&b, "%s plugin %q: %s: ", e.Kind, e.Plugin, e.Op)
	}
	switch e.Reason {
	case ReasonExited:
		status := e.ExitStatus
		if status == "" {
			status = "status unknown"
		}
		fmt.Fprintf(&b, "the plugin process exited (%s)", status)
	case ReasonTimeout:
		fmt.Fprintf(&b, "call timed out after %s seconds; the plugin was killed",
			strconv.FormatFloat(e.Timeout.Seconds(), 'f', -1, 64))
	case ReasonProtocolVersion:
		fmt.Fprintf(&b, "the plugin speaks protocol version %d but this host speaks protocol version %d; "+
			"rebuild the plugin against a YOLOForge SDK that speaks version %d", e.PluginProtocol, plugin.ProtocolVersion, plugin.ProtocolVersion)
	default:
		if e.Err != nil {
			b.WriteString(e.Err.Error())
		} else {
			b.WriteString(string(e.Reason))
		}
		if e.ExitStatus != "" {
			fmt.Fprintf(&b, " (process: %s)", e.ExitStatus)
		}
	}
	if len(e.Stderr) > 0 {
		fmt.Fprintf(&b, "\nlast lines of the plugin's stderr:")
		for _, l := range e.Stderr {
			b.WriteString("\n  ")
			b.WriteString(l)
		}
	}
	return b.String()
}

func (e *PluginError) Unwrap() error { return e.Err }
