package scrape

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
)

// The quantiles shown for histograms and summaries.
var shownQuantiles = []float64{0.5, 0.9, 0.99}

// renderer makes the table: for people, piped or not (units, short
// numbers); csv and the other formats carry the exact numbers.
type renderer struct {
	multi bool // more than one target: show which
	rate  bool // --rate was given
}

// view is the scrape results in every shape.
func (r *renderer) view(results []exposition.Result) output.View {
	return output.View{
		Rows: func(f output.Format) ([]string, [][]string) {
			if f == output.CSV {
				return csvRows(results)
			}
			return r.table(results, f == output.Wide)
		},
		Records:  func() []any { return records(results) },
		Document: func(jw *output.JSONWriter) { writeJSON(jw, results) },
		Lines: func(jw *output.JSONWriter) {
			for i := range results {
				res := &results[i]
				for fi := range res.Families {
					writeFamilyLines(jw, res.Target, &res.Families[fi])
				}
				writeErrorLine(jw, res)
			}
		},
		Families: func() []output.Source { return sources(results) },
	}
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

// count writes a count: no unit, short on a terminal.
func (r *renderer) count(v float64) string { return output.Short(v) }

func (r *renderer) num(f *exposition.Family, v float64) string {
	return output.Human(f.Name, f.Unit, v)
}

// estimate writes an estimated quantile: it is an approximation, so four
// significant digits say all it knows.
func (r *renderer) estimate(f *exposition.Family, v float64) string {
	return output.Human(f.Name, f.Unit, v)
}

func (r *renderer) table(results []exposition.Result, wide bool) ([]string, [][]string) {
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
				row := []string{f.Name, m.Labels.Text(), string(f.Type)}
				if r.multi {
					row = append([]string{res.Target}, row...)
				}
				agg := f.Type.HasQuantiles()
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
	return header, rows
}

// value is the VALUE cell: the value, or for histograms and summaries the
// count, sum and the shown quantiles.
func (r *renderer) value(f *exposition.Family, m *exposition.Metric) string {
	if !f.Type.HasQuantiles() {
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

// csvRows are one record per metric with every number exact, in columns
// that do not depend on the flags.
func csvRows(results []exposition.Result) ([]string, [][]string) {
	header := []string{"target", "name", "type", "labels", "value", "count", "sum", "p50", "p90", "p99", "rate", "timestamp_ms"}
	var rows [][]string
	for _, res := range results {
		for fi := range res.Families {
			f := &res.Families[fi]
			for mi := range f.Metrics {
				m := &f.Metrics[mi]
				rec := []string{res.Target, f.Name, string(f.Type), m.Labels.Text(), "", "", "", "", "", "", "", ""}
				if f.Type.HasQuantiles() {
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
				rows = append(rows, rec)
			}
		}
	}
	return header, rows
}
