package scrape

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/histogram"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
)

// analysis is what one target exposes, for the people who run the
// exporter: where its series go, which labels multiply them.
type analysis struct {
	Target   string         `json:"target"`
	Families int            `json:"families"`
	Series   int            `json:"series"`
	Bytes    int64          `json:"bytes"`
	Metrics  []metricWeight `json:"metrics"`
	Labels   []labelWeight  `json:"labels"`
}

// metricWeight is one family: the series Prometheus would store for it
// (every bucket, quantile, _sum and _count is one) and its size in the
// text format.
type metricWeight struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Series int      `json:"series"`
	Share  float64  `json:"share"`
	Bytes  int64    `json:"bytes"`
	Labels []string `json:"labels"`
}

// labelWeight is one label name: how many distinct values it has, on
// how many series, in how many metrics.
type labelWeight struct {
	Name    string `json:"name"`
	Values  int    `json:"values"`
	Series  int    `json:"series"`
	Metrics int    `json:"metrics"`
}

// countingWriter counts what is written to it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(b []byte) (int, error) { c.n += int64(len(b)); return len(b), nil }

// analyzer weighs a target's families one at a time, so that a large
// exposition is weighed as it is parsed, never held whole.
type analyzer struct {
	a      analysis
	labels map[string]*labelSeen
}

type labelSeen struct {
	values  map[string]struct{}
	series  int
	metrics int
}

func newAnalyzer(target string) *analyzer {
	return &analyzer{a: analysis{Target: target}, labels: map[string]*labelSeen{}}
}

// add weighs one family: its series as Prometheus stores them, its bytes
// in the text format, its labels' values.
func (z *analyzer) add(f *exposition.Family) {
	var cw countingWriter
	output.WriteExposition(&cw, []output.Source{{Families: []exposition.Family{*f}}}, output.Prom)
	mw := metricWeight{Name: f.Name, Type: string(f.Type), Bytes: cw.n}
	names := map[string]struct{}{}
	for j := range f.Metrics {
		m := &f.Metrics[j]
		n := 0
		f.StoredSeries(m, func(string, exposition.Label, float64, *histogram.FloatHistogram) { n++ })
		mw.Series += n
		for _, l := range m.Labels {
			ls := z.labels[l.Name]
			if ls == nil {
				ls = &labelSeen{values: map[string]struct{}{}}
				z.labels[l.Name] = ls
			}
			if _, ok := ls.values[l.Value]; !ok {
				// The value may point into the body being parsed.
				ls.values[strings.Clone(l.Value)] = struct{}{}
			}
			ls.series += n
			if _, ok := names[l.Name]; !ok {
				names[l.Name] = struct{}{}
				ls.metrics++
			}
		}
	}
	for n := range names {
		mw.Labels = append(mw.Labels, n)
	}
	slices.Sort(mw.Labels)
	z.a.Families++
	z.a.Series += mw.Series
	z.a.Bytes += mw.Bytes
	z.a.Metrics = append(z.a.Metrics, mw)
}

// result is the analysis, the heaviest first; top bounds the metrics and
// labels listed (0: all), the totals count everything.
func (z *analyzer) result(top int) analysis {
	a := z.a
	for i := range a.Metrics {
		a.Metrics[i].Share = float64(a.Metrics[i].Series) / float64(max(a.Series, 1))
	}
	slices.SortStableFunc(a.Metrics, func(x, y metricWeight) int {
		return cmp.Or(cmp.Compare(y.Series, x.Series), cmp.Compare(y.Bytes, x.Bytes), strings.Compare(x.Name, y.Name))
	})
	for name, ls := range z.labels {
		a.Labels = append(a.Labels, labelWeight{Name: name, Values: len(ls.values), Series: ls.series, Metrics: ls.metrics})
	}
	slices.SortFunc(a.Labels, func(x, y labelWeight) int {
		return cmp.Or(cmp.Compare(y.Values, x.Values), cmp.Compare(y.Series, x.Series), strings.Compare(x.Name, y.Name))
	})
	if top > 0 {
		a.Metrics = a.Metrics[:min(top, len(a.Metrics))]
		a.Labels = a.Labels[:min(top, len(a.Labels))]
	}
	return a
}

// runAnalyze weighs every target's exposition (after --match and
// --type): series per metric, the labels with the most values, bytes.
func (o *Options) runAnalyze(ctx context.Context, p *output.Printer, s *exposition.Scraper, targets []exposition.Target, sel *exposition.Selector) error {
	zs := make([]*analyzer, len(targets))
	for i := range zs {
		zs[i] = newAnalyzer(targets[i].DisplayName())
	}
	results := s.StreamAll(ctx, targets, o.Concurrency, func(i int, _ time.Time, f *exposition.Family) error {
		for _, kept := range sel.Filter([]exposition.Family{*f}) {
			zs[i].add(&kept)
		}
		return nil
	})
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var as []analysis
	failed := 0
	for i := range results {
		if !o.report(&results[i]) {
			failed++
			continue
		}
		as = append(as, zs[i].result(o.Top))
	}
	err := p.Print(output.View{
		Text: func(w io.Writer) error { return writeAnalyses(w, p.Term, as) },
		Rows: func(output.Format) ([]string, [][]string) {
			header := []string{"target", "kind", "name", "type", "series", "share", "bytes", "values", "metrics", "labels"}
			var rows [][]string
			for _, a := range as {
				for _, m := range a.Metrics {
					rows = append(rows, []string{a.Target, "metric", m.Name, m.Type, strconv.Itoa(m.Series), output.Float(m.Share), strconv.FormatInt(m.Bytes, 10), "", "", strings.Join(m.Labels, " ")})
				}
				for _, l := range a.Labels {
					rows = append(rows, []string{a.Target, "label", l.Name, "", strconv.Itoa(l.Series), "", "", strconv.Itoa(l.Values), strconv.Itoa(l.Metrics), ""})
				}
			}
			return header, rows
		},
		Records: func() []any { return anys(as) },
	})
	if err != nil {
		return cmdutil.Failure(fmt.Errorf("writing output: %w", err))
	}
	return outcome(failed, len(results))
}

// writeAnalyses writes, per target, its totals, then its heaviest metrics
// and its labels with the most values, for people.
func writeAnalyses(w io.Writer, term output.Terminal, as []analysis) error {
	for i, a := range as {
		if i > 0 {
			io.WriteString(w, "\n")
		}
		fmt.Fprintf(w, "# %s: %d series in %d metrics, %s in the text format\n", output.Escape(a.Target), a.Series, a.Families, output.Bytes(float64(a.Bytes)))
		rows := make([][]string, len(a.Metrics))
		for j, m := range a.Metrics {
			rows[j] = []string{m.Name, m.Type, strconv.Itoa(m.Series), strconv.FormatFloat(m.Share*100, 'f', 1, 64) + "%", output.Bytes(float64(m.Bytes)), strings.Join(m.Labels, ",")}
		}
		if err := output.WriteTable(w, term, []string{"METRIC", "TYPE", "SERIES", "SHARE", "BYTES", "LABELS"}, rows); err != nil {
			return err
		}
		io.WriteString(w, "\n")
		rows = make([][]string, len(a.Labels))
		for j, l := range a.Labels {
			rows[j] = []string{l.Name, strconv.Itoa(l.Values), strconv.Itoa(l.Series), strconv.Itoa(l.Metrics)}
		}
		if err := output.WriteTable(w, term, []string{"LABEL", "VALUES", "SERIES", "METRICS"}, rows); err != nil {
			return err
		}
	}
	return nil
}
