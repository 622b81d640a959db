// Package scrape implements 'monctl scrape': fetch exporter endpoints, files
// or stdin, parse the exposition, filter it and print it.
package scrape

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/cli/ask"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/discovery"
	"github.com/monctl/monctl/pkg/exposition"
)

// Options of 'monctl scrape'.
type Options struct {
	IO cmdutil.IOStreams

	Args          []string
	ConfigTargets []exposition.Target

	cmdutil.ScrapeFlags
	cmdutil.DiscoverFlags
	cmdutil.EngineFlags

	factory *cmdutil.Factory

	Match   []string
	Types   []string
	Rate    time.Duration
	Lint    bool
	Analyze bool
	Top     int
	QueryFlags

	Out cmdutil.OutputFlags
}

// NewCmd builds 'monctl scrape'.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{IO: f.IO, factory: f}
	cmd := &cobra.Command{
		Use:   "scrape [URL|host:port|FILE|-]...",
		Short: "Fetch and parse Prometheus/OpenMetrics expositions, filter and print them",
		Long: `Fetch one or many exporter endpoints (concurrently), files, or standard
input; negotiate and parse the exposition (Prometheus text 0.0.4,
OpenMetrics 1.0, delimited protobuf with native histograms); filter by
name, labels and type; and print tables or JSON.

host:port means http://host:port/metrics. Without arguments the targets of
the config file are scraped. Histograms and summaries show count, sum and
p50/p90/p99 (estimated from buckets as PromQL's histogram_quantile does);
--rate scrapes twice and prints per-second rates of counters.

--query evaluates PromQL with Prometheus's own engine over what was
gathered, at the time of the last gathering: every series as Prometheus
stores it, plus up and scrape_duration_seconds of each target (with a
target label when there are several). -o json prints the data object of
Prometheus's /api/v1/query per --query, in an array. --fail-if is a check
with the meaning of an alerting rule: when its expression returns any
series they are printed (on stderr, or under "firing" in JSON) and monctl
exits 4. --window gathers --samples times over the window for range
functions; a range selector takes (t-range, t], so give a range longer
than the window (up to about twice it: rate(x[15s]) with --window 10s)
for the first sample to be in it.`,
		Example: `  monctl scrape localhost:9100
  monctl scrape --match 'node_cpu_seconds_total{mode="idle"}' localhost:9100
  monctl scrape -o json http://a:9100/metrics http://b:9100/metrics | jq '.[].up'
  curl -s localhost:9100/metrics | monctl scrape --type histogram -
  monctl scrape --rate 5s --match '{__name__=~"http_requests.*"}' app:8080
  monctl scrape app:8080 --query 'topk(5, count by (__name__)({__name__=~".+"}))'
  monctl scrape app:8080 --window 10s --fail-if 'up == 0' \
    --fail-if 'sum(rate(http_requests_total{code=~"5.."}[15s])) / sum(rate(http_requests_total[15s])) > 0.01'`,
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveDefault // files, or a URL typed by hand
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			opts.ConfigTargets = f.ConfigTargets()
			opts.ConfigAlertmanagers = f.ConfigAlertmanagers()
			return opts.NagiosError(opts.IO.Out, run(cmd.Context(), opts))
		},
	}
	fl := cmd.Flags()
	opts.AddScrapeFlags(cmd)
	opts.AddDiscoverFlags(cmd, "once: the first answer is used")
	opts.AddEngineFlags(cmd)
	fl.StringArrayVar(&opts.Match, "match", nil, `PromQL series selector, e.g. 'up{job="node"}' or '{__name__=~"go_.*"}' (repeatable, OR'ed)`)
	_ = cmd.RegisterFlagCompletionFunc("match", opts.CompleteMetrics)
	fl.StringSliceVar(&opts.Types, "type", nil, "only these types: counter|gauge|histogram|summary|untyped (and OpenMetrics' gaugehistogram|info|stateset)")
	cmdutil.DurationVar(fl, &opts.Rate, "rate", 0, "scrape twice, this far apart, and print per-second rates of counters")
	opts.addQueryFlags(fl)
	fl.BoolVar(&opts.Lint, "lint", false, "check the exposition with promlint's rules (those of 'promtool check metrics'); exit 4 when it finds problems")
	fl.BoolVar(&opts.Analyze, "analyze", false, "weigh the exposition: series and bytes per metric, the labels with the most values, totals")
	fl.IntVar(&opts.Top, "top", 10, "with --analyze, list the N heaviest metrics and labels (0: all)")
	for _, a := range []string{"lint", "analyze"} {
		for _, b := range []string{"query", "fail-if", "rate"} {
			cmd.MarkFlagsMutuallyExclusive(a, b)
		}
	}
	cmd.MarkFlagsMutuallyExclusive("lint", "analyze")
	opts.Out.AddOutputFlags(cmd, "table", output.AllShapes)
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{"counter", "gauge", "histogram", "summary", "untyped", "gaugehistogram", "info", "stateset"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// stream scrapes one target and writes each family as it is parsed, so
// that memory stays at the size of the body plus one family.
func (o *Options) stream(ctx context.Context, s *exposition.Scraper, t *exposition.Target, sel *exposition.Selector, format output.Format) error {
	jw := output.NewJSONWriter(o.IO.Out, false)
	if format == output.JSON {
		jw.BeginArray()
	}
	r := scrapeInto(ctx, s, t, sel, format, jw)
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if format == output.JSON {
		jw.EndArray()
		jw.Newline()
	}
	if err := jw.Flush(); err != nil {
		return cmdutil.Failure(fmt.Errorf("writing output: %w", err))
	}
	if !o.report(&r) {
		return cmdutil.Silent
	}
	return nil
}

// scrapeInto scrapes t and writes what -o json or jsonl says of it to jw
// as its families are parsed: the target's object, or its lines.
func scrapeInto(ctx context.Context, s *exposition.Scraper, t *exposition.Target, sel *exposition.Selector, format output.Format, jw *output.JSONWriter) exposition.Result {
	name := t.DisplayName()
	headWritten := false
	head := func(r *exposition.Result) {
		if format == output.JSON {
			writeTargetHead(jw, r)
		}
		headWritten = true
	}
	r := s.ScrapeStream(ctx, t, head, func(f *exposition.Family) error {
		for _, kept := range sel.Filter([]exposition.Family{*f}) {
			if format == output.JSON {
				writeFamily(jw, &kept)
			} else {
				writeFamilyLines(jw, name, &kept)
			}
		}
		return jw.Err()
	})
	if format == output.JSON {
		if !headWritten {
			head(&r)
		}
		writeTargetTail(jw, &r)
	} else {
		writeErrorLine(jw, &r)
	}
	return r
}

// report writes a result's error or warnings to stderr and says whether
// the target was up.
func (o *Options) report(r *exposition.Result) bool {
	if r.Err != nil {
		fmt.Fprintf(o.IO.ErrOut, "monctl: %v%s\n", r.Err, cmdutil.ScrapeHint(r.Err))
		return false
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(o.IO.ErrOut, "monctl: warning: %s: %s\n", r.Target, w)
	}
	return true
}

func run(ctx context.Context, o *Options) error {
	// A template that names a field records lack fails now, not after
	// every target was scraped.
	p, err := o.Out.Printer(o.IO, false, Record{Labels: output.LabelMap{}})
	if err != nil {
		return err
	}
	s, err := o.Scraper(o.IO.In)
	if err != nil {
		return err
	}
	sel, err := exposition.NewSelector(o.Match, o.Types)
	if err != nil {
		return cmdutil.SelectorUsage(err)
	}
	if o.Rate < 0 {
		return cmdutil.UsageError("--rate must be positive")
	}
	if err := o.CheckEngines(&o.EngineFlags); err != nil {
		return err
	}
	discovering := o.Discovering(o.factory)
	targets, err := o.Targets(o.Args, o.ConfigTargets, discovering)
	if err != nil {
		return err
	}
	if discovering {
		disc, err := o.Once(ctx, o.factory, &o.EngineFlags, o.Timeout, discovery.Scrape{Interval: max(o.Rate, o.Timeout), Timeout: o.Timeout})
		if err != nil {
			return err
		}
		targets = o.TargetsNow(targets, disc)()
		if len(targets) == 0 {
			return cmdutil.Failure(errors.New("nothing to scrape: discovery found no targets ('monctl targets' shows what it found and why none was kept)"))
		}
	}
	if o.Asking() {
		return o.runAsking(ctx, p, s, targets, sel)
	}
	if o.Lint {
		return o.runLint(ctx, p, s, targets, sel)
	}
	if o.Analyze {
		if o.Top < 0 {
			return cmdutil.UsageError("--top must be 0 or more")
		}
		return o.runAnalyze(ctx, p, s, targets, sel)
	}
	if o.Rate > 0 {
		for _, t := range targets {
			if t.URL == "-" {
				return cmdutil.UsageError("--rate needs two scrapes, and standard input can be read only once")
			}
		}
	}
	// JSON needs no model: each target is written as it is parsed.
	if o.Rate == 0 && p.Template == nil && (p.Format == output.JSON || p.Format == output.JSONL) {
		if len(targets) == 1 {
			return o.stream(ctx, s, &targets[0], sel, p.Format)
		}
		return o.streamAll(ctx, s, targets, sel, p.Format)
	}
	results := s.ScrapeAll(ctx, targets, o.Concurrency)
	if o.Rate > 0 && ctx.Err() == nil {
		first := results
		select {
		case <-time.After(o.Rate):
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		results = s.ScrapeAll(ctx, targets, o.Concurrency)
		for i := range results {
			if first[i].Err == nil && results[i].Err == nil {
				exposition.ApplyRates(first[i].Families, results[i].Families, results[i].Start.Sub(first[i].Start).Seconds())
			}
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	failed := 0
	for i := range results {
		r := &results[i]
		if !o.report(r) {
			failed++
			continue
		}
		r.Families = sel.Filter(r.Families)
	}
	// With nothing gathered only the formats that carry per-target errors
	// have something to say; an empty table would only look like success.
	carriesErrors := p.Template == nil && (p.Format == output.JSON || p.Format == output.JSONL || p.Format == output.YAML)
	if failed == len(results) && !carriesErrors {
		return cmdutil.Silent
	}
	r := &renderer{multi: len(targets) > 1, rate: o.Rate > 0}
	if err := p.Print(r.view(results)); err != nil {
		return cmdutil.Failure(fmt.Errorf("writing output: %w", err))
	}
	return outcome(failed, len(results))
}

// runAsking answers --query and --fail-if: the answers on stdout, failed
// targets and fired checks on stderr; a fired check exits 4.
func (o *Options) runAsking(ctx context.Context, p *output.Printer, s *exposition.Scraper, targets []exposition.Target, sel *exposition.Selector) error {
	if err := o.check(p, o.Rate, targets); err != nil {
		return err
	}
	defer o.Close() // delivers the alerts found
	store, results, err := o.gather(ctx, s, targets, sel)
	if err != nil {
		return err
	}
	failed := 0
	for i := range results {
		if !o.report(&results[i]) {
			failed++
		}
	}
	answers, err := o.Evaluate(ctx, store)
	if err != nil {
		return err
	}
	if failed == len(results) {
		answers.NothingGathered()
	}
	if err := ask.Print(p, o.IO.ErrOut, answers, o.Nagios); err != nil || o.Nagios {
		return err
	}
	return outcome(failed, len(results))
}

// outcome is how a run ends when failed of its total targets failed,
// each already reported: exit 1 when all did, 3 when some did.
func outcome(failed, total int) error {
	switch {
	case failed == total:
		return cmdutil.Silent
	case failed > 0:
		return cmdutil.Partial
	}
	return nil
}

// anys are xs as the records a view prints.
func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i := range xs {
		out[i] = xs[i]
	}
	return out
}
