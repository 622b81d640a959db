// Package containers implements 'monctl watch containers': live
// per-container stats from one or more Docker engines, as a full-screen
// view on a terminal and as one record per interval everywhere else.
package containers

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/buildinfo"
	"github.com/monctl/monctl/internal/cli/ask"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/cli/watch/live"
	"github.com/monctl/monctl/internal/output"
	ctr "github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/fleet"
	"github.com/monctl/monctl/pkg/query"
)

// Options of 'monctl watch containers'.
type Options struct {
	IO cmdutil.IOStreams
	live.Flags

	cmdutil.EngineFlags
	cmdutil.ContainerFlags
	cmdutil.StatsFlags

	Refs     []string
	NoStream bool
	NoTrunc  bool
	// Quiet prints only the containers' IDs, as docker ps -q.
	Quiet   bool
	Timeout time.Duration
	// GroupBy is the label whose values group the rows ("compose": the
	// compose project).
	GroupBy string
	// From are monctl serve addresses, FromPrometheus query APIs: the
	// containers of a fleet, instead of engines.
	From           []string
	FromPrometheus []string

	Out cmdutil.OutputFlags
	// Ask holds --query and --fail-if, over the monctl_container_*
	// families of each interval.
	Ask ask.Flags

	filter ctr.Filter
	table  *live.Table[ctr.Stats]
	cells  cells
}

// NewCmd builds 'monctl watch containers'.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
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
--once prints one snapshot, taken from two samples a tenth of a second
apart when read from cgroup files (CPU % over the wall clock), half a
second apart when an engine is asked (over the host's CPU clock, which
counts in 1/100 s), or --interval apart when given, so CPU % and rates
are real.

--group-by compose (or any label key) shows one row per compose project
(label value) with the totals of its containers; e shows them under it.

--query evaluates PromQL over the monctl_container_* series of each
interval (those serve exposes, with every container label as
container_label_<key>, and compose_project and compose_service: sum by
(compose_project) (...); rates need --count 2 or more) and prints
its answers instead of the table; --fail-if is a check that prints what
it returns, and monctl exits 4 when it fired at the last interval:
  monctl watch containers --once --fail-if \
    'monctl_container_memory_working_set_bytes / monctl_container_memory_limit_bytes > 0.9'

On an engine of this host, running containers' numbers are read from
their cgroup files and /proc, the counters dockerd reads, which costs the
engine nothing; elsewhere, or with --stats-source api, from the engine's
stats API. -o wide's time line says which.`,
		Example: `  monctl watch containers
  monctl watch containers --once -o json | jq '.[] | select(.cpu_percent > 50) | .name'
  monctl watch containers --sort mem --top 5 --filter label=com.docker.compose.project=shop
  monctl watch containers --group-by compose
  monctl watch containers -o jsonl --interval 10s >> stats.jsonl
  monctl watch containers --host unix:///var/run/docker.sock --host tcp://build:2376 -o wide`,
		ValidArgsFunction: opts.CompleteContainers(f, &opts.All),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Refs = args
			opts.Ask.ConfigAlertmanagers = f.ConfigAlertmanagers()
			return opts.Ask.NagiosError(opts.IO.Out, run(cmd.Context(), f, opts))
		},
	}
	fl := cmd.Flags()
	opts.AddEngineFlags(cmd)
	opts.AddContainerFlags(cmd, f, &opts.EngineFlags, "include stopped containers", "f")
	// A snapshot's CPU % over half a second when an engine is asked: as
	// exact as the host's CPU clock (1/100 s) allows, and an answer in
	// about half the time of docker stats' one-second window; read from
	// cgroup files, over a tenth of a second (cgroupSnapshotInterval).
	opts.Flags.SnapshotInterval = 500 * time.Millisecond
	opts.Flags.AddFlags(cmd, newTable(&cells{}, false).SortNames(), "name")
	fl.BoolVar(&opts.NoStream, "no-stream", false, "same as --once, as in docker stats")
	fl.BoolVar(&opts.NoTrunc, "no-trunc", false, "show full container IDs")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "print only the containers' IDs, one per line, as docker ps -q (with --once: for a script)")
	fl.StringArrayVar(&opts.From, "from", nil, "show the containers of the monctl serve at this address (host:port or URL; repeatable): a fleet in one view, grouped by host, instead of engines")
	fl.StringArrayVar(&opts.FromPrometheus, "from-prometheus", nil, "show the containers whose monctl_container_* series are in this Prometheus-compatible query API (Prometheus, VictoriaMetrics, Mimir, Thanos; repeatable), each under its instance label, instead of engines")
	fl.StringVar(&opts.GroupBy, "group-by", "", "one row per value of this container label, with the totals of its containers: 'compose' (the compose project) or any label key (e key in the live view shows the containers)")
	opts.AddStatsFlags(cmd, "concurrency")
	cmdutil.DurationVar(fl, &opts.Timeout, "timeout", 10*time.Second, "time limit for one round of stats calls to an engine")
	opts.Out.AddOutputFlags(cmd, "table", output.AllShapes)
	opts.Ask.AddFlags(fl, "the monctl_container_* series of each interval (those serve exposes)")
	cmd.MarkFlagsMutuallyExclusive("quiet", "output", "format")
	cmd.MarkFlagsMutuallyExclusive("group-by", "quiet")
	cmd.MarkFlagsMutuallyExclusive("group-by", "format")
	return cmd
}

// validate checks the options before anything is contacted.
func (o *Options) validate() error {
	if o.NoStream {
		o.Once = true
	}
	if err := o.Flags.Validate(); err != nil {
		return err
	}
	if err := o.StatsFlags.Check(); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return cmdutil.UsageError("--timeout must be positive")
	}
	f, err := o.Filter()
	if err != nil {
		return err
	}
	f.Refs = o.Refs
	o.filter = f
	fromFleet := len(o.From) > 0 || len(o.FromPrometheus) > 0
	if fromFleet && len(o.Hosts) > 0 {
		return cmdutil.UsageError("--from and --from-prometheus show a fleet instead of engines: leave out --host")
	}
	o.table = newTable(&o.cells, len(o.Hosts) > 1 || fromFleet)
	o.cells.noTrunc = o.NoTrunc
	if o.GroupBy == "compose" {
		o.GroupBy = ctr.ComposeProject
	}
	if o.GroupBy != "" {
		if o.Ask.Asking() {
			return cmdutil.UsageError("--group-by groups the table, and --query, --fail-if and --rules print answers instead of it; group in the query: sum by (compose_project) (...)")
		}
		o.table.Children, o.table.Collapsed = o.cells.members, true
	}
	return nil
}

func run(ctx context.Context, f *cmdutil.Factory, o *Options) error {
	if err := o.validate(); err != nil {
		return err
	}
	p, err := o.Out.Printer(o.IO, true, Record{})
	if err != nil {
		return err
	}
	if o.Ask.Asking() {
		if err := o.Ask.Check(p); err != nil {
			return err
		}
		defer o.Ask.Close() // delivers the alerts found
	}

	var watchers []*ctr.Watcher
	var failed []error
	var snapshot bool
	fleets, err := o.fleets()
	if err != nil {
		return err
	}
	if len(fleets) == 0 {
		watchers, failed, snapshot = connect(ctx, f, o)
	} else if o.Flags.Snapshot() && !slices.ContainsFunc(fleets, func(s fleet.Source) bool { _, hub := s.(*fleet.Hub); return hub }) {
		// A store's rates are its own (irate): a snapshot needs no
		// window of ours.
		o.Flags.Interval = storeSnapshotInterval
	}
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

	s := newSampler(watchers)
	s.fleets, s.filter, s.all = fleets, o.filter, o.All
	if snapshot {
		s.stolenWindow = time.Second - cgroupSnapshotInterval
	}
	partial, printed, fired := len(failed) > 0, 0, false
	store := o.Ask.NewStore()
	reported := map[string]*ctr.EngineError{} // engines reported down, to say so once
	res := live.Resource[ctr.Stats, *frame]{
		Name: "containers", Table: o.table, Sample: s.sample, Screen: o.screenFrame,
		Print: func(fr *frame) error {
			for _, err := range fr.down {
				partial = true
				if reported[err.Host] == nil {
					fmt.Fprintf(o.IO.ErrOut, "monctl: %v (retrying)\n", err)
					reported[err.Host] = err
				}
			}
			for host, was := range reported {
				if !slices.ContainsFunc(fr.down, func(e *ctr.EngineError) bool { return e.Host == host }) {
					fmt.Fprintf(o.IO.ErrOut, "monctl: %s at %s is back\n", was.Kind(), host)
					delete(reported, host)
				}
			}
			if len(fr.down) == fr.sourceCount() {
				return nil // nothing to show this interval
			}
			for _, ref := range fr.unmatched {
				partial = true
				fmt.Fprintf(o.IO.ErrOut, "monctl: no such container: %s\n", ref)
			}
			if len(o.Refs) > 0 && len(fr.unmatched) == len(o.Refs) {
				return cmdutil.Silent // as docker stats NAME does; each was reported
			}
			printed++
			if o.Ask.Asking() {
				var askErr error
				fired, askErr = o.answer(ctx, p, store, fr)
				return askErr
			}
			if o.GroupBy != "" {
				return p.Print(o.groupView(fr, p.Format == output.Wide))
			}
			fr.stats = o.table.Arrange(fr.stats, o.Sort, false, o.Top)
			if o.Quiet {
				return o.printIDs(fr.stats)
			}
			return p.Print(o.view(fr, p.Format == output.Wide))
		},
		Done: func() error {
			switch {
			case printed == 0:
				return cmdutil.Silent // every engine failed, and said so
			case fired:
				return cmdutil.CheckFailed
			case partial:
				return cmdutil.Partial
			}
			return nil
		},
	}
	if o.Ask.Asking() || o.Quiet {
		res.Screen = nil // answers and IDs are printed, never drawn
	}
	return live.Run(ctx, o.IO, &o.Flags, p, res)
}

// printIDs writes the containers' IDs, short unless --no-trunc.
func (o *Options) printIDs(stats []ctr.Stats) error {
	var b strings.Builder
	for i := range stats {
		id := stats[i].ID
		if !o.NoTrunc {
			id = id[:min(12, len(id))]
		}
		b.WriteString(id + "\n")
	}
	_, err := io.WriteString(o.IO.Out, b.String())
	return err
}

// answer adds an interval's series to the store and answers the
// questions over it; fired says whether a check fired this time, which
// the last interval's answer turns into exit 4.
func (o *Options) answer(ctx context.Context, p *output.Printer, store *query.Store, fr *frame) (fired bool, err error) {
	store.Add(fr.time, ctr.QueryFamilies(fr.stats))
	return o.Ask.Answer(ctx, p, store, fr.time, len(fr.down) == fr.sourceCount())
}

// view is one interval in every shape: a table after a time line (which
// says where the numbers came from in the wide one), one record per
// container, and monctl's container families.
func (o *Options) view(fr *frame, wide bool) output.View {
	o.cells.setHistory(fr.history)
	summary := output.Count(len(fr.stats), "container")
	if wide {
		summary += " · stats from " + fr.sourcesText()
	}
	return output.View{
		Title: live.TimeLine(fr.time, summary),
		Rows:  o.table.IntervalRows(fr.time, fr.stats),
		Records: func() []any {
			recs := make([]any, len(fr.stats))
			for i := range fr.stats {
				recs[i] = Record{Stats: fr.stats[i]}
			}
			return recs
		},
		Families: func() []output.Source {
			return []output.Source{{Time: fr.time, Families: ctr.Families(fr.stats, nil)}}
		},
	}
}

// screenFrame is a frame for the live view: a head with the engines and
// totals, and a banner per engine that is down.
func (o *Options) screenFrame(fr *frame) *live.Frame[ctr.Stats] {
	var cpu float64
	var mem uint64
	for i := range fr.stats {
		cpu += fr.stats[i].CPUPercent
		mem += fr.stats[i].MemoryUsed
	}
	var engines []string
	for i, e := range fr.engines {
		engines = append(engines, fmt.Sprintf("%s (%s %s, API %s, stats from %s)", e.Host, e.Product, e.ServerVersion, e.APIVersion, fr.sources[i]))
	}
	for _, f := range fr.fleets {
		engines = append(engines, fmt.Sprintf("%s (%s)", f.Name(), f.Kind()))
	}
	o.cells.setHistory(fr.history)
	items, count := fr.stats, output.Count(len(fr.stats), "container")
	if o.GroupBy != "" {
		items = o.groupRows(fr.stats)
		count += " in " + output.Count(len(items), "group")
	}
	lf := &live.Frame[ctr.Stats]{Items: items, Head: fmt.Sprintf("%s · %s · CPU %.1f%% · MEM %s · %s",
		strings.Join(engines, ", "), count, cpu, output.Bytes(float64(mem)), fr.time.Format("15:04:05"))}
	for _, e := range fr.down {
		lf.Banners = append(lf.Banners, e.Error())
	}
	return lf
}

// fleets are the sources of --from and --from-prometheus.
func (o *Options) fleets() ([]fleet.Source, error) {
	var out []fleet.Source
	if len(o.From) > 0 {
		scraper := &exposition.Scraper{Timeout: o.Timeout, BodySizeLimit: 64 << 20, UserAgent: "monctl/" + buildinfo.Get().Version}
		for _, arg := range o.From {
			t, err := exposition.ParseTargetArg(arg)
			if err != nil || !t.IsHTTP() {
				return nil, cmdutil.UsageError("--from %s: want the address of a monctl serve (host:port or http(s)://host:port/metrics)", arg)
			}
			out = append(out, &fleet.Hub{Target: t, Scraper: scraper})
		}
	}
	for _, u := range o.FromPrometheus {
		st, err := fleet.NewStore(u, nil)
		if err != nil {
			return nil, cmdutil.UsageError("%v", err)
		}
		st.Timeout = o.Timeout
		out = append(out, st)
	}
	return out, nil
}

// connect reaches every engine at once; the ones that fail are returned
// as errors. The bool says that a snapshot is taken over
// cgroupSnapshotInterval.
func connect(ctx context.Context, f *cmdutil.Factory, o *Options) ([]*ctr.Watcher, []error, bool) {
	engines, errs := o.Connect(ctx, f, o.EngineConcurrency)
	watchers, err := o.Watchers(engines, ctr.WatchOptions{All: o.All, Filter: o.filter, Timeout: o.Timeout, WallClockCPU: o.Flags.Snapshot()})
	if err != nil {
		for _, eng := range engines {
			eng.Close()
		}
		return nil, append(errs, err), false
	}
	// A snapshot read from cgroup files alone takes its rates over the
	// wall clock, exact over a tenth of a second; one that asks an
	// engine keeps SnapshotInterval, over the host's CPU clock.
	if o.Flags.Snapshot() && len(watchers) > 0 && !slices.ContainsFunc(watchers, func(w *ctr.Watcher) bool { return w.Source() == string(ctr.SourceAPI) }) {
		o.Flags.Interval = cgroupSnapshotInterval
		return watchers, errs, true
	}
	return watchers, errs, false
}

// storeSnapshotInterval is the window of a snapshot read from stores
// only: the shortest a watch takes.
const storeSnapshotInterval = 10 * time.Millisecond

// cgroupSnapshotInterval is the window of one snapshot read from cgroup
// files: long enough for a container's CPU counter (ns) to say its share
// within a point or two, short enough for an answer in a tenth of
// docker stats' time.
const cgroupSnapshotInterval = 100 * time.Millisecond
