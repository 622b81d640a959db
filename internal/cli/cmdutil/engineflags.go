package cmdutil

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/pkg/containers"
)

// EngineFlags choose the Docker engines and their containers, the same
// way for every verb that reads them: -H, --context, --all, --filter.
type EngineFlags struct {
	Hosts   []string
	Context string
	All     bool
	Filters []string
}

// AddEngineFlags registers the flags on cmd; allHelp says what --all adds
// for this verb.
func (e *EngineFlags) AddEngineFlags(cmd *cobra.Command, allHelp string) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&e.Hosts, "host", "H", nil, "Docker engine: unix:///path, tcp://host:port (repeatable; default as the docker CLI: --context, DOCKER_HOST, DOCKER_CONTEXT, the current context, the local socket)")
	fl.StringVar(&e.Context, "context", "", "docker context to reach the engine through (default DOCKER_CONTEXT, else the docker CLI's current context; DOCKER_HOST wins over both)")
	fl.BoolVarP(&e.All, "all", "a", false, allHelp)
	fl.StringArrayVarP(&e.Filters, "filter", "f", nil, "name=REGEX, label=KEY[=VALUE] or status=STATE (repeatable; same key OR'ed, different keys AND'ed)")
	// As in docker, a context and a host cannot both be given.
	cmd.MarkFlagsMutuallyExclusive("context", "host")
	_ = cmd.RegisterFlagCompletionFunc("filter", cobra.FixedCompletions([]string{"name=", "label=", "status=running", "status=exited", "status=paused", "status=created", "status=restarting", "status=dead"}, cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace))
}

// Filter parses --filter; a bad one is a usage error.
func (e *EngineFlags) Filter() (containers.Filter, error) {
	f, err := containers.ParseFilter(e.Filters)
	if err != nil {
		return containers.Filter{}, UsageError("%v", err)
	}
	return f, nil
}

// Connect reaches the engines the flags name through f, at most conns
// calls in flight each.
func (e *EngineFlags) Connect(ctx context.Context, f *Factory, conns int) ([]*containers.Engine, []error) {
	return f.Engines(ctx, e.Hosts, e.Context, conns)
}
