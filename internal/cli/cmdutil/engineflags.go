package cmdutil

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/pkg/containers"
)

// A verb that reads Docker engines takes the flags it means, each group
// the same way in every verb: EngineFlags say which engines (-H,
// --context), ContainerFlags which of their containers (--all, --filter),
// StatsFlags how their numbers are read (--stats-source, and the stats
// calls in flight per engine under the verb's name for it).

// EngineFlags choose the Docker engines: -H and --context.
type EngineFlags struct {
	Hosts   []string
	Context string
}

// AddEngineFlags registers -H/--host and --context on cmd.
func (e *EngineFlags) AddEngineFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&e.Hosts, "host", "H", nil, "Docker engine: unix:///path, tcp://host:port, ssh://[user@]host (repeatable; default as the docker CLI: --context, DOCKER_HOST, DOCKER_CONTEXT, the current context, the local socket)")
	fl.StringVar(&e.Context, "context", "", "docker context to reach the engine through (default DOCKER_CONTEXT, else the docker CLI's current context; DOCKER_HOST wins over both)")
	// As in docker, a context and a host cannot both be given.
	cmd.MarkFlagsMutuallyExclusive("context", "host")
	_ = cmd.RegisterFlagCompletionFunc("host", completeHosts)
	_ = cmd.RegisterFlagCompletionFunc("context", completeContexts)
}

// Named says whether the flags name an engine (rather than the default).
func (e *EngineFlags) Named() bool { return len(e.Hosts) > 0 || e.Context != "" }

// Connect reaches the engines the flags name through f, at most conns
// calls in flight each.
func (e *EngineFlags) Connect(ctx context.Context, f *Factory, conns int) ([]*containers.Engine, []error) {
	return f.Engines(ctx, e.Hosts, e.Context, conns)
}

// ConnectSome reaches the engines the flags name, as Connect, and tells
// errOut of each that fails: a verb that goes on with the others (logs,
// events). It returns the engines reached, how many failed, and done,
// which closes them. None reached is Silent: each failure was said.
func (e *EngineFlags) ConnectSome(ctx context.Context, f *Factory, conns int, errOut io.Writer) ([]*containers.Engine, int, func(), error) {
	engines, failed := e.Connect(ctx, f, conns)
	for _, err := range failed {
		fmt.Fprintf(errOut, "monctl: %v\n", err)
	}
	done := func() {
		for _, en := range engines {
			en.Close()
		}
	}
	if len(engines) == 0 {
		return nil, len(failed), done, Silent
	}
	return engines, len(failed), done, nil
}

// ContainerFlags choose the containers of the engines: --all, --filter.
type ContainerFlags struct {
	All     bool
	Filters []string
}

// AddContainerFlags registers --all/-a and --filter on cmd; allHelp says
// what --all adds for this verb, filterShort is --filter's short form
// ("f" as in docker; "" where -f is --follow). --filter name= completes
// the names of the containers of the engines e names, through f.
func (c *ContainerFlags) AddContainerFlags(cmd *cobra.Command, f *Factory, e *EngineFlags, allHelp, filterShort string) {
	fl := cmd.Flags()
	fl.BoolVarP(&c.All, "all", "a", false, allHelp)
	fl.StringArrayVarP(&c.Filters, "filter", filterShort, nil, "name=REGEX, label=KEY[=VALUE] or status=STATE (repeatable; same key OR'ed, different keys AND'ed)")
	_ = cmd.RegisterFlagCompletionFunc("filter", e.completeFilter(f, c))
}

// Filter parses --filter, so that a bad one is refused before any engine
// is reached.
func (c *ContainerFlags) Filter() (containers.Filter, error) {
	f, err := containers.ParseFilter(c.Filters)
	if err != nil {
		return containers.Filter{}, UsageError("%v", err)
	}
	return f, nil
}

// StatsFlags say how running containers' numbers are read.
type StatsFlags struct {
	// Stats is where they come from (auto, cgroup, api).
	Stats string
	// EngineConcurrency is how many stats calls are in flight per engine.
	EngineConcurrency int

	concurrencyFlag string
}

// AddStatsFlags registers --stats-source on cmd, and the stats calls in
// flight per engine as the flag concurrencyFlag ("concurrency" where
// nothing else is concurrent; push's --concurrency is its targets').
func (s *StatsFlags) AddStatsFlags(cmd *cobra.Command, concurrencyFlag string) {
	fl := cmd.Flags()
	s.concurrencyFlag = concurrencyFlag
	fl.StringVar(&s.Stats, "stats-source", string(containers.SourceAuto), "where running containers' numbers come from: auto (the cgroup files of a local engine's containers, else the engine's stats API), cgroup or api")
	fl.IntVar(&s.EngineConcurrency, concurrencyFlag, 64, "stats calls in flight per engine")
	_ = cmd.RegisterFlagCompletionFunc("stats-source", cobra.FixedCompletions([]string{"auto", "cgroup", "api"}, cobra.ShellCompDirectiveNoFileComp))
}

// Check refuses a bad --stats-source or concurrency before any engine is
// reached.
func (s *StatsFlags) Check() error {
	if _, err := containers.ParseStatsSource(s.Stats); err != nil {
		return UsageError("--stats-source: %v", err)
	}
	if s.EngineConcurrency < 1 {
		return UsageError("--%s must be at least 1", s.concurrencyFlag)
	}
	return nil
}

// Watchers watch each engine with opts, --stats-source and the
// concurrency. An engine whose cgroup files cannot be read when
// --stats-source cgroup asks for them is a failure, named.
func (s *StatsFlags) Watchers(engines []*containers.Engine, opts containers.WatchOptions) ([]*containers.Watcher, error) {
	src, err := containers.ParseStatsSource(s.Stats)
	if err != nil {
		return nil, UsageError("--stats-source: %v", err)
	}
	opts.Stats, opts.Concurrency = src, s.EngineConcurrency
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
