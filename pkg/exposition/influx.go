package exposition

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
)

// EncodeInflux writes families as InfluxDB line protocol the way Telegraf's prometheus
// input does: the measurement is the metric name, labels are tags, a simple
// metric has one field "value" (counter, gauge...), a histogram has count,
// sum and one field per bucket bound, a summary count, sum and one field
// per quantile. Timestamps are nanoseconds: the exposed one, else the
// scrape time.
//
// The encoding is influxdata's own (line-protocol/v2), so escaping is the
// reference's. Empty tags are omitted, as InfluxDB rejects them; NaN and
// ±Inf fields, which line protocol cannot carry, are left out. A series
// line protocol cannot hold at all (a name starting with '#', which would
// be a comment, a name or tag ending in a backslash, control characters, a
// timestamp past 2262) is left out and said in the warnings.
func EncodeInflux(w io.Writer, fams []MergedFamily) ([]string, error) {
	var warns []string
	var enc lineprotocol.Encoder
	enc.SetPrecision(lineprotocol.Nanosecond)
	var skipped Warnings
	for i := range fams {
		f := &fams[i].Family
		for j := range f.Metrics {
			m := &f.Metrics[j]
			ts := fams[i].Times[j]
			if m.HasTimestamp {
				ts = time.UnixMilli(m.TimestampMs)
			}
			if err := influxLine(&enc, f, m, ts); err != nil {
				skipped.Add(fmt.Sprintf("%s%s left out: %v", f.Name, m.Labels, err))
				enc.ClearErr()
			}
		}
		if b := enc.Bytes(); len(b) > 64<<10 {
			if _, err := w.Write(b); err != nil {
				return warns, err
			}
			enc.Reset()
		}
	}
	_, err := w.Write(enc.Bytes())
	return append(warns, skipped.List...), err
}

// influxLine encodes one series; on error the encoder has dropped the line.
func influxLine(enc *lineprotocol.Encoder, f *Family, m *Metric, ts time.Time) error {
	type field struct {
		key string
		v   lineprotocol.Value
	}
	var fields []field
	add := func(key string, v float64) {
		if fv, ok := lineprotocol.FloatValue(v); ok {
			fields = append(fields, field{key, fv})
		}
	}
	switch {
	case f.Type.IsHistogram():
		add("count", m.Count)
		add("sum", m.Sum)
		for _, b := range m.Buckets {
			add(FormatFloat(b.UpperBound), b.Count)
		}
	case f.Type == Summary:
		add("count", m.Count)
		add("sum", m.Sum)
		for _, q := range m.Quantiles {
			add(FormatFloat(q.Quantile), q.Value)
		}
	default:
		add("value", m.Value)
	}
	if len(fields) == 0 {
		return nil // nothing line protocol can carry (NaN): no line
	}
	if strings.HasPrefix(f.Name, "#") {
		return fmt.Errorf("a measurement starting with # would be a comment")
	}
	enc.StartLine(f.Name)
	for _, l := range m.Labels { // sorted, as the encoder wants them
		if l.Value != "" {
			enc.AddTag(l.Name, l.Value)
		}
	}
	for _, fl := range fields {
		enc.AddField(fl.key, fl.v)
	}
	enc.EndLine(ts) // a time past 2262 is an error here
	return enc.Err()
}

// FormatFloat writes a number as the Prometheus text format does: the
// shortest form that reads back the same, and +Inf, -Inf, NaN.
func FormatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// FormatBound writes an le or quantile value as OpenMetrics spells it,
// and Prometheus stores it since 3.0: a float always (1.0, not 1), so
// that one bound is spelled one way.
func FormatBound(v float64) string {
	s := FormatFloat(v)
	if math.IsInf(v, 0) || math.IsNaN(v) || strings.ContainsAny(s, ".e") {
		return s
	}
	return s + ".0"
}
