package cmdutil

import (
	"context"
	"fmt"

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
	// Stats is where running containers' numbers come from (auto,
	// cgroup, api).
	Stats string
}

// AddEngineFlags registers the flags on cmd, --stats-source with them;
// allHelp says what --all adds for this verb.
func (e *EngineFlags) AddEngineFlags(cmd *cobra.Command, allHelp string) {
	e.addEngineFlags(cmd, allHelp, "f")
	fl := cmd.Flags()
	fl.StringVar(&e.Stats, "stats-source", string(containers.SourceAuto), "where running containers' numbers come from: auto (the cgroup files of a local engine's containers, else the engine's stats API), cgroup or api")
	_ = cmd.RegisterFlagCompletionFunc("stats-source", cobra.FixedCompletions([]string{"auto", "cgroup", "api"}, cobra.ShellCompDirectiveNoFileComp))
}

// AddSelectionFlags registers the flags that choose engines and
// containers, for a verb that reads no numbers (logs, whose -f is
// --follow: --filter has no short form there).
func (e *EngineFlags) AddSelectionFlags(cmd *cobra.Command, allHelp string) {
	e.addEngineFlags(cmd, allHelp, "")
}

func (e *EngineFlags) addEngineFlags(cmd *cobra.Command, allHelp, filterShort string) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&e.Hosts, "host", "H", nil, "Docker engine: unix:///path, tcp://host:port, ssh://[user@]host (repeatable; default as the docker CLI: --context, DOCKER_HOST, DOCKER_CONTEXT, the current context, the local socket)")
	fl.StringVar(&e.Context, "context", "", "docker context to reach the engine through (default DOCKER_CONTEXT, else the docker CLI's current context; DOCKER_HOST wins over both)")
	fl.BoolVarP(&e.All, "all", "a", false, allHelp)
	fl.StringArrayVarP(&e.Filters, "filter", filterShort, nil, "name=REGEX, label=KEY[=VALUE] or status=STATE (repeatable; same key OR'ed, different keys AND'ed)")
	// As in docker, a context and a host cannot both be given.
	cmd.MarkFlagsMutuallyExclusive("context", "host")
	_ = cmd.RegisterFlagCompletionFunc("filter", cobra.FixedCompletions([]string{"name=", "label=", "status=running", "status=exited", "status=paused", "status=created", "status=restarting", "status=dead"}, cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace))
}

// Check refuses a bad --filter or --stats-source before any engine is
// reached, and returns the parsed filter.
func (e *EngineFlags) Check() (containers.Filter, error) {
	// A verb without --stats-source (logs) leaves it empty.
	if _, err := containers.ParseStatsSource(e.Stats); e.Stats != "" && err != nil {
		return containers.Filter{}, UsageError("--stats-source: %v", err)
	}
	f, err := containers.ParseFilter(e.Filters)
	if err != nil {
		return containers.Filter{}, UsageError("%v", err)
	}
	return f, nil
}

// Watchers watch each engine with opts and --stats-source. An engine
// whose cgroup files cannot be read when --stats-source cgroup asks for
// them is a failure, named.
func (e *EngineFlags) Watchers(engines []*containers.Engine, opts containers.WatchOptions) ([]*containers.Watcher, error) {
	src, err := containers.ParseStatsSource(e.Stats)
	if err != nil {
		return nil, UsageError("--stats-source: %v", err)
	}
	opts.Stats = src
	ws := make([]*containers.Watcher, 0, len(engines))
	for _, eng := range engines {
		w, err := containers.NewWatcher(eng, opts)
		if err != nil {
			for _, w := range ws {
				w.Close()
			}
			return nil, Failure(fmt.Errorf("--stats-source cgroup: %w (use --stats-source auto or api)", err))
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// Connect reaches the engines the flags name through f, at most conns
// calls in flight each.
func (e *EngineFlags) Connect(ctx context.Context, f *Factory, conns int) ([]*containers.Engine, []error) {
	return f.Engines(ctx, e.Hosts, e.Context, conns)
}
