package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/yoloforge/yoloforge/sdk/plugin"
)

// Plugin is a running plugin process. It implements plugin.Component by
// calling the process, so the host uses a plugin like an in-process
// component; every error it returns is a *PluginError.
type Plugin struct {
	m      *Manager
	spec   Spec
	name   string
	cmd    *exec.Cmd
	client *goplugin.Client
	comp   plugin.Component
	info   plugin.Info
	stderr *tail
	// timeout overrides the manager's CallTimeout when set (deploy
	// backends' calls run longer).
	timeout time.Duration

	mu       sync.Mutex
	proc     *os.Process // set once the handshake is done
	stopping bool
	crashed  bool          // died on its own during a call
	stopped  chan struct{} // closed when stop has finished
}

var _ plugin.Component = (*Plugin)(nil)

// Name is the plugin's name in logs and errors.
func (p *Plugin) Name() string { return p.name }

// Kind is the kind the plugin was launched as.
func (p *Plugin) Kind() plugin.Kind { return p.spec.Kind }

// Path is the plugin's executable.
func (p *Plugin) Path() string { return p.spec.Path }

// Info is what the component described at launch.
func (p *Plugin) Info() plugin.Info { return p.info }

// Pid is the plugin's process id, 0 before it started.
func (p *Plugin) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return 0
	}
	return p.proc.Pid
}

// Exited reports whether the plugin process has ended and been reaped.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// ExitStatus says how the process ended ("exit status 3", "signal:
// killed"); ok is false while it runs.
func (p *Plugin) ExitStatus() (status string, ok bool) {
	// go-plugin marks the client exited only after cmd.Wait returned, under
	// its lock, so ProcessState is safe to read once Exited says so.
	if !p.client.Exited() {
		return "", false
	}
	if p.cmd.ProcessState == nil {
		return "exited", true
	}
	return p.cmd.ProcessState.String(), true
}

// Stderr returns the last lines the plugin wrote to stderr.
func (p *Plugin) Stderr() []string { return p.stderr.Lines() }

// Kill stops the plugin: gracefully if it answers, by killing the process
// if it does not within a few seconds. It returns once the process is
// gone and is safe to call more than once.
func (p *Plugin) Kill() { p.stop(false) }

// Describe implements plugin.Component.
func (p *Plugin) Describe(ctx context.Context) (plugin.Info, error) {
	var info plugin.Info
	err := p.call(ctx, "Describe", func(ctx context.Context) (err error) {
		info, err = p.comp.Describe(ctx)
		return err
	})
	return info, err
}

// Build implements plugin.Component.
func (p *Plugin) Build(ctx context.Context, bc plugin.BuildContext) (plugin.Part, error) {
	var part plugin.Part
	err := p.call(ctx, "Build", func(ctx context.Context) (err error) {
		part, err = p.comp.Build(ctx, bc)
		return err
	})
	return part, err
}

// call runs one call under CallTimeout and explains its failure.
func (p *Plugin) call(ctx context.Context, op string, f func(context.Context) error) error {
	e := &PluginError{Plugin: p.name, Kind: p.spec.Kind, Path: p.spec.Path, Op: op}
	p.mu.Lock()
	stopping, crashed := p.stopping, p.crashed
	p.mu.Unlock()
	// A plugin that died keeps saying so; one the host stopped says that.
	if status, ok := p.ExitStatus(); ok && (crashed || !stopping) {
		e.Reason, e.ExitStatus, e.Stderr = ReasonExited, status, p.stderr.Lines()
		return e
	}
	if stopping {
		e.Reason, e.Err = ReasonStopped, errors.New("the plugin has been stopped")
		return e
	}

	timeout := p.m.opts.CallTimeout
	if p.timeout > 0 {
		timeout = p.timeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := f(cctx)
	if err == nil {
		return nil
	}
	e.Err = err
	if st, ok := status.FromError(err); ok && st.Code() == codes.DeadlineExceeded {
		// gRPC sends the deadline to the plugin, whose side may expire it a
		// moment before the local context notices; wait for whichever
		// context ran out so the failure is blamed on the right one.
		select {
		case <-ctx.Done():
		case <-cctx.Done():
		case <-time.After(time.Second):
		}
	}
	var remote *plugin.RemoteError
	switch {
	case errors.As(err, &remote):
		e.Reason = ReasonComponent
	case ctx.Err() != nil:
		e.Reason, e.Err = ReasonCanceled, ctx.Err()
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		// A plugin that does not answer in time is presumed hung; killing it
		// frees its resources and keeps a late answer from mattering.
		p.m.opts.Logger.Warn("plugin call timed out, killing the plugin", "plugin", p.name, "call", op, "timeout", timeout)
		p.stop(true)
		e.Reason, e.Timeout = ReasonTimeout, timeout
	default:
		status, exited := p.waitExit(exitWaitFor(err))
		p.mu.Lock()
		stopping := p.stopping
		crashed := exited && !stopping
		p.crashed = p.crashed || crashed
		p.mu.Unlock()
		switch {
		case crashed:
			e.Reason, e.ExitStatus, e.Stderr = ReasonExited, status, p.stderr.Lines()
			p.stop(false) // the process is gone; release go-plugin's side
		case stopping: // a Kill, a Shutdown or another call's timeout
			e.Reason, e.Err = ReasonStopped, fmt.Errorf("the plugin was stopped during the call: %w", err)
		default:
			e.Reason = ReasonProtocol
		}
	}
	return e
}

// exitWaitFor is how long to wait for the process to be reported dead
// after err: only a broken connection suggests that it died.
func exitWaitFor(err error) time.Duration {
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unavailable, codes.Internal, codes.Unknown, codes.Canceled:
			return exitWait
		}
	}
	return 0
}

// waitExit waits up to d for the process to be reported dead.
func (p *Plugin) waitExit(d time.Duration) (string, bool) {
	deadline := time.Now().Add(d)
	for {
		if status, ok := p.ExitStatus(); ok {
			return status, true
		}
		if time.Now().After(deadline) {
			return "", false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop ends the plugin; hard skips the graceful attempt. Concurrent and
// repeated calls wait for the first to finish.
func (p *Plugin) stop(hard bool) {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		<-p.stopped
		return
	}
	p.stopping = true
	proc := p.proc
	p.mu.Unlock()
	defer close(p.stopped)
	defer p.m.untrack(p)

	if hard && proc != nil {
		_ = proc.Kill()
	}
	// client.Kill closes the connection, waits up to two seconds for the
	// process to exit and then kills it, but it asks the plugin to shut
	// down over gRPC first, and a wedged plugin may never answer; hence
	// the outer limit. Before the handshake is done proc is nil and
	// client.Kill waits for the start to finish, then kills the process.
	done := make(chan struct{})
	go func() {
		p.client.Kill()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(killGrace):
		if proc != nil {
			_ = proc.Kill()
		}
		<-done
	}
}
