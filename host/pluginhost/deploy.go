package pluginhost

import (
	"context"
	"fmt"
	"time"

	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

// DefaultDeployCallTimeout limits each call to a deploy backend: converting
// a large model or building a TensorRT engine takes minutes, not the
// seconds a component's Build does.
const DefaultDeployCallTimeout = 30 * time.Minute

// Deploy is a running deploy backend plugin. It implements deploy.Backend
// and deploy.Runner by calling the process; every error it returns is a
// *PluginError naming the plugin and the call (a backend's own error has
// Reason ReasonComponent).
type Deploy struct {
	*Plugin
	be   *deploy.Client
	info deploy.Info
}

var (
	_ deploy.Backend = (*Deploy)(nil)
	_ deploy.Runner  = (*Deploy)(nil)
)

// LaunchDeploy starts a deploy backend plugin (spec.Kind must be
// plugin.KindDeploy, or empty for it) and asks it to describe itself.
// Calls are bounded by DefaultDeployCallTimeout, or by the manager's
// CallTimeout when that was set longer.
func (m *Manager) LaunchDeploy(ctx context.Context, spec Spec) (*Deploy, error) {
	if spec.Kind == "" {
		spec.Kind = plugin.KindDeploy
	}
	p, raw, err := m.start(ctx, spec, func(k plugin.Kind) error {
		if k != plugin.KindDeploy {
			return fmt.Errorf("plugin kind %q is not a deploy backend (want %q)", k, plugin.KindDeploy)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.timeout = max(DefaultDeployCallTimeout, m.opts.CallTimeout)
	be, ok := raw.(*deploy.Client)
	if !ok {
		p.stop(false)
		return nil, &PluginError{Plugin: p.name, Kind: spec.Kind, Path: p.spec.Path, Op: "launch", Reason: ReasonProtocol,
			Err: fmt.Errorf("dispense %s: got %T, not a deploy backend", spec.Kind, raw)}
	}
	d := &Deploy{Plugin: p, be: be}
	info, err := d.Describe(ctx)
	if err != nil {
		p.stop(false)
		return nil, err
	}
	d.info = info
	return d, nil
}

// Info is what the backend described at launch. It shadows Plugin.Info,
// which describes components.
func (d *Deploy) Info() deploy.Info { return d.info }

// Describe implements deploy.Backend. It shadows Plugin.Describe.
func (d *Deploy) Describe(ctx context.Context) (deploy.Info, error) {
	var info deploy.Info
	err := d.call(ctx, "Describe", func(ctx context.Context) (err error) {
		info, err = d.be.Describe(ctx)
		return err
	})
	return info, err
}

// Convert implements deploy.Backend.
func (d *Deploy) Convert(ctx context.Context, req deploy.ConvertRequest) (deploy.ConvertResult, error) {
	var res deploy.ConvertResult
	err := d.call(ctx, "Convert", func(ctx context.Context) (err error) {
		res, err = d.be.Convert(ctx, req)
		return err
	})
	return res, err
}

// Load implements deploy.Runner.
func (d *Deploy) Load(ctx context.Context, req deploy.LoadRequest) (string, error) {
	var s string
	err := d.call(ctx, "Load", func(ctx context.Context) (err error) {
		s, err = d.be.Load(ctx, req)
		return err
	})
	return s, err
}

// Infer implements deploy.Runner.
func (d *Deploy) Infer(ctx context.Context, session string, inputs []deploy.Tensor) ([]deploy.Tensor, error) {
	var out []deploy.Tensor
	err := d.call(ctx, "Infer", func(ctx context.Context) (err error) {
		out, err = d.be.Infer(ctx, session, inputs)
		return err
	})
	return out, err
}

// Time implements deploy.Runner.
func (d *Deploy) Time(ctx context.Context, session string, inputs []deploy.Tensor, iterations int) (deploy.Timing, error) {
	var t deploy.Timing
	err := d.call(ctx, "Time", func(ctx context.Context) (err error) {
		t, err = d.be.Time(ctx, session, inputs, iterations)
		return err
	})
	return t, err
}

// Unload implements deploy.Runner.
func (d *Deploy) Unload(ctx context.Context, session string) error {
	return d.call(ctx, "Unload", func(ctx context.Context) error { return d.be.Unload(ctx, session) })
}

// Build is not meaningful for a deploy backend; it shadows the
// component's Build so that a Deploy is never used as one by mistake.
func (d *Deploy) Build(context.Context, plugin.BuildContext) (plugin.Part, error) {
	return plugin.Part{}, &PluginError{Plugin: d.name, Kind: d.spec.Kind, Path: d.spec.Path, Op: "Build", Reason: ReasonKind,
		Err: fmt.Errorf("a deploy backend builds no model part")}
}
