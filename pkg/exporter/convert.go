package exporter

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/monctl/monctl/pkg/exposition"
)

// servedFamily is one family as it will be served: its exposed name, type
// and help (the first source's, so that every source agrees), and the label
// that marks its source (target="node"; empty for monctl's own families).
type servedFamily struct {
	fam    *exposition.Family
	name   string
	typ    dto.MetricType
	help   string
	source exposition.Label
}

// servedAs is how f is served: under its exposed name and type (gauge
// histograms as histograms: client_golang has no const gauge histogram),
// with its own help, marked with source.
func servedAs(f *exposition.Family, source exposition.Label) servedFamily {
	name, t := f.ExposedAs()
	if t == dto.MetricType_GAUGE_HISTOGRAM {
		t = dto.MetricType_HISTOGRAM
	}
	return servedFamily{fam: f, name: name, typ: t, help: f.Help, source: source}
}

// familiesCollector is a custom Collector over families gathered before
// the registry asks: each Collect turns them into const metrics. It is
// unchecked (Describe sends nothing), because re-exposed families are only
// known once scraped.
type familiesCollector []servedFamily

func (familiesCollector) Describe(chan<- *prometheus.Desc) {}

func (c familiesCollector) Collect(ch chan<- prometheus.Metric) {
	for i := range c {
		c[i].collect(ch)
	}
}

// collect sends one const metric per series. Series of one family may
// carry different label names; each set gets its own Desc.
func (s *servedFamily) collect(ch chan<- prometheus.Metric) {
	descs := map[string]*prometheus.Desc{}
	var names, values []string
	for i := range s.fam.Metrics {
		m := &s.fam.Metrics[i]
		names, values = names[:0], values[:0]
		ls := m.Labels
		if s.source.Name != "" {
			ls = exposition.WithTargetLabel(ls, s.source.Name, s.source.Value)
		}
		for _, l := range ls {
			names = append(names, l.Name)
			values = append(values, l.Value)
		}
		key := strings.Join(names, "\xff")
		d, ok := descs[key]
		if !ok {
			d = prometheus.NewDesc(s.name, s.help, slices.Clone(names), nil)
			descs[key] = d
		}
		pm, err := constMetric(d, s.typ, m, values)
		if err != nil {
			pm = prometheus.NewInvalidMetric(d, fmt.Errorf("%s%s: %w", s.name, m.Labels, err))
		} else if m.HasTimestamp {
			pm = prometheus.NewMetricWithTimestamp(time.UnixMilli(m.TimestampMs), pm)
		}
		ch <- pm
	}
}

// constMetric builds the const metric of one series.
func constMetric(d *prometheus.Desc, t dto.MetricType, m *exposition.Metric, values []string) (prometheus.Metric, error) {
	created := createdTime(m.Created)
	switch t {
	case dto.MetricType_COUNTER:
		if created.IsZero() {
			return prometheus.NewConstMetric(d, prometheus.CounterValue, m.Value, values...)
		}
		return prometheus.NewConstMetricWithCreatedTimestamp(d, prometheus.CounterValue, m.Value, created, values...)
	case dto.MetricType_GAUGE:
		return prometheus.NewConstMetric(d, prometheus.GaugeValue, m.Value, values...)
	case dto.MetricType_UNTYPED:
		return prometheus.NewConstMetric(d, prometheus.UntypedValue, m.Value, values...)
	case dto.MetricType_SUMMARY:
		count, err := countOf(m.Count)
		if err != nil {
			return nil, err
		}
		qs := make(map[float64]float64, len(m.Quantiles))
		for _, q := range m.Quantiles {
			qs[q.Quantile] = q.Value
		}
		if created.IsZero() {
			return prometheus.NewConstSummary(d, count, m.Sum, qs, values...)
		}
		return prometheus.NewConstSummaryWithCreatedTimestamp(d, count, m.Sum, qs, created, values...)
	}
	if m.Native != nil {
		return nativeHistogram(d, m, created, values)
	}
	count, err := countOf(m.Count)
	if err != nil {
		return nil, err
	}
	buckets := make(map[float64]uint64, len(m.Buckets))
	for _, b := range m.Buckets {
		if math.IsInf(b.UpperBound, 1) {
			continue // the count is the +Inf bucket
		}
		if buckets[b.UpperBound], err = countOf(b.Count); err != nil {
			return nil, err
		}
	}
	if created.IsZero() {
		return prometheus.NewConstHistogram(d, count, m.Sum, buckets, values...)
	}
	return prometheus.NewConstHistogramWithCreatedTimestamp(d, count, m.Sum, buckets, created, values...)
}

func nativeHistogram(d *prometheus.Desc, m *exposition.Metric, created time.Time, values []string) (prometheus.Metric, error) {
	h := m.Native
	count, err := countOf(h.Count)
	if err != nil {
		return nil, err
	}
	zero, err := countOf(h.ZeroCount)
	if err != nil {
		return nil, err
	}
	pos, neg := map[int]int64{}, map[int]int64{}
	for it := h.PositiveBucketIterator(); it.Next(); {
		pos[int(it.At().Index)] = int64(it.At().Count)
	}
	for it := h.NegativeBucketIterator(); it.Next(); {
		neg[int(it.At().Index)] = int64(it.At().Count)
	}
	pm, err := prometheus.NewConstNativeHistogram(d, count, h.Sum, pos, neg, zero, h.Schema, h.ZeroThreshold, created, values...)
	if err != nil || !created.IsZero() {
		return pm, err
	}
	return withoutCreated{pm}, nil
}

// withoutCreated drops the created timestamp that NewConstNativeHistogram
// always sets, which for an unknown one would be year 1.
type withoutCreated struct{ prometheus.Metric }

func (m withoutCreated) Write(out *dto.Metric) error {
	if err := m.Metric.Write(out); err != nil {
		return err
	}
	out.Histogram.CreatedTimestamp = nil
	return nil
}

var errBadCount = errors.New("count is not a whole number of 0 or more")

func countOf(v float64) (uint64, error) {
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) || v != math.Trunc(v) {
		return 0, errBadCount
	}
	return uint64(v), nil
}

// createdTime is the _created time, or the zero time when unknown (which
// client_golang leaves out).
func createdTime(sec float64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	s, frac := math.Modf(sec)
	return time.Unix(int64(s), int64(frac*1e9))
}
