package exposition

import (
	"fmt"
	"math"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/histogram"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// parseProtobuf decodes length-delimited io.prometheus.client.MetricFamily
// messages. Native histograms are kept as they are; classic buckets get the
// implicit +Inf bucket the text formats write out.
//
// The messages are cut out of body directly rather than through a streaming
// decoder, so that a corrupt length prefix claiming gigabytes is an error,
// not an allocation.
func parseProtobuf(body []byte) (*ParseResult, error) {
	res := &ParseResult{}
	seen := map[string]bool{}
	for i, off := 1, 0; off < len(body); i++ {
		size, n := protowire.ConsumeVarint(body[off:])
		if n < 0 {
			return nil, &ParseError{Err: fmt.Errorf("protobuf message %d at byte %d: invalid length prefix", i, off)}
		}
		off += n
		if size > uint64(len(body)-off) {
			return nil, &ParseError{Err: fmt.Errorf("protobuf message %d at byte %d claims %d bytes but only %d remain", i, off, size, len(body)-off)}
		}
		var mf dto.MetricFamily
		if err := proto.Unmarshal(body[off:off+int(size)], &mf); err != nil {
			return nil, &ParseError{Err: fmt.Errorf("protobuf message %d at byte %d: %w", i, off, err)}
		}
		off += int(size)
		if seen[mf.GetName()] {
			res.Warnings = append(res.Warnings, fmt.Sprintf("metric family %q sent twice", mf.GetName()))
		}
		seen[mf.GetName()] = true
		f, err := familyFromProto(&mf)
		if err != nil {
			return nil, &ParseError{Err: fmt.Errorf("protobuf message %d (%s): %w", i, mf.GetName(), err)}
		}
		res.Families = append(res.Families, f)
	}
	return res, nil
}

var protoTypes = map[dto.MetricType]Type{
	dto.MetricType_COUNTER:         Counter,
	dto.MetricType_GAUGE:           Gauge,
	dto.MetricType_SUMMARY:         Summary,
	dto.MetricType_UNTYPED:         Untyped,
	dto.MetricType_HISTOGRAM:       Histogram,
	dto.MetricType_GAUGE_HISTOGRAM: GaugeHistogram,
}

func familyFromProto(mf *dto.MetricFamily) (Family, error) {
	t, ok := protoTypes[mf.GetType()]
	if !ok {
		return Family{}, fmt.Errorf("unknown metric type %d", mf.GetType())
	}
	f := Family{Name: mf.GetName(), Type: t, Help: mf.GetHelp(), Unit: mf.GetUnit(), Metrics: make([]Metric, 0, len(mf.GetMetric()))}
	for _, pm := range mf.GetMetric() {
		m := Metric{TimestampMs: pm.GetTimestampMs(), HasTimestamp: pm.TimestampMs != nil}
		for _, lp := range pm.GetLabel() {
			m.Labels = append(m.Labels, Label{lp.GetName(), lp.GetValue()})
		}
		sortLabels(m.Labels)
		switch t {
		case Counter:
			m.Value = pm.GetCounter().GetValue()
			m.Created = protoTime(pm.GetCounter().GetCreatedTimestamp())
			if e := exemplarFromProto(pm.GetCounter().GetExemplar()); e != nil {
				m.Exemplars = append(m.Exemplars, *e)
			}
		case Gauge:
			m.Value = pm.GetGauge().GetValue()
		case Untyped:
			m.Value = pm.GetUntyped().GetValue()
		case Summary:
			s := pm.GetSummary()
			m.Count, m.Sum, m.hasCount, m.hasSum = float64(s.GetSampleCount()), s.GetSampleSum(), true, true
			m.Created = protoTime(s.GetCreatedTimestamp())
			for _, q := range s.GetQuantile() {
				m.Quantiles = append(m.Quantiles, Quantile{q.GetQuantile(), q.GetValue()})
			}
			sortQuantiles(m.Quantiles)
		case Histogram, GaugeHistogram:
			if err := histogramFromProto(pm.GetHistogram(), &m); err != nil {
				return f, err
			}
		}
		f.Metrics = append(f.Metrics, m)
	}
	return f, nil
}

func histogramFromProto(h *dto.Histogram, m *Metric) error {
	m.Count = float64(h.GetSampleCount())
	if h.SampleCountFloat != nil {
		m.Count = h.GetSampleCountFloat()
	}
	m.Sum, m.hasCount, m.hasSum = h.GetSampleSum(), true, true
	m.Created = protoTime(h.GetCreatedTimestamp())
	for _, b := range h.GetBucket() {
		c := float64(b.GetCumulativeCount())
		if b.CumulativeCountFloat != nil {
			c = b.GetCumulativeCountFloat()
		}
		m.Buckets = append(m.Buckets, Bucket{UpperBound: b.GetUpperBound(), Count: c, Exemplar: exemplarFromProto(b.GetExemplar())})
	}
	sortBuckets(m.Buckets)
	if n := len(m.Buckets); n > 0 && !math.IsInf(m.Buckets[n-1].UpperBound, 1) {
		m.Buckets = append(m.Buckets, Bucket{UpperBound: math.Inf(1), Count: m.Count})
	}
	for _, e := range h.GetExemplars() {
		if x := exemplarFromProto(e); x != nil {
			m.Exemplars = append(m.Exemplars, *x)
		}
	}
	if !isNative(h) {
		return nil
	}
	fh := &histogram.FloatHistogram{
		Schema:        h.GetSchema(),
		ZeroThreshold: h.GetZeroThreshold(),
		ZeroCount:     float64(h.GetZeroCount()),
		Count:         m.Count,
		Sum:           m.Sum,
	}
	if h.ZeroCountFloat != nil {
		fh.ZeroCount = h.GetZeroCountFloat()
	}
	fh.PositiveSpans = spansFromProto(h.GetPositiveSpan())
	fh.NegativeSpans = spansFromProto(h.GetNegativeSpan())
	fh.PositiveBuckets = nativeCounts(h.GetPositiveDelta(), h.GetPositiveCount())
	fh.NegativeBuckets = nativeCounts(h.GetNegativeDelta(), h.GetNegativeCount())
	if err := fh.Validate(); err != nil {
		return fmt.Errorf("invalid native histogram: %w", err)
	}
	m.Native = fh
	return nil
}

// isNative follows Prometheus: a histogram with any native part is native.
func isNative(h *dto.Histogram) bool {
	return h.GetZeroThreshold() > 0 || h.GetZeroCount() > 0 || h.GetZeroCountFloat() > 0 ||
		len(h.GetPositiveSpan()) > 0 || len(h.GetNegativeSpan()) > 0
}

func spansFromProto(ss []*dto.BucketSpan) []histogram.Span {
	out := make([]histogram.Span, len(ss))
	for i, s := range ss {
		out[i] = histogram.Span{Offset: s.GetOffset(), Length: s.GetLength()}
	}
	return out
}

// nativeCounts turns delta-encoded integer counts (or absolute float
// counts) into absolute float counts.
func nativeCounts(deltas []int64, counts []float64) []float64 {
	if len(counts) > 0 {
		return append([]float64(nil), counts...)
	}
	out := make([]float64, len(deltas))
	var c int64
	for i, d := range deltas {
		c += d
		out[i] = float64(c)
	}
	return out
}

func exemplarFromProto(e *dto.Exemplar) *Exemplar {
	if e == nil {
		return nil
	}
	x := &Exemplar{Value: e.GetValue()}
	for _, lp := range e.GetLabel() {
		x.Labels = append(x.Labels, Label{lp.GetName(), lp.GetValue()})
	}
	if ts := e.GetTimestamp(); ts != nil {
		x.TimestampMs, x.HasTimestamp = ts.AsTime().UnixMilli(), true
	}
	return x
}

// protoTime converts a created timestamp to Unix seconds (0 when absent).
func protoTime(ts *timestamppb.Timestamp) float64 {
	if ts == nil {
		return 0
	}
	return float64(ts.GetSeconds()) + float64(ts.GetNanos())/1e9
}

// ExposedAs is the name and client_model type under which the family is
// written in the Prometheus text and protobuf formats, which have no info
// or stateset types: both become gauges, info ones named <name>_info, as
// Prometheus stores them.
func (f *Family) ExposedAs() (string, dto.MetricType) {
	switch f.Type {
	case Info:
		return f.Name + "_info", dto.MetricType_GAUGE
	case StateSet:
		return f.Name, dto.MetricType_GAUGE
	}
	for t, typ := range protoTypes {
		if typ == f.Type {
			return f.Name, t
		}
	}
	return f.Name, dto.MetricType_UNTYPED // unknown
}
