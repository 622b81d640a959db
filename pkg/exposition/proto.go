package exposition

import (
	"context"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

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
//
// Every message is held to the rules the text formats enforce by their
// grammar: valid UTF-8, a family name, distinct label names, buckets that
// ascend, each quantile once. A family sent twice is left out with a warning,
// the first kept, as the text parser does with a split family.
func parseProtobuf(ctx context.Context, body []byte, lim Limits) (*ParseResult, error) {
	res := &ParseResult{}
	seen := map[string]bool{}
	samples := 0
	for i, off := 1, 0; off < len(body); i++ {
		if err := checkCtx(ctx); err != nil {
			return nil, &ParseError{Err: err}
		}
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
		f, err := familyFromProto(&mf)
		if err == nil {
			err = lim.checkFamily(&f, &samples)
		}
		if err != nil {
			return nil, &ParseError{Err: fmt.Errorf("protobuf message %d (%q): %w", i, abbrev(mf.GetName()), err)}
		}
		if seen[f.Name] {
			if len(res.Warnings) < 50 {
				res.Warnings = append(res.Warnings, fmt.Sprintf("metric family %q sent twice; the second left out (the first is kept)", f.Name))
			}
			continue
		}
		seen[f.Name] = true
		res.Families = append(res.Families, f)
	}
	return res, nil
}

// typeFromProto is the model's type of a protobuf family type.
func typeFromProto(t dto.MetricType) (Type, bool) {
	switch t {
	case dto.MetricType_COUNTER:
		return Counter, true
	case dto.MetricType_GAUGE:
		return Gauge, true
	case dto.MetricType_SUMMARY:
		return Summary, true
	case dto.MetricType_UNTYPED:
		return Untyped, true
	case dto.MetricType_HISTOGRAM:
		return Histogram, true
	case dto.MetricType_GAUGE_HISTOGRAM:
		return GaugeHistogram, true
	}
	return "", false
}

func familyFromProto(mf *dto.MetricFamily) (Family, error) {
	t, ok := typeFromProto(mf.GetType())
	if !ok {
		return Family{}, fmt.Errorf("unknown metric type %d", mf.GetType())
	}
	switch {
	case mf.GetName() == "":
		return Family{}, errors.New("a metric family without a name")
	case !utf8.ValidString(mf.GetName()):
		return Family{}, errors.New("the family name is not valid UTF-8")
	case !utf8.ValidString(mf.GetHelp()) || !utf8.ValidString(mf.GetUnit()):
		return Family{}, errors.New("help or unit is not valid UTF-8")
	}
	f := Family{Name: mf.GetName(), Type: t, Help: mf.GetHelp(), Unit: mf.GetUnit(), Metrics: make([]Metric, 0, len(mf.GetMetric()))}
	for _, pm := range mf.GetMetric() {
		m := Metric{TimestampMs: pm.GetTimestampMs(), HasTimestamp: pm.TimestampMs != nil}
		for _, lp := range pm.GetLabel() {
			m.Labels = append(m.Labels, Label{lp.GetName(), lp.GetValue()})
		}
		sortLabels(m.Labels)
		if err := checkProtoLabels(m.Labels, t); err != nil {
			return f, err
		}
		switch t {
		case Counter:
			m.Value = pm.GetCounter().GetValue()
			m.Created = protoTime(pm.GetCounter().GetCreatedTimestamp())
			e, err := exemplarFromProto(pm.GetCounter().GetExemplar())
			if err != nil {
				return f, err
			}
			if e != nil {
				m.Exemplars = append(m.Exemplars, *e)
			}
		case Gauge:
			m.Value = pm.GetGauge().GetValue()
		case Untyped:
			m.Value = pm.GetUntyped().GetValue()
		case Summary:
			s := pm.GetSummary()
			m.Count, m.Sum, m.HasCount, m.HasSum = float64(s.GetSampleCount()), s.GetSampleSum(), true, true
			m.Created = protoTime(s.GetCreatedTimestamp())
			for _, q := range s.GetQuantile() {
				if math.IsNaN(q.GetQuantile()) {
					return f, errors.New("a NaN quantile")
				}
				m.Quantiles = append(m.Quantiles, Quantile{q.GetQuantile(), q.GetValue()})
			}
			sortQuantiles(m.Quantiles)
			if q, dup := duplicateQuantile(m.Quantiles); dup {
				return f, fmt.Errorf("quantile %g given twice", q)
			}
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
	m.Sum, m.HasCount, m.HasSum = h.GetSampleSum(), true, true
	m.Created = protoTime(h.GetCreatedTimestamp())
	for _, b := range h.GetBucket() {
		c := float64(b.GetCumulativeCount())
		if b.CumulativeCountFloat != nil {
			c = b.GetCumulativeCountFloat()
		}
		bound := b.GetUpperBound()
		if math.IsNaN(bound) {
			return errors.New("a bucket with a NaN upper bound")
		}
		// Bounds must ascend; counts that do not add up are the
		// target's business, as in the text format.
		if n := len(m.Buckets); n > 0 {
			if err := checkNextBound(m.Buckets[n-1].UpperBound, bound); err != nil {
				return err
			}
		}
		e, err := exemplarFromProto(b.GetExemplar())
		if err != nil {
			return err
		}
		m.Buckets = append(m.Buckets, Bucket{UpperBound: bound, Count: c, Exemplar: e})
	}
	if n := len(m.Buckets); n > 0 && !math.IsInf(m.Buckets[n-1].UpperBound, 1) {
		m.Buckets = append(m.Buckets, Bucket{UpperBound: math.Inf(1), Count: m.Count})
	}
	for _, e := range h.GetExemplars() {
		x, err := exemplarFromProto(e)
		if err != nil {
			return err
		}
		if x != nil {
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

func exemplarFromProto(e *dto.Exemplar) (*Exemplar, error) {
	if e == nil {
		return nil, nil
	}
	x := &Exemplar{Value: e.GetValue()}
	for _, lp := range e.GetLabel() {
		x.Labels = append(x.Labels, Label{lp.GetName(), lp.GetValue()})
	}
	sortLabels(x.Labels)
	if err := checkProtoLabels(x.Labels, ""); err != nil {
		return nil, fmt.Errorf("exemplar: %w", err)
	}
	if ts := e.GetTimestamp(); ts != nil {
		x.Timestamp, x.HasTimestamp = protoTime(ts), true
	}
	return x, nil
}

// checkProtoLabels holds sorted labels to the text formats' rules: names
// that are valid UTF-8, not empty, not __name__, and not twice; values
// that are valid UTF-8; no le or quantile on a histogram or summary, where
// those names are the buckets' and quantiles'.
func checkProtoLabels(ls Labels, t Type) error {
	for _, l := range ls {
		switch {
		case l.Name == "" || l.Name == "__name__":
			return fmt.Errorf("invalid label name %q", l.Name)
		case !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value):
			return fmt.Errorf("label %q: not valid UTF-8", abbrev(l.Name))
		case l.Name == "le" && t.IsHistogram(), l.Name == "quantile" && t == Summary:
			return fmt.Errorf("label %q is reserved for %s buckets or quantiles", l.Name, t)
		}
	}
	if dup := duplicateName(ls); dup != "" {
		return fmt.Errorf("label %q appears twice", abbrev(dup))
	}
	return nil
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
	// A switch, not a map: this is asked for every metric written.
	switch f.Type {
	case Counter:
		return f.Name, dto.MetricType_COUNTER
	case Gauge:
		return f.Name, dto.MetricType_GAUGE
	case Summary:
		return f.Name, dto.MetricType_SUMMARY
	case Histogram:
		return f.Name, dto.MetricType_HISTOGRAM
	case GaugeHistogram:
		return f.Name, dto.MetricType_GAUGE_HISTOGRAM
	}
	return f.Name, dto.MetricType_UNTYPED // untyped and unknown
}
