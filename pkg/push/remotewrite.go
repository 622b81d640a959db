package push

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/monctl/monctl/pkg/exposition"
)

// maxSeriesPerRequest is how many series one remote-write request
// carries, Prometheus's own max_samples_per_send.
const maxSeriesPerRequest = 2000

// RemoteWrite writes to a Prometheus remote-write 1.0 receiver
// (https://prometheus.io/docs/specs/prw/remote_write_spec/): Prometheus
// with --web.enable-remote-write-receiver, VictoriaMetrics, Mimir,
// Thanos Receive, Cortex.
type RemoteWrite struct {
	*endpoint
}

// NewRemoteWrite is a sink for the full write URL e.URL
// (http://host:9090/api/v1/write).
func NewRemoteWrite(e Endpoint) (*RemoteWrite, error) {
	ep, err := e.open("remote-write")
	if err != nil {
		return nil, err
	}
	return &RemoteWrite{endpoint: ep}, nil
}

// Name says which sink.
func (r *RemoteWrite) Name() string { return r.name }

// ID is this receiver's spool directory.
func (r *RemoteWrite) ID() string { return r.id("remote-write") }

// Encode lays the sources out as the spec says, in batches of at most
// maxSeriesPerRequest series, each a snappy-compressed WriteRequest.
// Every sample carries its scrape time (the exposed timestamp when there
// was one). Classic histograms and summaries become their _bucket (le),
// quantile, _sum and _count (_gcount, _gsum) series, native histograms
// histogram samples. Each series stands on its own in remote write, so
// the sources are encoded as they are, without merging their families.
func (r *RemoteWrite) Encode(sources []exposition.Source) ([]Batch, error) {
	var batches []Batch
	var series []prompb.TimeSeries
	flush := func() error {
		if len(series) == 0 {
			return nil
		}
		raw, err := (&prompb.WriteRequest{Timeseries: series}).Marshal()
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		batches = append(batches, Batch{Body: snappy.Encode(nil, raw), Samples: len(series)})
		series = series[:0]
		return nil
	}
	addTarget := len(sources) > 1
	for _, src := range sources {
		for i := range src.Families {
			f := &src.Families[i]
			name, _ := f.ExposedAs()
			for j := range f.Metrics {
				m := &f.Metrics[j]
				ts := src.Time.UnixMilli()
				if m.HasTimestamp {
					ts = m.TimestampMs
				}
				ls := m.Labels
				if addTarget {
					ls = exposition.WithTargetLabel(ls, exposition.TargetLabel, src.Target)
				}
				series = appendSeries(series, f, name, m, ls, ts)
				if len(series) >= maxSeriesPerRequest {
					if err := flush(); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	return batches, flush()
}

// appendSeries appends the series one metric is stored as.
func appendSeries(out []prompb.TimeSeries, f *exposition.Family, name string, m *exposition.Metric, ls exposition.Labels, ts int64) []prompb.TimeSeries {
	sample := func(suffix string, v float64, extra ...prompb.Label) {
		out = append(out, prompb.TimeSeries{Labels: seriesLabels(name+suffix, ls, extra...), Samples: []prompb.Sample{{Value: v, Timestamp: ts}}})
	}
	switch {
	case f.Type.IsHistogram() && m.Native != nil:
		out = append(out, prompb.TimeSeries{Labels: seriesLabels(name, ls), Histograms: []prompb.Histogram{prompb.FromFloatHistogram(ts, m.Native)}})
	case f.Type.IsHistogram():
		count, sum := "_count", "_sum"
		if f.Type == exposition.GaugeHistogram {
			count, sum = "_gcount", "_gsum"
		}
		for _, b := range m.Buckets {
			sample("_bucket", b.Count, prompb.Label{Name: "le", Value: openMetricsFloat(b.UpperBound)})
		}
		if m.HasCount || len(m.Buckets) == 0 {
			sample(count, m.Count)
		}
		if m.HasSum {
			sample(sum, m.Sum)
		}
	case f.Type == exposition.Summary:
		for _, q := range m.Quantiles {
			sample("", q.Value, prompb.Label{Name: "quantile", Value: openMetricsFloat(q.Quantile)})
		}
		if m.HasCount || len(m.Quantiles) == 0 {
			sample("_count", m.Count)
		}
		if m.HasSum {
			sample("_sum", m.Sum)
		}
	default:
		sample("", m.Value)
	}
	return out
}

// seriesLabels are __name__, the metric's labels and extra (le,
// quantile), sorted by name as the spec requires. The metric's labels are
// sorted already: the others are put in their places, not sorted in.
func seriesLabels(name string, ls exposition.Labels, extra ...prompb.Label) []prompb.Label {
	out := make([]prompb.Label, 0, len(ls)+1+len(extra))
	for _, l := range ls {
		out = append(out, prompb.Label{Name: l.Name, Value: l.Value})
	}
	out = insertLabel(out, prompb.Label{Name: "__name__", Value: name})
	for _, e := range extra {
		out = insertLabel(out, e)
	}
	return out
}

func insertLabel(ls []prompb.Label, l prompb.Label) []prompb.Label {
	i, _ := slices.BinarySearchFunc(ls, l.Name, func(a prompb.Label, name string) int { return strings.Compare(a.Name, name) })
	return slices.Insert(ls, i, l)
}

// openMetricsFloat writes le and quantile values as Prometheus stores
// them since 3.0: the shortest form, with ".0" on whole numbers.
func openMetricsFloat(v float64) string {
	s := exposition.FormatFloat(v)
	if math.IsInf(v, 0) || math.IsNaN(v) || strings.ContainsAny(s, ".e") {
		return s
	}
	return s + ".0"
}

// Send writes one request.
func (r *RemoteWrite) Send(ctx context.Context, b Batch) error {
	h := http.Header{
		"Content-Encoding":                  {"snappy"},
		"Content-Type":                      {"application/x-protobuf"},
		"X-Prometheus-Remote-Write-Version": {"0.1.0"},
	}
	return r.do(ctx, http.MethodPost, r.url, b.Body, h)
}
