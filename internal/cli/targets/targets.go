// Package targets implements 'monctl targets': what discovery finds, and
// what the relabel rules make of each target found, before anything is
// scraped.
package targets

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/buildinfo"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/discovery"
	"github.com/monctl/monctl/pkg/exposition"
)

// Options of 'monctl targets'.
type Options struct {
	IO cmdutil.IOStreams
	cmdutil.DiscoverFlags
	cmdutil.EngineFlags
	Timeout time.Duration
	// Series names a kept target whose series to explain.
	Series string
	Out    cmdutil.OutputFlags
}

// Record is one target found, as -o json gives it: the labels of
// Prometheus's /api/v1/targets (discoveredLabels, labels), and for one
// that was not kept the rule that dropped it or what was wrong.
type Record struct {
	Job              string            `json:"job"`
	Source           string            `json:"source"`
	State            string            `json:"state"`
	URL              string            `json:"url,omitempty"`
	DiscoveredLabels map[string]string `json:"discoveredLabels"`
	Labels           map[string]string `json:"labels"`
	DroppedBy        *Rule             `json:"droppedBy,omitempty"`
	Error            string            `json:"error,omitempty"`
}

// Rule names a relabel rule of a job: its number from 1, its action,
// and whether it is one of the default rules (not written by the user).
type Rule struct {
	Number  int    `json:"number"`
	Action  string `json:"action"`
	Default bool   `json:"default"`
}

// NewCmd builds 'monctl targets'.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "targets",
		Short: "List the targets discovery finds, and what the relabel rules made of each",
		Long: `List every target that discovery finds (--discover, and the config
file's scrape_configs), before anything is scraped: the labels it was
found with (the __meta_* labels of its mechanism), the labels the job's
relabel_configs gave it, and for a target that is not scraped, the rule
that dropped it or what is wrong with it.

A target is "kept" (scraped), "dropped" (by the rule named) or "invalid"
(kept by the rules but with no address, say). -o json gives
discoveredLabels and labels as Prometheus's /api/v1/targets does.

--series TARGET scrapes one kept target (by the name the TARGET column
shows, or its URL) and explains its series instead: each as scraped with
the target's labels, as served, and which metric_relabel_configs rules
changed or dropped it.`,
		Example: `  monctl targets --discover docker
  monctl targets --discover docker -o json | jq '.[] | select(.state == "dropped") | .discoveredLabels'
  monctl targets --discover file:'/etc/prometheus/targets/*.json'
  monctl targets --config monctl.yaml --series 127.0.0.1:9100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), f, opts)
		},
	}
	opts.AddDiscoverFlags(cmd, "once: the first answer is used")
	opts.AddEngineFlags(cmd)
	cmdutil.DurationVar(cmd.Flags(), &opts.Timeout, "timeout", 10*time.Second, "how long to wait for every discovery mechanism's first answer, and for the target of --series")
	cmd.Flags().StringVar(&opts.Series, "series", "", "explain what metric_relabel_configs do to the series of this kept target (its name or URL)")
	opts.Out.AddOutputFlags(cmd, "table", output.RowsShape|output.RecordsShape)
	return cmd
}

func run(ctx context.Context, f *cmdutil.Factory, o *Options) error {
	var example any = Record{}
	if o.Series != "" {
		example = exposition.SeriesTrace{}
	}
	p, err := o.Out.Printer(o.IO, false, example)
	if err != nil {
		return err
	}
	if err := o.CheckEngines(&o.EngineFlags); err != nil {
		return err
	}
	if !o.Discovering(f) {
		return cmdutil.UsageError("nothing to discover: give --discover, or scrape_configs in the config file")
	}
	if o.Timeout <= 0 {
		return cmdutil.UsageError("--timeout must be positive, got %s", o.Timeout)
	}
	disc, err := o.Once(ctx, f, &o.EngineFlags, o.Timeout, discovery.Scrape{Interval: o.Timeout, Timeout: o.Timeout})
	if err != nil {
		return err
	}
	if o.Series != "" {
		return o.explainSeries(ctx, p, disc)
	}
	recs := records(disc.Candidates())
	if err := p.Print(view(recs)); err != nil {
		return cmdutil.Failure(fmt.Errorf("writing output: %w", err))
	}
	if discovery.Failing(disc.Sources()) != "" {
		return cmdutil.Partial // said on stderr by Once
	}
	return nil
}

func records(cands []discovery.Candidate) []Record {
	out := make([]Record, 0, len(cands))
	for _, c := range cands {
		r := Record{Job: c.Job, Source: c.Source, DiscoveredLabels: c.Discovered.Map(), Labels: c.Labels.Map()}
		switch {
		case c.DroppedBy > 0:
			r.State = "dropped"
			r.DroppedBy = &Rule{Number: c.DroppedBy, Action: string(c.Rule.Action), Default: c.DefaultRule}
		case c.Err != nil:
			r.State, r.Error = "invalid", c.Err.Error()
		default:
			r.State, r.URL = "kept", c.Target.URL
		}
		out = append(out, r)
	}
	return out
}

func view(recs []Record) output.View {
	return output.View{
		Title: fmt.Sprintf("%s, %d kept", output.Count(len(recs), "target"), kept(recs)),
		Rows: func(output.Format) ([]string, [][]string) {
			rows := make([][]string, len(recs))
			for i, r := range recs {
				rows[i] = []string{r.Job, cmp.Or(r.Labels["instance"], r.DiscoveredLabels["__address__"]), r.State, why(&r), labelText(r.Labels), r.Source}
			}
			return []string{"JOB", "TARGET", "STATE", "URL OR WHY NOT", "LABELS", "SOURCE"}, rows
		},
		Records: func() []any {
			out := make([]any, len(recs))
			for i := range recs {
				out[i] = recs[i]
			}
			return out
		},
	}
}

func kept(recs []Record) int {
	n := 0
	for _, r := range recs {
		if r.State == "kept" {
			n++
		}
	}
	return n
}

// why is a kept target's URL, else why it is not scraped.
func why(r *Record) string {
	switch {
	case r.DroppedBy != nil:
		s := "dropped by rule " + strconv.Itoa(r.DroppedBy.Number) + " (" + r.DroppedBy.Action
		if r.DroppedBy.Default {
			s += ", a default rule"
		}
		return s + ")"
	case r.Error != "":
		return r.Error
	}
	return r.URL
}

// labelText is a target's labels but job and instance, which have
// columns of their own.
func labelText(m map[string]string) string {
	ls := labels.FromMap(m)
	var parts []string
	ls.Range(func(l labels.Label) {
		if l.Name != "job" && l.Name != "instance" {
			parts = append(parts, l.Name+"="+strconv.Quote(l.Value))
		}
	})
	return strings.Join(parts, ",")
}

// explainSeries scrapes the target --series names, without its
// metric_relabel_configs, and shows what they do to each series.
func (o *Options) explainSeries(ctx context.Context, p *output.Printer, disc *discovery.Discovery) error {
	var t *exposition.Target
	for _, c := range disc.Targets() {
		if c.Name == o.Series || c.URL == o.Series {
			t = &c
			break
		}
	}
	if t == nil {
		return cmdutil.UsageError("--series %q: no kept target of that name or URL ('monctl targets' lists them)", o.Series)
	}
	plain := *t
	plain.Labels, plain.MetricRelabel = nil, nil
	s := &exposition.Scraper{Timeout: o.Timeout, UserAgent: "monctl/" + buildinfo.Get().Version}
	r := s.Scrape(ctx, &plain)
	if r.Err != nil {
		return cmdutil.Failure(fmt.Errorf("%w%s", r.Err, cmdutil.ScrapeHint(r.Err)))
	}
	traces := t.TraceRelabel(r.Families)
	dropped, changed := 0, 0
	for _, tr := range traces {
		switch {
		case tr.DroppedBy > 0:
			dropped++
		case len(tr.ChangedBy) > 0:
			changed++
		}
	}
	v := output.View{
		Title: fmt.Sprintf("%s: %s, %d dropped, %d changed by metric_relabel_configs (%s)", t.Name,
			strconv.Itoa(len(traces))+" series", dropped, changed, output.Count(len(t.MetricRelabel), "rule")),
		Rows: func(output.Format) ([]string, [][]string) {
			rows := make([][]string, len(traces))
			for i, tr := range traces {
				result, rules := tr.After, ""
				if tr.DroppedBy > 0 {
					result = "dropped by rule " + strconv.Itoa(tr.DroppedBy) + " (" + string(t.MetricRelabel[tr.DroppedBy-1].Action) + ")"
				} else if tr.After == tr.Before {
					result = "unchanged"
				}
				for j, n := range tr.ChangedBy {
					if j > 0 {
						rules += ","
					}
					rules += strconv.Itoa(n)
				}
				rows[i] = []string{tr.Before, result, rules}
			}
			return []string{"SERIES AS SCRAPED", "AS SERVED", "CHANGED BY"}, rows
		},
		Records: func() []any {
			out := make([]any, len(traces))
			for i := range traces {
				out[i] = traces[i]
			}
			return out
		},
	}
	if err := p.Print(v); err != nil {
		return cmdutil.Failure(fmt.Errorf("writing output: %w", err))
	}
	return nil
}
