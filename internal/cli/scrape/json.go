package scrape

import (
	"strconv"

	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
)

// The JSON document of 'monctl scrape -o json' is an array with one object
// per target, always, so that scripts need not care how many there were:
//
//	[{"target", "url", "format", "content_type",
//	  "families": [{"name", "type", "help", "unit", "metrics": [...]}],
//	  "up", "error", "warnings", "series", "bytes", "scrape_duration_seconds"}]
//
// The families come before what is known only once they are all parsed,
// so that one large target can be streamed. Numbers are raw (seconds,
// bytes, counts); NaN and ±Inf are the strings "NaN", "+Inf", "-Inf".
// Field names are stable.
func writeJSON(jw *output.JSONWriter, results []exposition.Result) {
	jw.BeginArray()
	for i := range results {
		r := &results[i]
		writeTargetHead(jw, r)
		for fi := range r.Families {
			writeFamily(jw, &r.Families[fi])
		}
		writeTargetTail(jw, r)
	}
	jw.EndArray()
}

// writeTargetHead opens a target's object up to its families array.
func writeTargetHead(jw *output.JSONWriter, r *exposition.Result) {
	jw.BeginObject()
	jw.Key("target")
	jw.String(r.Target)
	jw.Key("url")
	jw.String(r.URL)
	jw.Key("format")
	if r.ContentType != "" {
		jw.String(r.Format.String())
	} else {
		jw.Null()
	}
	jw.Key("content_type")
	jw.String(r.ContentType)
	jw.Key("families")
	jw.BeginArray()
}

// writeTargetTail closes the families array and the target's object.
func writeTargetTail(jw *output.JSONWriter, r *exposition.Result) {
	jw.EndArray()
	jw.Key("up")
	jw.Bool(r.Up())
	jw.Key("error")
	if r.Err != nil {
		jw.String(r.Err.Error())
	} else {
		jw.Null()
	}
	jw.Key("warnings")
	jw.BeginArray()
	for _, w := range r.Warnings {
		jw.String(w)
	}
	jw.EndArray()
	jw.Key("series")
	jw.Int(int64(r.Series))
	jw.Key("bytes")
	jw.Int(r.Bytes)
	jw.Key("scrape_duration_seconds")
	jw.Float(r.Duration.Seconds())
	jw.EndObject()
}

func writeFamily(jw *output.JSONWriter, f *exposition.Family) {
	jw.BeginObject()
	jw.Key("name")
	jw.String(f.Name)
	jw.Key("type")
	jw.String(string(f.Type))
	jw.Key("help")
	jw.String(f.Help)
	jw.Key("unit")
	jw.String(f.Unit)
	jw.Key("metrics")
	jw.BeginArray()
	for mi := range f.Metrics {
		jw.BeginObject()
		writeMetricFields(jw, f, &f.Metrics[mi])
		jw.EndObject()
	}
	jw.EndArray()
	jw.EndObject()
}

func writeLabels(jw *output.JSONWriter, ls exposition.Labels) {
	jw.BeginObject()
	for _, l := range ls {
		jw.Key(l.Name)
		jw.String(l.Value)
	}
	jw.EndObject()
}

// writeMetricFields writes one metric's fields into an open object: labels,
// then value (simple types) or count, sum, buckets / quantiles and the
// estimated quantiles (histograms, summaries), then what is optional.
func writeMetricFields(jw *output.JSONWriter, f *exposition.Family, m *exposition.Metric) {
	jw.Key("labels")
	writeLabels(jw, m.Labels)
	if f.Type.HasQuantiles() {
		jw.Key("count")
		jw.Float(m.Count)
		jw.Key("sum")
		jw.Float(m.Sum)
		if f.Type.IsHistogram() {
			jw.Key("buckets")
			jw.BeginArray()
			for _, b := range m.Buckets {
				jw.BeginObject()
				jw.Key("le")
				jw.Float(b.UpperBound)
				jw.Key("count")
				jw.Float(b.Count)
				if b.Exemplar != nil {
					jw.Key("exemplar")
					writeExemplar(jw, b.Exemplar)
				}
				jw.EndObject()
			}
			jw.EndArray()
			if h := m.Native; h != nil {
				jw.Key("native")
				jw.BeginObject()
				jw.Key("schema")
				jw.Int(int64(h.Schema))
				jw.Key("zero_threshold")
				jw.Float(h.ZeroThreshold)
				jw.Key("zero_count")
				jw.Float(h.ZeroCount)
				jw.Key("buckets")
				jw.BeginArray()
				for it := h.AllBucketIterator(); it.Next(); {
					b := it.At()
					if b.Count == 0 {
						continue
					}
					jw.BeginObject()
					jw.Key("lower")
					jw.Float(b.Lower)
					jw.Key("upper")
					jw.Float(b.Upper)
					jw.Key("count")
					jw.Float(b.Count)
					jw.EndObject()
				}
				jw.EndArray()
				jw.EndObject()
			}
		} else {
			jw.Key("quantiles")
			jw.BeginArray()
			for _, q := range m.Quantiles {
				jw.BeginObject()
				jw.Key("quantile")
				jw.Float(q.Quantile)
				jw.Key("value")
				jw.Float(q.Value)
				jw.EndObject()
			}
			jw.EndArray()
		}
		jw.Key("estimates")
		jw.BeginObject()
		for _, q := range shownQuantiles {
			jw.Key(strconv.FormatFloat(q, 'f', -1, 64))
			jw.Float(m.EstimateQuantile(f.Type, q))
		}
		jw.EndObject()
	} else {
		jw.Key("value")
		jw.Float(m.Value)
	}
	if m.HasTimestamp {
		jw.Key("timestamp_ms")
		jw.Int(m.TimestampMs)
	}
	if m.Created != 0 {
		jw.Key("created")
		jw.Float(m.Created)
	}
	if len(m.Exemplars) > 0 {
		jw.Key("exemplars")
		jw.BeginArray()
		for i := range m.Exemplars {
			writeExemplar(jw, &m.Exemplars[i])
		}
		jw.EndArray()
	}
	if m.Rate != nil {
		jw.Key("rate")
		jw.BeginObject()
		if f.Type == exposition.Counter {
			jw.Key("value")
			jw.Float(m.Rate.Value)
		} else {
			jw.Key("count")
			jw.Float(m.Rate.Count)
			jw.Key("sum")
			jw.Float(m.Rate.Sum)
		}
		jw.Key("seconds")
		jw.Float(m.Rate.Seconds)
		jw.Key("reset")
		jw.Bool(m.Rate.Reset)
		jw.EndObject()
	}
}

func writeExemplar(jw *output.JSONWriter, e *exposition.Exemplar) {
	jw.BeginObject()
	jw.Key("labels")
	writeLabels(jw, e.Labels)
	jw.Key("value")
	jw.Float(e.Value)
	if e.HasTimestamp {
		jw.Key("timestamp_ms") // fractional: exemplars carry sub-millisecond times
		jw.Float(e.Timestamp * 1000)
	}
	jw.EndObject()
}

// The JSON lines of 'monctl scrape -o jsonl' are one object per metric,
// {"target", "name", "type", "labels", ...the metric's fields}, and for a
// failed target one object {"target", "up": false, "error"}, so that a
// stream tells failures too.

// writeFamilyLines writes one JSON line per metric of f.
func writeFamilyLines(jw *output.JSONWriter, target string, f *exposition.Family) {
	for mi := range f.Metrics {
		jw.BeginObject()
		jw.Key("target")
		jw.String(target)
		jw.Key("name")
		jw.String(f.Name)
		jw.Key("type")
		jw.String(string(f.Type))
		writeMetricFields(jw, f, &f.Metrics[mi])
		jw.EndObject()
		jw.Newline()
	}
}

// writeErrorLine writes the line of a failed target, if it failed.
func writeErrorLine(jw *output.JSONWriter, r *exposition.Result) {
	if r.Err == nil {
		return
	}
	jw.BeginObject()
	jw.Key("target")
	jw.String(r.Target)
	jw.Key("up")
	jw.Bool(false)
	jw.Key("error")
	jw.String(r.Err.Error())
	jw.EndObject()
	jw.Newline()
}

// Record is one metric as --format templates see it.
type Record struct {
	Target    string          `json:"target"`
	Name      string          `json:"name"`
	Type      string          `json:"type"`
	Help      string          `json:"help"`
	Unit      string          `json:"unit"`
	Labels    output.LabelMap `json:"labels"`
	Value     float64         `json:"value"`
	Count     float64         `json:"count"`
	Sum       float64         `json:"sum"`
	P50       float64         `json:"p50"`
	P90       float64         `json:"p90"`
	P99       float64         `json:"p99"`
	Rate      float64         `json:"rate"`
	Timestamp int64           `json:"timestamp_ms"`
}

func records(results []exposition.Result) []any {
	var out []any
	for _, res := range results {
		for fi := range res.Families {
			f := &res.Families[fi]
			for mi := range f.Metrics {
				m := &f.Metrics[mi]
				rec := Record{Target: res.Target, Name: f.Name, Type: string(f.Type), Help: f.Help, Unit: f.Unit,
					Labels: output.LabelMap{}, Value: m.Value, Count: m.Count, Sum: m.Sum, Timestamp: m.TimestampMs}
				for _, l := range m.Labels {
					rec.Labels[l.Name] = l.Value
				}
				if f.Type.HasQuantiles() {
					rec.P50 = m.EstimateQuantile(f.Type, 0.5)
					rec.P90 = m.EstimateQuantile(f.Type, 0.9)
					rec.P99 = m.EstimateQuantile(f.Type, 0.99)
				}
				if m.Rate != nil {
					rec.Rate = m.Rate.Value
					if f.Type != exposition.Counter {
						rec.Rate = m.Rate.Count
					}
				}
				out = append(out, rec)
			}
		}
	}
	return out
}
