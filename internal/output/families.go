package output

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/histogram"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/monctl/monctl/pkg/exposition"
)

// Source is one set of families and where they came from.
type Source struct {
	Target   string
	Time     time.Time
	Families []exposition.Family
}

// TargetLabel is added to every series when several sources are merged,
// by the rule monctl serve follows (exposition.WithTargetLabel).
const TargetLabel = "target"

// merge puts the families of every source together by the name and type
// they are written under. With several sources each series gets a target
// label. A family whose type differs from the first one of its name, and
// a series already written, are left out and named in the warnings.
func merge(sources []Source) ([]mergedFamily, []string) {
	addTarget := len(sources) > 1
	var (
		out      []mergedFamily
		byName   = map[string]int{}
		series   = map[string]bool{}
		warnings warnings
	)
	for _, src := range sources {
		for i := range src.Families {
			f := &src.Families[i]
			name, typ := f.ExposedAs()
			j, ok := byName[name]
			if !ok {
				j = len(out)
				byName[name] = j
				out = append(out, mergedFamily{Family: exposition.Family{Name: f.Name, Type: f.Type, Help: f.Help, Unit: f.Unit}})
			} else if _, prev := out[j].ExposedAs(); prev != typ {
				warnings.add(fmt.Sprintf("%s: family %s is a %s here but a %s elsewhere; left out",
					src.Target, f.Name, strings.ToLower(typ.String()), strings.ToLower(prev.String())))
				continue
			}
			for _, m := range f.Metrics {
				if addTarget {
					m.Labels = exposition.WithTargetLabel(m.Labels, TargetLabel, src.Target)
				}
				key := name + m.Labels.String()
				if series[key] {
					warnings.add(fmt.Sprintf("%s: series %s%s is there twice; the first is kept", src.Target, name, m.Labels))
					continue
				}
				series[key] = true
				out[j].Metrics = append(out[j].Metrics, m)
				out[j].times = append(out[j].times, src.Time)
			}
		}
	}
	return out, warnings.list
}

// mergedFamily is a family of several sources, with the scrape time of
// each metric's source (line protocol gives every line a time).
type mergedFamily struct {
	exposition.Family
	times []time.Time
}

// warnings collects what a writer left out, ten at most and a count.
type warnings struct {
	list []string
	n    int
}

func (w *warnings) add(s string) {
	w.n++
	switch {
	case w.n <= 10:
		w.list = append(w.list, s)
	case w.n == 11:
		w.list = append(w.list, "more left out")
	}
}

// WriteExposition writes sources as Prometheus text (Prom), OpenMetrics
// 1.0 or delimited protobuf, merging families of the same name (see
// merge). It writes exactly what the model holds: no _sum or _count the
// input did not have, exemplar times at full precision. What a format
// cannot hold (native histogram buckets in the text formats, series that
// OpenMetrics forbids) is left out and said in the warnings.
func WriteExposition(w io.Writer, sources []Source, format Format) ([]string, error) {
	fams, warns := merge(sources)
	if format == Protobuf {
		for i := range fams {
			if _, err := protodelim.MarshalTo(w, ToDTO(&fams[i].Family)); err != nil {
				return warns, fmt.Errorf("writing family %s: %w", fams[i].Name, err)
			}
		}
		return warns, nil
	}
	tw := &textWriter{om: format == OpenMetrics}
	for i := range fams {
		tw.family(&fams[i].Family)
		if len(tw.buf) > 64<<10 {
			if _, err := w.Write(tw.buf); err != nil {
				return warns, err
			}
			tw.buf = tw.buf[:0]
		}
	}
	if tw.om {
		tw.buf = append(tw.buf, "# EOF\n"...)
	}
	if tw.natives > 0 {
		warns = append(warns, fmt.Sprintf("%d native histograms written without their buckets, which %s cannot hold (-o protobuf or -o json carry them)", tw.natives, format))
	}
	warns = append(warns, tw.warnings.list...)
	_, err := w.Write(tw.buf)
	return warns, err
}

// ToDTO converts a family to client_model's, native histograms included.
// Info and stateset families, which client_model lacks, become gauges
// (info under their _info sample name), as Prometheus stores them.
func ToDTO(f *exposition.Family) *dto.MetricFamily {
	name, t := f.ExposedAs()
	mf := &dto.MetricFamily{Name: proto.String(name), Type: t.Enum(), Metric: make([]*dto.Metric, 0, len(f.Metrics))}
	if f.Help != "" {
		mf.Help = proto.String(f.Help)
	}
	if f.Unit != "" && strings.HasSuffix(strings.TrimSuffix(name, "_total"), "_"+f.Unit) {
		mf.Unit = proto.String(f.Unit) // OpenMetrics requires the name to end in the unit
	}
	for i := range f.Metrics {
		m := &f.Metrics[i]
		dm := &dto.Metric{Label: make([]*dto.LabelPair, 0, len(m.Labels))}
		for _, l := range m.Labels {
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
		mf.Metric = append(mf.Metric, dm)
	}
	return mf
}

func histogramDTO(m *exposition.Metric) *dto.Histogram {
	h := &dto.Histogram{SampleCountFloat: proto.Float64(m.Count), SampleSum: proto.Float64(m.Sum), CreatedTimestamp: created(m.Created)}
	for _, b := range m.Buckets {
		if math.IsInf(b.UpperBound, 1) {
			continue // implied by the count
		}
		db := &dto.Bucket{UpperBound: proto.Float64(b.UpperBound), CumulativeCountFloat: proto.Float64(b.Count)}
		if b.Exemplar != nil {
			db.Exemplar = exemplarDTO(b.Exemplar)
		}
		h.Bucket = append(h.Bucket, db)
	}
	if n := m.Native; n != nil {
		h.Schema = proto.Int32(n.Schema)
		h.ZeroThreshold = proto.Float64(n.ZeroThreshold)
		h.ZeroCountFloat = proto.Float64(n.ZeroCount)
		h.PositiveSpan, h.NegativeSpan = spansDTO(n.PositiveSpans), spansDTO(n.NegativeSpans)
		h.PositiveCount, h.NegativeCount = n.PositiveBuckets, n.NegativeBuckets
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

func exemplarDTO(e *exposition.Exemplar) *dto.Exemplar {
	x := &dto.Exemplar{Value: proto.Float64(e.Value)}
	for _, l := range e.Labels {
		x.Label = append(x.Label, &dto.LabelPair{Name: proto.String(l.Name), Value: proto.String(l.Value)})
	}
	if e.HasTimestamp {
		x.Timestamp = created(e.Timestamp)
	}
	return x
}
