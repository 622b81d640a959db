// Package watch implements 'monctl watch containers': live per-container
// stats from one or more Docker engines, as a full-screen view on a
// terminal and as one record per interval everywhere else.
package watch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/containers"
)

// Options of 'monctl watch containers'.
type Options struct {
	IO cmdutil.IOStreams

	Refs        []string
	Hosts       []string
	All         bool
	Filters     []string
	Sort        string
	Top         int
	Interval    time.Duration
	Count       int
	Once        bool
	NoStream    bool
	NoTrunc     bool
	Concurrency int
	Timeout     time.Duration

	Out cmdutil.OutputFlags

	filter containers.Filter
}

// NewCmd builds 'monctl watch' with its resource sub-commands; runF
// replaces run in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "watch RESOURCE",
		Short: "Watch resources live: containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmdutil.UsageError("watch what? try 'monctl watch containers'")
		},
	}
	cmd.AddCommand(newContainersCmd(f, runF))
	return cmd
}

func newContainersCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO}
	cmd := &cobra.Command{
		Use:     "containers [NAME|ID]...",
		Aliases: []string{"container", "ctr"},
		Short:   "Live per-container CPU, memory, network and block I/O, PIDs, health",
		Long: `Watch the containers of one or more Docker engines: CPU %, memory used and
its limit, network and block I/O (totals and per-second rates), PIDs, state
and health, restarts and uptime. The numbers are docker stats' own
formulas, so the two agree.

The engine is found as the docker CLI finds it: DOCKER_HOST,
DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, or --host (repeatable: one view of
several engines, with a HOST column).

On a terminal the view is redrawn in place; keys: c cpu, m memory, i net I/O,
b block I/O, p PIDs, n name, u uptime (sort), r reverse, q quit.
Elsewhere one record is printed per interval: a table with a time line,
a JSON array (-o json) or one JSON object per container (-o jsonl).
--once prints one snapshot, taken from two samples one interval apart,
so CPU % and rates are real.`,
		Example: `  monctl watch containers
  monctl watch containers --once -o json | jq '.[] | select(.cpu_percent > 50) | .name'
  monctl watch containers --sort mem --top 5 --filter label=com.docker.compose.project=shop
  monctl watch containers -o jsonl --interval 10s >> stats.jsonl
  monctl watch containers --host unix:///var/run/docker.sock --host tcp://build:2376 -o wide`,
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Refs = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&opts.Hosts, "host", "H", nil, "Docker engine to watch: unix:///path, tcp://host:port (repeatable; default DOCKER_HOST, else the local socket)")
	fl.BoolVarP(&opts.All, "all", "a", false, "include stopped containers")
	fl.StringArrayVarP(&opts.Filters, "filter", "f", nil, "name=REGEX, label=KEY[=VALUE] or status=STATE (repeatable; same key OR'ed, different keys AND'ed)")
	fl.StringVar(&opts.Sort, "sort", "name", "sort by "+strings.Join(sortKeys, "|")+" (numbers descending)")
	fl.IntVar(&opts.Top, "top", 0, "show only the first N containers after sorting (0: all)")
	fl.DurationVar(&opts.Interval, "interval", time.Second, "time between samples")
	fl.IntVar(&opts.Count, "count", 0, "stop after N snapshots (0: run until interrupted)")
	fl.BoolVar(&opts.Once, "once", false, "print one snapshot and exit (same as --count 1)")
	fl.BoolVar(&opts.NoStream, "no-stream", false, "same as --once, as in docker stats")
	fl.BoolVar(&opts.NoTrunc, "no-trunc", false, "show full container IDs")
	fl.IntVar(&opts.Concurrency, "concurrency", 64, "stats calls in flight per engine")
	fl.DurationVar(&opts.Timeout, "timeout", 10*time.Second, "time limit for one round of stats calls to an engine")
	opts.Out.AddOutputFlags(cmd, "table")
	_ = cmd.RegisterFlagCompletionFunc("sort", cobra.FixedCompletions(sortKeys, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("filter", cobra.FixedCompletions([]string{"name=", "label=", "status=running", "status=exited", "status=paused", "status=created", "status=restarting", "status=dead"}, cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace))
	return cmd
}

// validate checks the options before anything is contacted.
func (o *Options) validate() error {
	if o.Once || o.NoStream {
		if o.Count > 1 {
			return cmdutil.UsageError("--once prints one snapshot; it cannot go with --count %d", o.Count)
		}
		o.Count = 1
	}
	switch {
	case o.Count < 0:
		return cmdutil.UsageError("--count must be 0 or more, not %d", o.Count)
	case o.Top < 0:
		return cmdutil.UsageError("--top must be 0 or more, not %d", o.Top)
	case o.Interval < 10*time.Millisecond:
		return cmdutil.UsageError("--interval %v is too short (at least 10ms)", o.Interval)
	case o.Concurrency < 1:
		return cmdutil.UsageError("--concurrency must be at least 1")
	case o.Timeout <= 0:
		return cmdutil.UsageError("--timeout must be positive")
	case !slices.Contains(sortKeys, o.Sort):
		return cmdutil.UsageError("--sort %q: want one of %s", o.Sort, strings.Join(sortKeys, ", "))
	}
	f, err := containers.ParseFilter(o.Filters)
	if err != nil {
		return cmdutil.UsageError("%v", err)
	}
	f.Refs = o.Refs
	o.filter = f
	return nil
}

func run(ctx context.Context, o *Options) error {
	if err := o.validate(); err != nil {
		return err
	}
	format, tmpl, err := o.Out.Resolve()
	if err != nil {
		return err
	}
	if tmpl != nil {
		if err := tmpl.Check(Record{}); err != nil {
			return cmdutil.UsageError("%v", err)
		}
	}
	term := output.Detect(o.IO.Out)
	live := term.IsTTY && tmpl == nil && (format == output.Table || format == output.Wide) && o.Count != 1

	watchers, failed := connect(ctx, o)
	for i, err := range failed {
		if len(watchers) == 0 && i == len(failed)-1 {
			return cmdutil.Failure(err) // the root command reports the last
		}
		fmt.Fprintf(o.IO.ErrOut, "monctl: %v\n", err)
	}
	defer func() {
		for _, w := range watchers {
			w.Close()
			w.Engine().Close()
		}
	}()

	s := &sampler{watchers: watchers, interval: o.Interval}
	if live {
		return runLive(ctx, o, s, term, format == output.Wide)
	}
	sink := newStreamSink(o, format, tmpl, term, len(o.Hosts) > 1)
	partial, printed := len(failed) > 0, 0
	reported := map[string]bool{} // engines reported down, to say so once
	err = s.run(ctx, o.Count, func(fr *frame) error {
		for _, err := range fr.down {
			partial = true
			if !reported[err.Host] {
				fmt.Fprintf(o.IO.ErrOut, "monctl: %v (retrying)\n", err)
				reported[err.Host] = true
			}
		}
		for host := range reported {
			if !slices.ContainsFunc(fr.down, func(e *containers.EngineError) bool { return e.Host == host }) {
				fmt.Fprintf(o.IO.ErrOut, "monctl: the Docker engine at %s is back\n", host)
				delete(reported, host)
			}
		}
		if len(fr.down) == len(watchers) {
			return nil // nothing to show this interval
		}
		for _, ref := range fr.unmatched {
			partial = true
			fmt.Fprintf(o.IO.ErrOut, "monctl: no such container: %s\n", ref)
		}
		if len(o.Refs) > 0 && len(fr.unmatched) == len(o.Refs) {
			return errNothingToWatch // as docker stats NAME does
		}
		fr.stats = arrange(fr.stats, o.Sort, false, o.Top)
		printed++
		return sink.frame(fr)
	})
	switch {
	case errors.Is(err, errNothingToWatch):
		return cmdutil.Silent
	case err != nil && ctx.Err() != nil:
		return err // interrupted: the root command reports the signal
	case err != nil:
		return cmdutil.Failure(err)
	}
	if printed == 0 {
		return cmdutil.Silent // every engine failed, and said so
	}
	if partial {
		return cmdutil.Partial
	}
	return nil
}

// errNothingToWatch ends a watch whose every container argument names
// nothing; each was reported.
var errNothingToWatch = errors.New("no such containers")

// connect reaches every engine at once; the ones that fail are returned
// as errors.
func connect(ctx context.Context, o *Options) ([]*containers.Watcher, []error) {
	engines, errs := containers.ConnectAll(ctx, o.Hosts, o.Concurrency)
	watchers := make([]*containers.Watcher, len(engines))
	for i, eng := range engines {
		watchers[i] = containers.NewWatcher(eng, containers.WatchOptions{All: o.All, Filter: o.filter, Concurrency: o.Concurrency, Timeout: o.Timeout})
	}
	return watchers, errs
}
