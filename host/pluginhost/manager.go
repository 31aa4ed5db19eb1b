// Package pluginhost launches YOLOForge plugins and talks to them: it
// starts each plugin executable through hashicorp/go-plugin over gRPC with
// automatic mTLS, checks the executable against its manifest's SHA-256
// before running it, gives every call a deadline, and turns a plugin that
// crashes, hangs or speaks another protocol version into a *PluginError
// that says which plugin, which call and what its stderr said last.
//
// The Manager owns every process it starts: Shutdown (or KillOnSignals on
// SIGINT/SIGTERM) stops them all, so no plugin outlives the host.
package pluginhost

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/yoloforge/yoloforge/registry"
	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

// Defaults for Options left zero.
const (
	DefaultCallTimeout  = 60 * time.Second
	DefaultStartTimeout = 30 * time.Second
	DefaultStderrLines  = 20
)

const (
	// killGrace is how long a graceful stop (go-plugin's Kill: close the
	// connection, let the plugin exit) may take before the process is
	// killed outright.
	killGrace = 5 * time.Second
	// exitWait is how long a failed call waits for the process to be
	// reported dead before deciding it is alive: the broken connection is
	// noticed a moment before the process is reaped.
	exitWait = 2 * time.Second
)

// Options configure a Manager.
type Options struct {
	// Logger receives the manager's and the plugins' logs, each plugin
	// under its own name. Nil discards them.
	Logger hclog.Logger
	// CallTimeout limits each Describe or Build call (DefaultCallTimeout).
	CallTimeout time.Duration
	// StartTimeout limits starting a plugin and its handshake
	// (DefaultStartTimeout).
	StartTimeout time.Duration
	// StderrLines is how many of a plugin's last stderr lines an error
	// report carries (DefaultStderrLines).
	StderrLines int
	// Exit ends the process after KillOnSignals has stopped the plugins;
	// nil means os.Exit. Tests replace it.
	Exit func(code int)
}

// Spec says which plugin to launch.
type Spec struct {
	// Path of the plugin executable.
	Path string
	// Name of the plugin in logs and errors; the file name when empty.
	Name string
	// Kind the plugin is launched as; it must serve that kind.
	Kind plugin.Kind
	// SHA256 of the executable from its manifest. When set, a file that
	// does not match is refused before it runs; nil skips the check.
	SHA256 []byte
}

// Manager launches plugins and stops them. It is safe for concurrent use.
type Manager struct {
	opts Options

	mu       sync.Mutex
	closed   bool
	plugins  map[*Plugin]struct{}
	launches sync.WaitGroup // Launch calls in flight, for Shutdown to wait on
}

// NewManager returns a manager with opts, zero fields set to their defaults.
func NewManager(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.StderrLines <= 0 {
		opts.StderrLines = DefaultStderrLines
	}
	if opts.Exit == nil {
		opts.Exit = os.Exit
	}
	return &Manager{opts: opts, plugins: map[*Plugin]struct{}{}}
}

// Launch starts the plugin executable, completes the go-plugin handshake,
// and asks the component to describe itself, checking that it serves
// spec.Kind. The plugin runs until Kill or the manager's Shutdown. ctx
// bounds the Describe call; the start itself is bounded by StartTimeout.
func (m *Manager) Launch(ctx context.Context, spec Spec) (*Plugin, error) {
	p, raw, err := m.start(ctx, spec, func(k plugin.Kind) error {
		if !plugin.ValidKind(k) {
			return fmt.Errorf("unknown plugin kind %q (want one of %v)", k, plugin.ComponentKinds())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	fail := func(r Reason, err error) *PluginError {
		return &PluginError{Plugin: p.name, Kind: spec.Kind, Path: p.spec.Path, Op: "launch", Reason: r, Err: err}
	}
	comp, ok := raw.(plugin.Component)
	if !ok {
		p.stop(false)
		return nil, fail(ReasonProtocol, fmt.Errorf("dispense %s: got %T, not a component", spec.Kind, raw))
	}
	p.comp = comp
	info, err := p.Describe(ctx)
	if err != nil {
		p.stop(false)
		return nil, err
	}
	if info.Kind != spec.Kind {
		p.stop(false)
		return nil, fail(ReasonKind, fmt.Errorf("the plugin is a %s %q, not a %s", info.Kind, info.Name, spec.Kind))
	}
	p.info = info
	return p, nil
}

// start launches the executable of spec, completes the handshake and
// dispenses spec.Kind, returning the plugin (tracked by the manager) and
// what go-plugin dispensed. checkKind vets spec.Kind before anything runs.
func (m *Manager) start(ctx context.Context, spec Spec, checkKind func(plugin.Kind) error) (*Plugin, any, error) {
	name := spec.Name
	if name == "" {
		name = filepath.Base(spec.Path)
	}
	fail := func(r Reason, err error) *PluginError {
		return &PluginError{Plugin: name, Kind: spec.Kind, Path: spec.Path, Op: "launch", Reason: r, Err: err}
	}
	if spec.Path == "" {
		return nil, nil, fail(ReasonStart, errors.New("no executable path given"))
	}
	if err := checkKind(spec.Kind); err != nil {
		return nil, nil, fail(ReasonKind, err)
	}
	if spec.SHA256 != nil && len(spec.SHA256) != sha256.Size {
		return nil, nil, fail(ReasonChecksum, fmt.Errorf("the manifest's sha256 has %d bytes, want %d", len(spec.SHA256), sha256.Size))
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fail(ReasonCanceled, err)
	}
	path, err := filepath.Abs(spec.Path)
	if err != nil {
		return nil, nil, fail(ReasonStart, err)
	}
	spec.Path = path
	if st, err := os.Stat(path); err != nil {
		return nil, nil, fail(ReasonStart, err)
	} else if !st.Mode().IsRegular() {
		return nil, nil, fail(ReasonStart, fmt.Errorf("%s is not a regular file", path))
	}

	logger := m.opts.Logger.Named(name)
	stderr := newTail(m.opts.StderrLines)
	cmd := exec.Command(path)
	cfg := &goplugin.ClientConfig{
		HandshakeConfig:  plugin.Handshake(),
		VersionedPlugins: deploy.VersionedPlugins(), // the components and the deploy kind
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		Managed:          false, // the Manager kills its plugins itself
		StartTimeout:     m.opts.StartTimeout,
		Logger:           logger,
		// Stderr gets the process's stderr line by line (go-plugin also logs
		// it through logger); SyncStderr/SyncStdout get what the plugin
		// writes to os.Stderr/os.Stdout before its first call, streamed over
		// gRPC. Both feed the tail shown when the plugin dies.
		Stderr:     stderr,
		SyncStderr: stderr,
		SyncStdout: logger.StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(plugin.MaxMessageSize),
			grpc.MaxCallSendMsgSize(plugin.MaxMessageSize))},
	}
	if spec.SHA256 != nil {
		cfg.SecureConfig = &goplugin.SecureConfig{Checksum: spec.SHA256, Hash: sha256.New()}
	}
	// NewClient starts nothing; the client must exist before the plugin is
	// tracked, since Shutdown may stop it from then on.
	p := &Plugin{m: m, spec: spec, name: name, cmd: cmd, client: goplugin.NewClient(cfg), stderr: stderr, stopped: make(chan struct{})}

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, nil, fail(ReasonStopped, errors.New("the plugin manager has been shut down"))
	}
	m.launches.Add(1)
	m.plugins[p] = struct{}{}
	m.mu.Unlock()
	defer m.launches.Done()

	rpc, err := p.client.Client()
	p.mu.Lock()
	stopping := p.stopping
	if err == nil && !stopping {
		p.proc = cmd.Process
	}
	p.mu.Unlock()
	if stopping {
		// Shutdown came while the process was starting. Its Kill may have
		// run before the process existed and found nothing to kill.
		p.client.Kill()
		<-p.stopped
		return nil, nil, fail(ReasonStopped, errors.New("the plugin manager was shut down during the launch"))
	}
	if err != nil {
		p.stop(false)
		return nil, nil, p.launchError(err)
	}
	logger.Debug("plugin started", "path", path, "pid", p.Pid(), "protocol", p.client.NegotiatedVersion())

	raw, err := rpc.Dispense(string(spec.Kind))
	if err != nil {
		p.stop(false)
		return nil, nil, fail(ReasonProtocol, fmt.Errorf("dispense %s: %w", spec.Kind, err))
	}
	return p, raw, nil
}

// versionMismatch picks the plugin's version out of go-plugin's error,
// which has no type of its own.
var versionMismatch = regexp.MustCompile(`incompatible API version with plugin\. Plugin version: (-?\d+)`)

// launchError explains why go-plugin could not start and connect.
func (p *Plugin) launchError(err error) error {
	e := &PluginError{Plugin: p.name, Kind: p.spec.Kind, Path: p.spec.Path, Op: "launch", Reason: ReasonStart, Err: err}
	switch {
	case errors.Is(err, goplugin.ErrChecksumsDoNotMatch):
		e.Reason = ReasonChecksum
		e.Err = fmt.Errorf("checksum of %s does not match the manifest (manifest sha256 %x, file sha256 %s); refusing to run it",
			p.spec.Path, p.spec.SHA256, fileSHA256(p.spec.Path))
		return e
	case versionMismatch.MatchString(err.Error()):
		v, _ := strconv.Atoi(versionMismatch.FindStringSubmatch(err.Error())[1])
		e.Reason, e.PluginProtocol = ReasonProtocolVersion, v
		return e
	}
	// Anything else may have been a process that died or babbled; what it
	// wrote to stderr is usually the explanation.
	if status, ok := p.ExitStatus(); ok {
		e.ExitStatus = status
	}
	e.Stderr = p.stderr.Lines()
	return e
}

// fileSHA256 is the file's SHA-256 for an error message, or why it has none.
func fileSHA256(path string) string {
	sum, err := registry.SHA256File(path)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return sum
}

// Plugins returns the plugins the manager is running.
func (m *Manager) Plugins() []*Plugin {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Plugin, 0, len(m.plugins))
	for p := range m.plugins {
		out = append(out, p)
	}
	return out
}

func (m *Manager) untrack(p *Plugin) {
	m.mu.Lock()
	delete(m.plugins, p)
	m.mu.Unlock()
}

// Shutdown stops every plugin the manager started, including any still
// starting, and waits until their processes are gone. Later launches fail.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	m.closed = true
	ps := make([]*Plugin, 0, len(m.plugins))
	for p := range m.plugins {
		ps = append(ps, p)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(false)
		}()
	}
	wg.Wait()
	// A launch caught between its start and Shutdown notices and stops
	// its own plugin; wait for that too.
	m.launches.Wait()
}

// KillOnSignals makes SIGINT and SIGTERM stop every plugin and then exit
// the process with 128+signal (130, 143), as a shell reports it; a second
// signal exits at once. stop undoes it.
func (m *Manager) KillOnSignals() (stop func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go m.watchSignals(ch, done)
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
		})
	}
}

func (m *Manager) watchSignals(ch <-chan os.Signal, done <-chan struct{}) {
	var sig os.Signal
	select {
	case <-done:
		return
	case sig = <-ch:
	}
	m.opts.Logger.Info("signal received, stopping plugins", "signal", sig.String())
	go func() {
		select {
		case s := <-ch:
			m.opts.Exit(exitCode(s))
		case <-done:
		}
	}()
	m.Shutdown()
	m.opts.Exit(exitCode(sig))
}

func exitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}
