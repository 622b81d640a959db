package cmdutil

import "github.com/monctl/monctl/pkg/exposition"

// Factory is what the root command hands each verb: the streams and, once
// flags are parsed, the configuration.
type Factory struct {
	IO IOStreams
	// Config is loaded by the root command before any verb runs.
	Config *Config
}

// ConfigTargets returns the targets of the configuration file, if any.
func (f *Factory) ConfigTargets() []exposition.Target {
	if f.Config == nil {
		return nil
	}
	return f.Config.Targets
}
