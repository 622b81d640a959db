// Package targets implements 'monctl watch targets': exporter endpoints
// scraped every interval, one row per target (up, last error, scrape
// duration, bytes, series and their change) and, with --match, a row per
// matching series under it (value, rate and trend, histogram quantiles of
// the interval).
package targets

import (
	"cmp"
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/cli/ask"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/cli/watch/live"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/discovery"
	"github.com/monctl/monctl/pkg/exposition"
)

// Options of 'monctl watch targets'.
type Options struct {
	IO cmdutil.IOStreams
	live.Flags
	cmdutil.ScrapeFlags
	cmdutil.DiscoverFlags
	cmdutil.EngineFlags

	factory *cmdutil.Factory

	Args          []string
	ConfigTargets []exposition.Target
	Match         []string

	Out cmdutil.OutputFlags
	// Ask holds --query, --fail-if and --rules, over what each interval
	// scraped (with up and scrape_duration_seconds per target).
	Ask ask.Flags

	table *live.Table[Row]
}

// NewCmd builds 'monctl watch targets'.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{IO: f.IO}
	cmd := &cobra.Command{
		Use:     "targets [URL|host:port]...",
		Aliases: []string{"target"},
		Short:   "Live health of exporter endpoints: up, errors, scrape time, series",
		Long: `Scrape exporter endpoints every interval and show one row per target: UP,
LAST ERROR, SCRAPE DURATION, BYTES, SERIES and the change in series since
the scrape before. Without arguments the targets of the config file are
watched, with their http_config.

--match SELECTOR adds a row per matching series under its target: its
VALUE; for counters the per-second RATE and a TREND of the rates over the
last minute; for histograms P50, P90 and P99 of what was observed during
the last interval (summaries show their own quantiles).

On a terminal the view is redrawn in place; keys: u up, d duration,
b bytes, s series, c change, n name (sort), r reverse, q quit. Elsewhere
one record is printed per interval: a table with a time line, a JSON
array (-o json) or one JSON object per target (-o jsonl). --once prints
one snapshot, taken from two scrapes one interval apart, so rates are
real.`,
		Example: `  monctl watch targets localhost:9100 localhost:9090
  monctl watch targets --match 'node_network_receive_bytes_total{device="lo"}' localhost:9100
  monctl watch targets --match prometheus_http_request_duration_seconds_bucket localhost:9090
  monctl watch targets -o jsonl --interval 30 >> targets.jsonl
  monctl watch targets --rules exporters.rules.yml --alertmanager http://localhost:9093 localhost:9100`,
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			opts.ConfigTargets = f.ConfigTargets()
			opts.factory = f
			opts.Ask.ConfigAlertmanagers = f.ConfigAlertmanagers()
			return opts.Ask.NagiosError(opts.IO.Out, run(cmd.Context(), opts))
		},
	}
	opts.Flags.AddFlags(cmd, newTable(false).SortNames(), "name")
	opts.AddScrapeFlags(cmd)
	opts.AddDiscoverFlags(cmd, "--interval")
	opts.AddEngineFlags(cmd)
	cmd.Flags().StringArrayVar(&opts.Match, "match", nil, `PromQL series selector whose series to show under their target (repeatable, OR'ed)`)
	_ = cmd.RegisterFlagCompletionFunc("match", opts.CompleteMetrics)
	opts.Out.AddOutputFlags(cmd, "table", output.RowsShape|output.RecordsShape)
	opts.Ask.AddFlags(cmd.Flags(), "what each interval scraped (with up and scrape_duration_seconds per target)")
	return cmd
}

func run(ctx context.Context, o *Options) error {
	if err := o.Flags.Validate(); err != nil {
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
	s, err := o.Scraper(nil)
	if err != nil {
		return err
	}
	sel, err := exposition.NewSelector(o.Match, nil)
	if err != nil {
		return cmdutil.SelectorUsage(err)
	}
	if err := o.CheckEngines(&o.EngineFlags); err != nil {
		return err
	}
	targets, err := o.Targets(o.Args, o.ConfigTargets, o.Discovering(o.factory))
	if err != nil {
		return err
	}
	for _, t := range targets {
		if t.URL == "-" {
			return cmdutil.UsageError("standard input cannot be watched: it can be read only once")
		}
	}
	disc, err := o.Discovery(ctx, o.factory, &o.EngineFlags, o.Interval, discovery.Scrape{Interval: o.Interval, Timeout: o.Timeout}, nil)
	if err != nil {
		return err
	}
	o.table = newTable(len(o.Match) > 0)
	smp := newSampler(s, o.TargetsNow(targets, disc), disc, o.Concurrency, sel, o.Interval)
	if o.Ask.Asking() {
		smp.store = o.Ask.NewStore()
	}
	down := map[string]bool{} // targets reported down, to say so once
	anyDown, fired := false, false
	// What was said of discovery: the targets found, and whether it fails.
	var found map[string]bool
	failing := ""
	lastRows := 0
	res := live.Resource[Row, *frame]{
		Name: "targets", Table: o.table, Sample: smp.sample, Screen: screenFrame,
		Print: func(fr *frame) error {
			if disc != nil {
				found = o.sayFound(found, fr.rows)
				if fr.discovery != failing {
					failing = fr.discovery
					fmt.Fprintf(o.IO.ErrOut, "monctl: %s\n", cmp.Or(failing, "discovery works again"))
				}
			}
			for i := range fr.rows {
				r := &fr.rows[i]
				switch {
				case !r.Up && !down[r.Target]:
					fmt.Fprintf(o.IO.ErrOut, "monctl: %s%s\n", r.Error, cmdutil.ScrapeHint(r.err))
					down[r.Target], anyDown = true, true
				case r.Up && down[r.Target]:
					fmt.Fprintf(o.IO.ErrOut, "monctl: %s is back\n", r.Target)
					delete(down, r.Target)
				}
			}
			lastRows = len(fr.rows)
			if o.Ask.Asking() {
				var err error
				fired, err = o.Ask.Answer(ctx, p, smp.store, fr.time, len(down) == len(fr.rows))
				return err
			}
			fr.rows = o.table.Arrange(fr.rows, o.Sort, false, o.Top)
			if err := p.Print(o.view(fr)); err != nil {
				return fmt.Errorf("writing output: %w", err)
			}
			return nil
		},
		Done: func() error {
			switch {
			case fired:
				return cmdutil.CheckFailed
			case len(down) > 0 && len(down) == lastRows:
				return cmdutil.Silent // every target is down at the end, and said so
			case anyDown:
				return cmdutil.Partial
			}
			return nil
		},
	}
	if o.Ask.Asking() {
		res.Screen = nil // answers are printed, never drawn
	}
	return live.Run(ctx, o.IO, &o.Flags, p, res)
}

// sayFound tells stderr of the targets discovery found and lost since
// the last interval (before: nil at the first, which says nothing: the
// records list them all).
func (o *Options) sayFound(before map[string]bool, rows []Row) map[string]bool {
	now := make(map[string]bool, len(rows))
	for i := range rows {
		now[rows[i].Target] = true
		if before != nil && !before[rows[i].Target] {
			fmt.Fprintf(o.IO.ErrOut, "monctl: %s: discovered\n", rows[i].Target)
		}
	}
	for t := range before {
		if !now[t] {
			fmt.Fprintf(o.IO.ErrOut, "monctl: %s: gone (no longer discovered)\n", t)
		}
	}
	return now
}

// view is one interval: a table after a time line, or one record per
// target.
func (o *Options) view(fr *frame) output.View {
	up := 0
	for i := range fr.rows {
		if fr.rows[i].Up {
			up++
		}
	}
	return output.View{
		Title: live.TimeLine(fr.time, output.Count(len(fr.rows), "target")+", "+strconv.Itoa(up)+" up"),
		Rows:  o.table.IntervalRows(fr.time, fr.rows),
		Records: func() []any {
			recs := make([]any, len(fr.rows))
			for i := range fr.rows {
				recs[i] = record(fr.time, &fr.rows[i])
			}
			return recs
		},
	}
}

// screenFrame is a frame for the live view: how many targets are up, and
// a banner per target that is down.
func screenFrame(fr *frame) *live.Frame[Row] {
	up := 0
	var banners []string
	if fr.discovery != "" {
		banners = append(banners, fr.discovery)
	}
	for i := range fr.rows {
		if fr.rows[i].Up {
			up++
		} else {
			banners = append(banners, fr.rows[i].Error)
		}
	}
	return &live.Frame[Row]{Items: fr.rows, Banners: banners,
		Head: fmt.Sprintf("%s · %d up · %d series · %s", output.Count(len(fr.rows), "target"), up, fr.series, fr.time.Format("15:04:05"))}
}
