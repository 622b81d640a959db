package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/notify"
)

// Factory is what the root command hands each verb: the streams, the
// configuration once flags are parsed, and the ways to reach what is
// monitored, which tests replace.
type Factory struct {
	IO IOStreams
	// Config is loaded by the root command before any verb runs.
	Config *Config
	// Engines connects to Docker engines: hosts, or without them the
	// docker context contextName (see containers.ConnectAll), at most
	// concurrency calls in flight each; the ones that fail come back as
	// errors.
	Engines func(ctx context.Context, hosts []string, contextName string, concurrency int) ([]*containers.Engine, []error)
}

// NewFactory is the Factory of a real run on io.
func NewFactory(io IOStreams) *Factory {
	if io.Color == nil {
		auto := ColorAuto
		io.Color = &auto
	}
	return &Factory{IO: io, Engines: connectEngines}
}

// connectEngines is containers.ConnectAll, with the flag that picks the
// engine named where pkg/containers names only DOCKER_HOST.
func connectEngines(ctx context.Context, hosts []string, contextName string, concurrency int) ([]*containers.Engine, []error) {
	engines, errs := containers.ConnectAll(ctx, hosts, contextName, concurrency)
	for i, err := range errs {
		var ce *containers.ConnectError
		if errors.As(err, &ce) && strings.Contains(ce.Hint, "DOCKER_HOST") {
			errs[i] = fmt.Errorf("%w (or --host)", err)
		}
	}
	return engines, errs
}

// ConfigTargets returns the targets of the configuration file, if any.
func (f *Factory) ConfigTargets() []exposition.Target {
	if f.Config == nil {
		return nil
	}
	return f.Config.Targets
}

// ConfigAlertmanagers returns the Alertmanagers of the configuration
// file's alerting section, if any.
func (f *Factory) ConfigAlertmanagers() []notify.Alertmanager {
	if f.Config == nil {
		return nil
	}
	return f.Config.Alertmanagers
}
