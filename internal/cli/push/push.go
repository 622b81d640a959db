// Package push implements 'monctl push': gather what serve would serve
// (containers of the engines, scrape targets, an exposition in a file or
// on stdin) and deliver it to a Pushgateway, remote-write receivers,
// InfluxDB and Graphite, once (for cron) or every --every, spooling what
// a sink does not take.
package push

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/monctl/monctl/internal/cli/ask"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/discovery"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/kube"
	"github.com/monctl/monctl/pkg/push"
	"github.com/monctl/monctl/pkg/query"
)

// Options of 'monctl push'.
type Options struct {
	IO cmdutil.IOStreams
	cmdutil.ScrapeFlags
	cmdutil.DiscoverFlags

	Args          []string
	ConfigTargets []exposition.Target
	// ConfigSinks are the config file's push sinks, with their
	// http_config; the flags' sinks are added to them.
	ConfigSinks []cmdutil.SinkConfig

	Containers bool
	cmdutil.EngineFlags
	cmdutil.ContainerFlags
	cmdutil.StatsFlags
	ContainerLabels []string
	// --kube: Kubernetes types whose objects are pushed as
	// kube-state-metrics' series.
	cmdutil.KubeFlags
	// Match keeps only the series that match one of these selectors.
	Match []string

	// SinkURLs are the flags' sink URLs by kind (sinkKinds' flags).
	SinkURLs map[string]*[]string

	Job             string
	Instance        string
	HonorLabels     bool
	Grouping        []string
	Method          string
	InfluxTokenFile string

	ListenAddresses []string

	QueueDir     string
	QueueSize    string
	Every        time.Duration
	Retries      int
	PushTimeout  time.Duration
	FlushTimeout time.Duration

	Out cmdutil.OutputFlags
	// Ask holds --query, --fail-if and --rules, over what each round
	// pushed, as the receiver stores it.
	Ask ask.Flags
}

// NewCmd builds 'monctl push'.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "push [URL|host:port|FILE|-]...",
		Short: "Deliver containers and scraped targets to a Pushgateway, remote write, InfluxDB or Graphite",
		Long: `Gather what 'monctl serve' serves — the containers of the Docker engine(s)
(--containers, -H), scrape targets (arguments as in 'monctl scrape', or the
config file's targets), an exposition in a file or on stdin ('-') — and
deliver it to every sink given:

` + sinksHelp() + `
The config file's push section lists sinks under the same names, each a
URL or a mapping of url and http_config.

Once by default, for cron; every --every DURATION (with jitter) as an
agent. What a sink does not take (it is down, slow, answers 5xx or 429
after the retries) goes to the spool in --queue-dir and is sent first the
next time: across cron runs too. Delivery is at least once, in order per
sink; a Pushgateway group keeps only its newest push. A batch a sink
refuses (4xx) is dropped with the sink's message. SIGINT and SIGTERM let
deliveries in flight finish within --flush-timeout, then spool the rest.

A line per sink on stderr says what was sent, retried, spooled and
dropped; -o json (or table, jsonl, yaml, csv) prints it on stdout.

--query, --fail-if and --rules are asked of what each round pushed, with
its job and instance labels and the scrape's series, as the receiver
stores it; their answers are printed instead of the sinks' lines each
round, and exit 4 says a check or an alert fired in the last. The alerts
go to --alertmanager and --notify-webhook.`,
		Example: `  monctl push --remote-write http://vm:8428/api/v1/write --containers
  monctl watch containers --once -o prom | monctl push --pushgateway http://pgw:9091 --job containers -
  monctl push --pushgateway http://pgw:9091 --job backup --grouping instance=db1 metrics.prom
  monctl push --influx 'http://influx:8086/write?db=metrics' localhost:9100
  monctl push --every 15s --remote-write http://prometheus:9090/api/v1/write --containers localhost:9100`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			opts.ConfigTargets = f.ConfigTargets()
			if f.Config != nil {
				opts.ConfigSinks = f.Config.Sinks
			}
			opts.Ask.ConfigAlertmanagers = f.ConfigAlertmanagers()
			return opts.Ask.NagiosError(opts.IO.Out, run(cmd.Context(), f, opts, cmd.Flags().Changed("output") || cmd.Flags().Changed("format")))
		},
	}
	fl := cmd.Flags()
	opts.AddScrapeFlags(cmd)
	opts.AddDiscoverFlags(cmd, "--every, else 15s")
	fl.BoolVar(&opts.Containers, "containers", false, "push the containers of the Docker engine(s) (implied by --host and --context, unless they name the engines of --discover docker)")
	opts.AddEngineFlags(cmd)
	opts.AddContainerFlags(cmd, f, &opts.EngineFlags, "include stopped containers (info, state, restarts)", "f")
	// --concurrency is the targets': the engines' has a name of its own.
	opts.AddStatsFlags(cmd, "engine-concurrency")
	fl.StringSliceVar(&opts.ContainerLabels, "container-labels", nil, "container labels to push as container_label_<key> labels")
	opts.AddKubeFlags(cmd, "push", "")
	fl.StringArrayVar(&opts.Match, "match", nil, `push only the series that match this PromQL selector, e.g. 'node_cpu_seconds_total{mode="idle"}' (repeatable, OR'ed; matched on the series as the source exposes them; up and the scrape series always go)`)
	_ = cmd.RegisterFlagCompletionFunc("match", opts.CompleteMetrics)
	opts.addSinkFlags(cmd)
	fl.StringVar(&opts.Instance, "instance", "", "the instance label of the containers' series: the host a fleet view shows them under (default: this host's name; set it where that is a container's ID)")
	fl.StringVar(&opts.Job, "job", "monctl", "the job label of every series, as a Prometheus scrape gives it (and the Pushgateway job); a target in the config file may have its own")
	fl.BoolVar(&opts.HonorLabels, "honor-labels", false, "keep a target's own job and instance labels (Prometheus's honor_labels) instead of renaming them exported_job and exported_instance")
	fl.StringArrayVar(&opts.Grouping, "grouping", nil, "Pushgateway grouping label KEY=VALUE (repeatable)")
	fl.StringVar(&opts.Method, "method", "put", "Pushgateway method: put (replace the group), post (replace families of the same name), delete (remove the group)")
	fl.StringVar(&opts.InfluxTokenFile, "influx-token-file", "", "file holding an InfluxDB 2.x token (Authorization: Token ...)")
	fl.StringVar(&opts.QueueDir, "queue-dir", cmdutil.StateDir("queue"), "the spool of what sinks did not take ('' to keep nothing)")
	fl.StringVar(&opts.QueueSize, "queue-size", "256MiB", "most bytes spooled per sink; past it the oldest go, counted as dropped")
	cmdutil.DurationVar(fl, &opts.Every, "every", 0, "push every DURATION, with jitter, until interrupted (0: once)")
	fl.StringArrayVar(&opts.ListenAddresses, "web.listen-address", nil, "with --every, serve the monctl_push_* metrics on /metrics at this address (e.g. 127.0.0.1:19101; repeatable, as serve's)")
	fl.IntVar(&opts.Retries, "retries", 3, "times a request is tried again after no answer, a 5xx or a 429")
	cmdutil.DurationVar(fl, &opts.PushTimeout, "push-timeout", 30*time.Second, "time limit of one request to a sink")
	cmdutil.DurationVar(fl, &opts.FlushTimeout, "flush-timeout", 10*time.Second, "after SIGINT or SIGTERM, how long deliveries in flight may take before the rest is spooled")
	opts.Out.AddOutputFlags(cmd, "table", output.RowsShape|output.RecordsShape)
	opts.Ask.AddFlags(fl, "what each round pushed (with job and instance, and up and the scrape series per target)")
	_ = cmd.RegisterFlagCompletionFunc("method", cobra.FixedCompletions([]string{"put", "post", "delete"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func run(ctx context.Context, f *cmdutil.Factory, o *Options, report bool) error {
	sinks, err := o.sinks()
	if err != nil {
		return err
	}
	var p *output.Printer
	if report || o.Ask.Asking() {
		if p, err = o.Out.Printer(o.IO, o.Every > 0, push.Stats{}); err != nil {
			return err
		}
	}
	if o.Ask.Asking() {
		if err := o.Ask.Check(p); err != nil {
			return err
		}
		defer o.Ask.Close() // delivers the alerts found
	}
	switch {
	case o.Every < 0 || o.Retries < 0 || o.PushTimeout <= 0 || o.FlushTimeout < 0:
		return cmdutil.UsageError("--every, --retries and --flush-timeout cannot be negative, --push-timeout must be positive")
	case o.Every > 0 && o.Every < 100*time.Millisecond:
		return cmdutil.UsageError("--every %v is too short (at least 100ms)", o.Every)
	}
	size, err := exposition.ParseByteSize(o.QueueSize)
	switch {
	case err != nil:
		return cmdutil.UsageError("--queue-size: %v", err)
	case size == 0:
		return cmdutil.UsageError("--queue-size 0 would keep every batch: give a size, or --queue-dir '' to keep nothing")
	}
	d := &push.Deliverer{Retries: o.Retries, Backoff: 200 * time.Millisecond, MaxBackoff: 5 * time.Second,
		Log: func(msg string) { fmt.Fprintf(o.IO.ErrOut, "monctl: %s\n", msg) }}
	if o.QueueDir != "" {
		d.Spool = &push.Spool{Dir: o.QueueDir, Limit: int64(size)}
	}
	if len(o.ListenAddresses) > 0 && o.Every == 0 {
		return cmdutil.UsageError("--web.listen-address goes with --every: a single push is over before anyone scrapes it")
	}
	src, err := o.newGatherer(ctx, f)
	if err != nil {
		return err
	}
	defer src.close()
	if o.Ask.Asking() {
		src.store = o.Ask.NewStore()
	}
	var metrics *agentMetrics
	if len(o.ListenAddresses) > 0 {
		metrics = newAgentMetrics()
		for _, addr := range o.ListenAddresses {
			stop, err := metrics.serve(ctx, addr)
			if err != nil {
				return err
			}
			defer stop()
		}
	}

	total := map[string]*push.Stats{}
	// The agent's exit code is its rounds': 1 when none delivered or
	// spooled anything, 3 when some round fell short, else 0.
	reachedRounds, shortRounds := 0, 0
	fired := false // a check or an alert, in the last round
	for {
		roundStart := time.Now()
		// What was gathered goes out even when a signal came meanwhile:
		// deliver gives it --flush-timeout, then spools the rest.
		rctx, done := o.graceful(ctx)
		encoded, gathered := src.round(rctx, roundStart, sinks)
		// A DELETE needs nothing gathered: it removes the group.
		gathered = gathered || strings.EqualFold(o.Method, "delete")
		// A target that failed still has its up 0 and stale markers to
		// send, though nothing was gathered.
		stats := o.deliver(rctx, d, sinks, encoded, gathered || slices.ContainsFunc(encoded, func(e encoding) bool { return len(e.batches) > 0 }))
		done()
		for i := range stats {
			add(total, &stats[i])
		}
		if metrics != nil {
			metrics.observe(stats)
		}
		switch {
		case src.store != nil:
			if fired, err = o.Ask.Answer(ctx, p, src.store, roundStart, !gathered); err != nil {
				return err
			}
			if metrics != nil {
				metrics.setAlerts(o.Ask.AlertFamilies())
			}
		case p != nil:
			if err := p.Print(view(stats)); err != nil {
				return cmdutil.Failure(fmt.Errorf("writing output: %w", err))
			}
		}
		code := exitOf(stats, gathered, src.partial)
		if o.Every == 0 {
			o.summarize(stats)
			if fired && code != cmdutil.Silent {
				return cmdutil.CheckFailed
			}
			return code
		}
		if code != cmdutil.Silent {
			reachedRounds++
		}
		if code != nil {
			shortRounds++
		}
		if ctx.Err() != nil || !sleep(ctx, time.Until(roundStart.Add(o.Every))) {
			break
		}
	}
	var stats []push.Stats
	for _, s := range sinks {
		if st, ok := total[s.Name()]; ok {
			stats = append(stats, *st)
		}
	}
	o.summarize(stats)
	// Stopped by a signal after a flush: what was not delivered is in
	// the spool, and the summary said so. The rounds' code stands.
	switch {
	case reachedRounds == 0:
		return cmdutil.Graceful(cmdutil.Silent)
	case fired:
		return cmdutil.Graceful(cmdutil.CheckFailed)
	case shortRounds > 0:
		return cmdutil.Graceful(cmdutil.Partial)
	}
	return cmdutil.Graceful(nil)
}

// graceful is a round's context: a signal does not cut the round short,
// it gives scrapes and deliveries in flight --flush-timeout to finish;
// what is left then is spooled.
func (o *Options) graceful(ctx context.Context) (context.Context, func()) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(o.FlushTimeout, cancel) })
	return rctx, func() { stop(); cancel() }
}

// deliver hands each sink its batches, every sink at once, within the
// round's context.
func (o *Options) deliver(ctx context.Context, d *push.Deliverer, sinks []push.Sink, encoded []encoding, anything bool) []push.Stats {
	stats := make([]push.Stats, len(sinks))
	done := make(chan struct{})
	for i, s := range sinks {
		go func() {
			defer func() { done <- struct{}{} }()
			switch {
			case !anything:
				stats[i] = d.Deliver(ctx, s, nil) // the spool still goes out
			case encoded[i].err != nil:
				stats[i] = push.Stats{Sink: s.Name(), Errors: []string{encoded[i].err.Error()}}
			default:
				stats[i] = d.Deliver(ctx, s, encoded[i].batches)
			}
		}()
	}
	for range sinks {
		<-done
	}
	return stats
}

// summarize writes a line per sink on stderr.
func (o *Options) summarize(stats []push.Stats) {
	for _, s := range stats {
		fmt.Fprintf(o.IO.ErrOut, "monctl: %s: sent %s in %s (%d from the spool), %d retried, %d spooled, %d dropped\n",
			s.Sink, output.Count(s.Sent, "sample"), output.Count(s.Requests, "request"), s.FromPool, s.Retried, s.Spooled, s.Dropped)
		for _, e := range s.Errors {
			fmt.Fprintf(o.IO.ErrOut, "monctl: %s\n", e)
		}
	}
}

func add(total map[string]*push.Stats, s *push.Stats) {
	t := total[s.Sink]
	if t == nil {
		t = &push.Stats{Sink: s.Sink, Errors: []string{}}
		total[s.Sink] = t
	}
	t.Sent += s.Sent
	t.Requests += s.Requests
	t.Retried += s.Retried
	t.Spooled += s.Spooled
	t.Dropped += s.Dropped
	t.FromPool += s.FromPool
}

func allDelivered(stats []push.Stats) bool {
	for i := range stats {
		if !stats[i].Delivered() || stats[i].Spooled > 0 {
			return false
		}
	}
	return true
}

// exitOf is the exit code of one delivery: 0 all delivered; 3 some
// sinks or sources failed but the rest was delivered or spooled; 1
// nothing gathered, or nothing delivered or spooled anywhere.
func exitOf(stats []push.Stats, gathered, partial bool) error {
	if !gathered {
		return cmdutil.Silent
	}
	reached := false
	for i := range stats {
		// A DELETE carries no samples: a request taken without error
		// is its delivery.
		s := &stats[i]
		reached = reached || s.Sent+s.Spooled > 0 || s.Requests > 0 && len(s.Errors) == 0
	}
	switch {
	case !reached:
		return cmdutil.Silent
	case partial || !allDelivered(stats):
		return cmdutil.Partial
	}
	return nil
}

// sleep waits about d (±10%, so that a fleet started
// together does not push in step); false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	d = max(d, 0)
	jitter := time.Duration(rand.Int64N(int64(d)/5+1)) - d/10
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d + jitter):
		return true
	}
}

// view is a delivery's report: a row and a record per sink.
func view(stats []push.Stats) output.View {
	return output.View{
		Rows: func(f output.Format) ([]string, [][]string) {
			rows := make([][]string, len(stats))
			for i, s := range stats {
				rows[i] = []string{s.Sink, strconv.Itoa(s.Sent), strconv.Itoa(s.Requests), strconv.Itoa(s.FromPool),
					strconv.Itoa(s.Retried), strconv.Itoa(s.Spooled), strconv.Itoa(s.Dropped), strings.Join(s.Errors, "; ")}
			}
			if f == output.CSV { // the JSON record's names
				return []string{"sink", "sent_samples", "requests", "sent_from_spool_samples", "retried_requests", "spooled_samples", "dropped_samples", "errors"}, rows
			}
			return []string{"SINK", "SENT", "REQUESTS", "FROM SPOOL", "RETRIED", "SPOOLED", "DROPPED", "ERRORS"}, rows
		},
		Records: func() []any {
			out := make([]any, len(stats))
			for i := range stats {
				out[i] = stats[i]
			}
			return out
		},
	}
}

// gatherer collects the sources of one round.
type gatherer struct {
	o        *Options
	scrape   *scrapeLabeler
	hostname string // the instance of the containers' series
	watchers []*containers.Watcher
	engines  []*containers.Engine
	kube     *kube.Source // --kube
	scraper  *exposition.Scraper
	// targets are the targets of each round: discovery changes them.
	targets func() []exposition.Target
	// pushed are the targets of the last round, so that the series of
	// one no longer found get stale markers.
	pushed  map[string]bool
	labels  []string
	sel     *exposition.Selector // --match
	partial bool                 // a source failed in the last round
	// store, when set, gets what each round pushed, for --query,
	// --fail-if and --rules.
	store *query.Store
}

func (o *Options) newGatherer(ctx context.Context, f *cmdutil.Factory) (*gatherer, error) {
	g := &gatherer{o: o, labels: o.ContainerLabels, scrape: newScrapeLabeler(o.HonorLabels)}
	g.hostname = o.Instance
	if g.hostname == "" {
		g.hostname, _ = os.Hostname()
	}
	var err error
	if g.sel, err = exposition.NewSelector(o.Match, nil); err != nil {
		return nil, cmdutil.SelectorUsage(err)
	}
	discovering := o.Discovering(f)
	g.targets = func() []exposition.Target { return nil }
	if len(o.Args) > 0 || len(o.ConfigTargets) > 0 || discovering {
		if g.scraper, err = o.Scraper(o.IO.In); err != nil {
			return nil, err
		}
		// Targets are fetched --concurrency at once, but parsed and
		// encoded only as many at once as there are CPUs to do it:
		// more would hold more models in memory for no speed.
		g.scraper.Parsers = make(chan struct{}, runtime.GOMAXPROCS(0))
		static, err := o.Targets(o.Args, o.ConfigTargets, discovering)
		if err != nil {
			return nil, err
		}
		refresh := cmp.Or(o.Every, 15*time.Second)
		disc, err := o.Discovery(ctx, f, &o.EngineFlags, refresh, discovery.Scrape{Interval: refresh, Timeout: o.Timeout}, nil)
		if err != nil {
			return nil, err
		}
		if disc != nil {
			// The first round pushes what every mechanism found.
			if err := cmdutil.WaitSettled(ctx, disc, o.Timeout, o.IO.ErrOut); err != nil {
				return nil, err
			}
		}
		g.targets = o.TargetsNow(static, disc)
		for _, t := range static {
			if t.URL == "-" && o.Every > 0 {
				return nil, cmdutil.UsageError("--every pushes again and again, and standard input can be read only once")
			}
		}
	}
	// -H names the engines whose containers are pushed, or, with
	// --discover docker, those whose labelled containers are scraped.
	if o.Containers || (o.Named() && !slices.Contains(o.Discover, "docker")) {
		if err := o.StatsFlags.Check(); err != nil {
			return nil, err
		}
		filter, err := o.Filter()
		if err != nil {
			return nil, err
		}
		engines, errs := o.Connect(ctx, f, o.EngineConcurrency)
		g.engines = engines
		if len(errs) > 0 {
			g.close()
			return nil, cmdutil.Failure(errors.Join(errs...))
		}
		if g.watchers, err = o.Watchers(engines, containers.WatchOptions{All: o.All, Filter: filter, Totals: true}); err != nil {
			g.close()
			return nil, err
		}
	}
	src, errs, err := o.WatchKube(ctx)
	if err != nil {
		g.close()
		return nil, err
	}
	for _, e := range errs {
		fmt.Fprintf(o.IO.ErrOut, "monctl: %v\n", e)
	}
	g.kube = src
	if !discovering && len(o.Args)+len(o.ConfigTargets) == 0 && g.sources() == 0 && !strings.EqualFold(o.Method, "delete") {
		return nil, cmdutil.UsageError("push what? give targets (URL, host:port, FILE or -), --containers, --kube, --discover, or targets or scrape_configs in the config file")
	}
	return g, nil
}

// encoding is one sink's batches of a round, or why there are none.
type encoding struct {
	batches []push.Batch
	err     error
}

// round gathers the sources and encodes them for every sink. Each sink
// that can encode a family at a time (remote write) encodes each source
// as it is read, so that it never needs the model; only for the others
// are the sources kept whole, in the order they were given, and encoded
// at the end. A source that fails gets the stale markers of the series it
// sent last round, at sinks that send them.
func (g *gatherer) round(ctx context.Context, roundAt time.Time, sinks []push.Sink) ([]encoding, bool) {
	var streams, buffered []int // indexes into sinks
	for i, s := range sinks {
		if _, ok := s.(push.StreamSink); ok {
			streams = append(streams, i)
		} else {
			buffered = append(buffered, i)
		}
	}
	targets := g.targets()
	addTarget := len(targets)+g.sources() > 1
	out := make([]encoding, len(sinks))
	kept := make([]*exposition.Source, g.sources()+len(targets))
	var mu sync.Mutex
	gathered := false
	g.partial = false
	g.each(ctx, targets, func(i int, target string, at time.Time, read func(emit func(*exposition.Family) error) error, scraped func() []exposition.Family) {
		var sts []push.Stream
		var src *exposition.Source
		var asked *query.Store // what the questions see of this source
		start := func() {
			sts = make([]push.Stream, len(streams))
			for j, si := range streams {
				sts[j] = sinks[si].(push.StreamSink).NewStream(addTarget)
			}
			src = &exposition.Source{Target: target, Time: at}
			if g.store != nil {
				asked = g.o.Ask.NewStore()
			}
		}
		emit := func(f *exposition.Family) error {
			if len(buffered) > 0 {
				src.Families = append(src.Families, *f) // an emitted family is the reader's
			}
			if asked != nil {
				// At the round's time, so that a series the next round
				// has not goes stale then (query.Store.Ended).
				asked.Add(roundAt, []exposition.Family{*f})
			}
			for _, st := range sts {
				if err := st.Family(target, at, f); err != nil {
					return err
				}
			}
			return nil
		}
		start()
		err := read(emit)
		if err != nil && scraped != nil {
			// A target that failed is up 0 and nothing else: what it
			// sent before failing is dropped, and the streams mark its
			// other series stale.
			start()
		}
		if scraped != nil {
			for _, f := range scraped() {
				if ferr := emit(&f); ferr != nil && err == nil {
					err = ferr
				}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			fmt.Fprintf(g.o.IO.ErrOut, "monctl: %v%s\n", err, cmdutil.ScrapeHint(err))
			g.partial = true
			if scraped == nil {
				for i, s := range sinks {
					if ss, ok := s.(push.StaleSink); ok {
						out[i].batches = append(out[i].batches, ss.Gone(target, at)...)
					}
				}
				return
			}
		} else {
			gathered = true
		}
		if asked != nil {
			g.store.Merge(asked)
		}
		if len(buffered) > 0 {
			kept[i] = src
		}
		for j, st := range sts {
			out[streams[j]].batches = append(out[streams[j]].batches, st.Batches()...)
		}
	})
	// A target no longer found is gone as a failed one is: its series
	// get stale markers, at the sinks that send them.
	now := make(map[string]bool, len(targets))
	for i := range targets {
		now[targets[i].DisplayName()] = true
	}
	for name := range g.pushed {
		if !now[name] {
			for i, s := range sinks {
				if ss, ok := s.(push.StaleSink); ok {
					out[i].batches = append(out[i].batches, ss.Gone(name, time.Now())...)
				}
			}
		}
	}
	g.pushed = now
	if len(buffered) > 0 {
		var sources []exposition.Source
		for _, src := range kept {
			if src != nil {
				sources = append(sources, *src)
			}
		}
		for _, i := range buffered {
			out[i].batches, out[i].err = sinks[i].Encode(sources)
		}
	}
	return out, gathered
}

// each reads every source once, the containers of each engine then the
// targets (--concurrency at once): visit gets the source's place, name
// and time, read, which hands each family to emit as it comes, and, for
// a scrape target, scraped, which gives the series of the scrape itself
// once read has returned. Every family carries job and instance.
func (g *gatherer) each(ctx context.Context, targets []exposition.Target, visit func(i int, target string, at time.Time, read func(emit func(*exposition.Family) error) error, scraped func() []exposition.Family)) {
	for i, w := range g.watchers {
		visit(i, "containers:"+w.Engine().Host, time.Now(), func(emit func(*exposition.Family) error) error {
			snap, err := w.Sample(ctx)
			if err != nil {
				return err
			}
			return g.emitOwn(containers.Families(snap.Containers, g.labels), emit)
		}, nil)
	}
	if g.kube != nil {
		visit(len(g.watchers), "kubernetes:"+g.kube.Name(), time.Now(), func(emit func(*exposition.Family) error) error {
			all, err := g.kube.Families(ctx)
			if err != nil {
				// A watch that fails still has the objects it last saw:
				// they are pushed, not marked stale.
				fmt.Fprintf(g.o.IO.ErrOut, "monctl: %v (its last objects are pushed)\n", err)
				g.partial = true
			}
			return g.emitOwn(all, emit)
		}, nil)
	}
	var eg errgroup.Group
	eg.SetLimit(max(1, g.o.Concurrency))
	for i := range targets {
		t := &targets[i]
		job, instance := cmp.Or(t.Job, g.o.Job), t.Instance()
		eg.Go(func() error {
			var r exposition.Result
			round := g.scrape.startRound(t.DisplayName())
			visit(g.sources()+i, t.DisplayName(), time.Now(), func(emit func(*exposition.Family) error) error {
				r = g.scraper.ScrapeStream(ctx, t, nil, func(f *exposition.Family) error {
					// The scrape series count what the target exposed;
					// --match picks from it as exposed, before job and
					// instance are added.
					g.scrape.count(&round, f)
					if !g.sel.Empty() {
						kept := g.sel.Filter([]exposition.Family{*f})
						if len(kept) == 0 {
							return nil
						}
						f = &kept[0]
					}
					g.scrape.relabel(f, job, instance)
					return emit(f)
				})
				return r.Err
			}, func() []exposition.Family {
				return g.scrape.families(t.DisplayName(), job, instance, t.Labels, &r, &round)
			})
			return nil
		})
	}
	_ = eg.Wait() // visit reports each failure
}

// emitOwn emits the families --match keeps of a source of monctl's own
// (containers, Kubernetes objects), under --job and this host.
func (g *gatherer) emitOwn(all []exposition.Family, emit func(*exposition.Family) error) error {
	fams := g.sel.Filter(all)
	for i := range fams {
		g.scrape.relabel(&fams[i], g.o.Job, g.hostname)
		if err := emit(&fams[i]); err != nil {
			return err
		}
	}
	return nil
}

// sources counts what is gathered besides the targets: the engines'
// containers and the Kubernetes objects.
func (g *gatherer) sources() int {
	if g.kube != nil {
		return len(g.watchers) + 1
	}
	return len(g.watchers)
}

func (g *gatherer) close() {
	for _, w := range g.watchers {
		w.Close()
	}
	if g.kube != nil {
		for _, w := range g.kube.Watchers {
			w.Close()
		}
	}
	for _, e := range g.engines {
		e.Close()
	}
}
