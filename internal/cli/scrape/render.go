package scrape

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
)

// The quantiles shown for histograms and summaries.
var shownQuantiles = []float64{0.5, 0.9, 0.99}

type renderer struct {
	w, errw io.Writer
	format  output.Format
	tmpl    *output.Template
	term    output.Terminal
	multi   bool // more than one target: show which
	rate    bool // --rate was given
}

func (r *renderer) render(results []exposition.Result) error {
	if r.tmpl != nil {
		return r.tmpl.Execute(r.w, records(results))
	}
	switch r.format {
	case output.JSON:
		jw := output.NewJSONWriter(r.w, false)
		writeJSON(jw, results)
		jw.Newline()
		return jw.Flush()
	case output.YAML:
		var buf bytes.Buffer
		jw := output.NewJSONWriter(&buf, false)
		writeJSON(jw, results)
		if err := jw.Flush(); err != nil {
			return err
		}
		return output.JSONToYAML(r.w, buf.Bytes())
	case output.JSONL:
		return writeJSONL(r.w, results)
	case output.CSV:
		return r.csv(results)
	case output.Prom, output.OpenMetrics, output.Protobuf, output.Influx:
		var warnings []string
		var err error
		if r.format == output.Influx {
			warnings, err = output.WriteInflux(r.w, sources(results))
		} else {
			warnings, err = output.WriteExposition(r.w, sources(results), r.format)
		}
		for _, w := range warnings {
			fmt.Fprintf(r.errw, "monctl: warning: %s\n", w)
		}
		return err
	}
	return r.table(results, r.format == output.Wide)
}

func sources(results []exposition.Result) []output.Source {
	var out []output.Source
	for _, res := range results {
		if res.Err == nil {
			out = append(out, output.Source{Target: res.Target, Time: res.Start, Families: res.Families})
		}
	}
	return out
}

// labelText is the label set without braces: a="1", b="2".
func labelText(ls exposition.Labels) string {
	s := ls.String()
	return s[1 : len(s)-1]
}

// count writes a count: no unit, short on a terminal.
func (r *renderer) count(v float64) string {
	if r.term.IsTTY {
		return output.Short(v)
	}
	return output.Float(v)
}

func (r *renderer) num(f *exposition.Family, v float64) string {
	if r.term.IsTTY {
		return output.Human(f.Name, f.Unit, v)
	}
	return output.Float(v)
}

// estimate writes an estimated quantile: it is an approximation, so four
// significant digits say all it knows.
func (r *renderer) estimate(f *exposition.Family, v float64) string {
	if r.term.IsTTY {
		return output.Human(f.Name, f.Unit, v)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func (r *renderer) table(results []exposition.Result, wide bool) error {
	header := []string{"NAME", "LABELS", "TYPE", "VALUE"}
	if wide {
		header = []string{"NAME", "LABELS", "TYPE", "VALUE", "COUNT", "SUM", "P50", "P90", "P99", "TIMESTAMP"}
	}
	if r.rate {
		header = append(header, "RATE")
	}
	if r.multi {
		header = append([]string{"TARGET"}, header...)
	}
	var rows [][]string
	for _, res := range results {
		for fi := range res.Families {
			f := &res.Families[fi]
			for mi := range f.Metrics {
				m := &f.Metrics[mi]
				row := []string{f.Name, labelText(m.Labels), string(f.Type)}
				if r.multi {
					row = append([]string{res.Target}, row...)
				}
				agg := f.Type.IsHistogram() || f.Type == exposition.Summary
				if wide {
					cells := make([]string, 6)
					if agg {
						cells[0] = r.count(m.Count)
						cells[1] = r.num(f, m.Sum)
						for i, q := range shownQuantiles {
							cells[2+i] = r.estimate(f, m.EstimateQuantile(f.Type, q))
						}
					}
					value := ""
					if !agg {
						value = r.num(f, m.Value)
					}
					if m.HasTimestamp {
						cells[5] = strconv.FormatInt(m.TimestampMs, 10)
					}
					row = append(append(row, value), cells...)
				} else {
					row = append(row, r.value(f, m))
				}
				if r.rate {
					row = append(row, r.rateText(f, m))
				}
				rows = append(rows, row)
			}
		}
	}
	return output.WriteTable(r.w, r.term, header, rows)
}

// value is the VALUE cell: the value, or for histograms and summaries the
// count, sum and the shown quantiles.
func (r *renderer) value(f *exposition.Family, m *exposition.Metric) string {
	if !(f.Type.IsHistogram() || f.Type == exposition.Summary) {
		return r.num(f, m.Value)
	}
	var b strings.Builder
	b.WriteString("count=" + r.count(m.Count) + " sum=" + r.num(f, m.Sum))
	for _, q := range shownQuantiles {
		v := m.EstimateQuantile(f.Type, q)
		if math.IsNaN(v) {
			continue
		}
		fmt.Fprintf(&b, " p%s=%s", strconv.FormatFloat(q*100, 'f', -1, 64), r.estimate(f, v))
	}
	return b.String()
}

func (r *renderer) rateText(f *exposition.Family, m *exposition.Metric) string {
	if m.Rate == nil {
		return ""
	}
	reset := ""
	if m.Rate.Reset {
		reset = " (reset)"
	}
	if f.Type == exposition.Counter {
		return r.estimate(f, m.Rate.Value) + "/s" + reset
	}
	return "count " + r.estimate(&exposition.Family{}, m.Rate.Count) + "/s, sum " + r.estimate(f, m.Rate.Sum) + "/s" + reset
}

func (r *renderer) csv(results []exposition.Result) error {
	cw := csv.NewWriter(r.w)
	cw.Write([]string{"target", "name", "type", "labels", "value", "count", "sum", "p50", "p90", "p99", "rate", "timestamp_ms"})
	for _, res := range results {
		for fi := range res.Families {
			f := &res.Families[fi]
			for mi := range f.Metrics {
				m := &f.Metrics[mi]
				rec := []string{res.Target, f.Name, string(f.Type), labelText(m.Labels), "", "", "", "", "", "", "", ""}
				if f.Type.IsHistogram() || f.Type == exposition.Summary {
					rec[5], rec[6] = output.Float(m.Count), output.Float(m.Sum)
					for i, q := range shownQuantiles {
						rec[7+i] = output.Float(m.EstimateQuantile(f.Type, q))
					}
					if m.Rate != nil {
						rec[10] = output.Float(m.Rate.Count)
					}
				} else {
					rec[4] = output.Float(m.Value)
					if m.Rate != nil {
						rec[10] = output.Float(m.Rate.Value)
					}
				}
				if m.HasTimestamp {
					rec[11] = strconv.FormatInt(m.TimestampMs, 10)
				}
				if err := cw.Write(rec); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
