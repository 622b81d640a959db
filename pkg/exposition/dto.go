package exposition

import (
	"math"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/histogram"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// DTO converts a family to client_model's, native histograms included:
// the one conversion, used by the protobuf writer and by the exporter.
// Info and stateset families, which client_model lacks, become gauges
// (info under their _info sample name), as Prometheus stores them.
func (f *Family) DTO() *dto.MetricFamily {
	name, t := f.ExposedAs()
	mf := &dto.MetricFamily{Name: proto.String(name), Type: t.Enum(), Metric: make([]*dto.Metric, 0, len(f.Metrics))}
	if f.Help != "" {
		mf.Help = proto.String(f.Help)
	}
	if f.Unit != "" && strings.HasSuffix(strings.TrimSuffix(name, "_total"), "_"+f.Unit) {
		mf.Unit = proto.String(f.Unit) // OpenMetrics requires the name to end in the unit
	}
	for i := range f.Metrics {
		mf.Metric = append(mf.Metric, MetricDTO(t, &f.Metrics[i], f.Metrics[i].Labels))
	}
	return mf
}

// MetricDTO converts one series of a family of type t, with labels ls
// (its own, or with a target label added).
func MetricDTO(t dto.MetricType, m *Metric, ls Labels) *dto.Metric {
	dm := &dto.Metric{Label: make([]*dto.LabelPair, 0, len(ls))}
	for _, l := range ls {
		dm.Label = append(dm.Label, &dto.LabelPair{Name: proto.String(l.Name), Value: proto.String(l.Value)})
	}
	if m.HasTimestamp {
		dm.TimestampMs = proto.Int64(m.TimestampMs)
	}
	switch t {
	case dto.MetricType_COUNTER:
		dm.Counter = &dto.Counter{Value: proto.Float64(m.Value), CreatedTimestamp: created(m.Created)}
		if len(m.Exemplars) > 0 {
			dm.Counter.Exemplar = exemplarDTO(&m.Exemplars[0])
		}
	case dto.MetricType_GAUGE:
		dm.Gauge = &dto.Gauge{Value: proto.Float64(m.Value)}
	case dto.MetricType_UNTYPED:
		dm.Untyped = &dto.Untyped{Value: proto.Float64(m.Value)}
	case dto.MetricType_SUMMARY:
		s := &dto.Summary{SampleCount: proto.Uint64(uint64(m.Count)), SampleSum: proto.Float64(m.Sum), CreatedTimestamp: created(m.Created)}
		for _, q := range m.Quantiles {
			s.Quantile = append(s.Quantile, &dto.Quantile{Quantile: proto.Float64(q.Quantile), Value: proto.Float64(q.Value)})
		}
		dm.Summary = s
	default:
		dm.Histogram = histogramDTO(m)
	}
	return dm
}

func histogramDTO(m *Metric) *dto.Histogram {
	count, sum := m.Count, m.Sum
	if n := m.Native; n != nil {
		count, sum = n.Count, n.Sum
	}
	// Whole counts are written as integers, as client libraries write
	// them (OpenMetrics 1.0 cannot carry float histograms); any other
	// makes every count a float.
	whole := wholeCounts(m)
	setCount := func(v float64, i **uint64, f **float64) {
		if whole {
			*i = proto.Uint64(uint64(v))
		} else {
			*f = proto.Float64(v)
		}
	}
	h := &dto.Histogram{SampleSum: proto.Float64(sum), CreatedTimestamp: created(m.Created)}
	setCount(count, &h.SampleCount, &h.SampleCountFloat)
	for _, b := range m.Buckets {
		if math.IsInf(b.UpperBound, 1) {
			continue // implied by the count
		}
		db := &dto.Bucket{UpperBound: proto.Float64(b.UpperBound)}
		setCount(b.Count, &db.CumulativeCount, &db.CumulativeCountFloat)
		if b.Exemplar != nil {
			db.Exemplar = exemplarDTO(b.Exemplar)
		}
		h.Bucket = append(h.Bucket, db)
	}
	if n := m.Native; n != nil {
		h.Schema = proto.Int32(n.Schema)
		h.ZeroThreshold = proto.Float64(n.ZeroThreshold)
		setCount(n.ZeroCount, &h.ZeroCount, &h.ZeroCountFloat)
		h.PositiveSpan, h.NegativeSpan = spansDTO(n.PositiveSpans), spansDTO(n.NegativeSpans)
		if whole {
			h.PositiveDelta, h.NegativeDelta = deltas(n.PositiveBuckets), deltas(n.NegativeBuckets)
		} else {
			h.PositiveCount, h.NegativeCount = n.PositiveBuckets, n.NegativeBuckets
		}
		if len(h.PositiveSpan)+len(h.NegativeSpan) == 0 && n.ZeroThreshold == 0 && n.ZeroCount == 0 {
			// An empty native histogram is told apart from a classic
			// one by a no-op span, as client_golang does.
			h.PositiveSpan = []*dto.BucketSpan{{Offset: proto.Int32(0), Length: proto.Uint32(0)}}
		}
	}
	for i := range m.Exemplars {
		h.Exemplars = append(h.Exemplars, exemplarDTO(&m.Exemplars[i]))
	}
	return h
}

// wholeCounts says whether every count of a histogram is a whole number
// that fits an integer field.
func wholeCounts(m *Metric) bool {
	counts := []float64{m.Count}
	for _, b := range m.Buckets {
		counts = append(counts, b.Count)
	}
	if n := m.Native; n != nil {
		counts = append(counts, n.Count, n.ZeroCount)
		counts = append(counts, n.PositiveBuckets...)
		counts = append(counts, n.NegativeBuckets...)
	}
	for _, c := range counts {
		if !(c >= 0 && c < 1<<63 && c == math.Trunc(c)) {
			return false
		}
	}
	return true
}

// deltas are absolute bucket counts as client_model's integer deltas.
func deltas(counts []float64) []int64 {
	out := make([]int64, len(counts))
	prev := int64(0)
	for i, c := range counts {
		out[i] = int64(c) - prev
		prev = int64(c)
	}
	return out
}

func spansDTO(spans []histogram.Span) []*dto.BucketSpan {
	out := make([]*dto.BucketSpan, len(spans))
	for i, s := range spans {
		out[i] = &dto.BucketSpan{Offset: proto.Int32(s.Offset), Length: proto.Uint32(s.Length)}
	}
	return out
}

func created(sec float64) *timestamppb.Timestamp {
	if sec == 0 {
		return nil
	}
	s, frac := math.Modf(sec)
	return &timestamppb.Timestamp{Seconds: int64(s), Nanos: int32(math.Round(frac * 1e9))}
}

func exemplarDTO(e *Exemplar) *dto.Exemplar {
	x := &dto.Exemplar{Value: proto.Float64(e.Value)}
	for _, l := range e.Labels {
		x.Label = append(x.Label, &dto.LabelPair{Name: proto.String(l.Name), Value: proto.String(l.Value)})
	}
	if e.HasTimestamp {
		x.Timestamp = created(e.Timestamp)
	}
	return x
}
