package output

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
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

// TargetLabel is added to every series when several sources are merged.
const TargetLabel = "target"

// WriteExposition writes sources as Prometheus text (0.0.4) or OpenMetrics
// 1.0, merging families of the same name. With several sources every series
// gets a target label so that they stay apart. Families whose type differs
// between sources cannot be merged: the later ones are left out and named
// in the returned warnings.
func WriteExposition(w io.Writer, sources []Source, openMetrics bool) ([]string, error) {
	addTarget := len(sources) > 1
	var (
		order    []string
		byName   = map[string]*dto.MetricFamily{}
		warnings []string
	)
	for _, src := range sources {
		for i := range src.Families {
			f := &src.Families[i]
			mf := toDTO(f, src.Target, addTarget)
			if prev, ok := byName[mf.GetName()]; ok {
				if prev.GetType() != mf.GetType() {
					warnings = append(warnings, fmt.Sprintf("%s: family %s is a %s here but a %s elsewhere; left out",
						src.Target, f.Name, strings.ToLower(mf.GetType().String()), strings.ToLower(prev.GetType().String())))
					continue
				}
				prev.Metric = append(prev.Metric, mf.Metric...)
				continue
			}
			byName[mf.GetName()] = mf
			order = append(order, mf.GetName())
		}
	}
	for _, name := range order {
		mf := byName[name]
		var err error
		if openMetrics {
			_, err = expfmt.MetricFamilyToOpenMetrics(w, mf, expfmt.WithCreatedLines())
		} else {
			_, err = expfmt.MetricFamilyToText(w, mf)
		}
		if err != nil {
			return warnings, fmt.Errorf("writing family %s: %w", name, err)
		}
	}
	if openMetrics {
		if _, err := expfmt.FinalizeOpenMetrics(w); err != nil {
			return warnings, err
		}
	}
	return warnings, nil
}

// toDTO converts a family to client_model's, which expfmt writes. Info and
// stateset families, which client_model lacks, become gauges (info under
// their _info sample name), as Prometheus stores them.
func toDTO(f *exposition.Family, target string, addTarget bool) *dto.MetricFamily {
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
		dm := &dto.Metric{Label: make([]*dto.LabelPair, 0, len(m.Labels)+1)}
		for _, l := range m.Labels {
			dm.Label = append(dm.Label, &dto.LabelPair{Name: proto.String(l.Name), Value: proto.String(l.Value)})
		}
		if addTarget && m.Labels.Get(TargetLabel) == "" {
			dm.Label = append(dm.Label, &dto.LabelPair{Name: proto.String(TargetLabel), Value: proto.String(target)})
			sort.Slice(dm.Label, func(a, b int) bool { return dm.Label[a].GetName() < dm.Label[b].GetName() })
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
			h := &dto.Histogram{SampleCount: proto.Uint64(uint64(m.Count)), SampleSum: proto.Float64(m.Sum), CreatedTimestamp: created(m.Created)}
			for _, b := range m.Buckets {
				if math.IsInf(b.UpperBound, 1) {
					continue // implied by SampleCount
				}
				db := &dto.Bucket{UpperBound: proto.Float64(b.UpperBound), CumulativeCount: proto.Uint64(uint64(b.Count))}
				if b.Exemplar != nil {
					db.Exemplar = exemplarDTO(b.Exemplar)
				}
				h.Bucket = append(h.Bucket, db)
			}
			dm.Histogram = h
		}
		mf.Metric = append(mf.Metric, dm)
	}
	return mf
}

func created(sec float64) *timestamppb.Timestamp {
	if sec == 0 {
		return nil
	}
	s, frac := math.Modf(sec)
	return &timestamppb.Timestamp{Seconds: int64(s), Nanos: int32(frac * 1e9)}
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

// WriteInflux writes InfluxDB line protocol the way Telegraf's prometheus
// input does: the measurement is the metric name, labels are tags, a simple
// metric has one field "value" (counter, gauge...), a histogram has count,
// sum and one field per bucket bound, a summary count, sum and one field
// per quantile. NaN and ±Inf, which line protocol cannot carry, are left
// out. Timestamps are nanoseconds: the exposed one, else the scrape time.
func WriteInflux(w io.Writer, sources []Source) error {
	addTarget := len(sources) > 1
	var b []byte
	for _, src := range sources {
		for i := range src.Families {
			f := &src.Families[i]
			for j := range f.Metrics {
				m := &f.Metrics[j]
				start := len(b)
				b = appendInfluxKey(b, f.Name, ' ', ',')
				for _, l := range m.Labels {
					b = append(b, ',')
					b = appendInfluxKey(b, l.Name, ' ', ',', '=')
					b = append(b, '=')
					b = appendInfluxKey(b, l.Value, ' ', ',', '=')
				}
				if addTarget && m.Labels.Get(TargetLabel) == "" {
					b = append(b, ","+TargetLabel+"="...)
					b = appendInfluxKey(b, src.Target, ' ', ',', '=')
				}
				b = append(b, ' ')
				fieldsAt := len(b)
				switch {
				case f.Type.IsHistogram():
					b = appendField(b, fieldsAt, "count", m.Count)
					b = appendField(b, fieldsAt, "sum", m.Sum)
					for _, bk := range m.Buckets {
						b = appendField(b, fieldsAt, Float(bk.UpperBound), bk.Count)
					}
				case f.Type == exposition.Summary:
					b = appendField(b, fieldsAt, "count", m.Count)
					b = appendField(b, fieldsAt, "sum", m.Sum)
					for _, q := range m.Quantiles {
						b = appendField(b, fieldsAt, Float(q.Quantile), q.Value)
					}
				default:
					b = appendField(b, fieldsAt, "value", m.Value)
				}
				if len(b) == fieldsAt { // no field could be written
					b = b[:start]
					continue
				}
				ts := src.Time.UnixNano()
				if m.HasTimestamp {
					ts = m.TimestampMs * int64(time.Millisecond)
				}
				b = append(b, ' ')
				b = strconv.AppendInt(b, ts, 10)
				b = append(b, '\n')
			}
			if len(b) > 60<<10 {
				if _, err := w.Write(b); err != nil {
					return err
				}
				b = b[:0]
			}
		}
	}
	_, err := w.Write(b)
	return err
}

func appendField(b []byte, fieldsAt int, key string, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return b
	}
	if len(b) > fieldsAt {
		b = append(b, ',')
	}
	b = appendInfluxKey(b, key, ' ', ',', '=')
	b = append(b, '=')
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendInfluxKey escapes the characters line protocol gives meaning to.
func appendInfluxKey(b []byte, s string, special ...byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		default:
			for _, sp := range special {
				if c == sp {
					b = append(b, '\\')
					break
				}
			}
			b = append(b, c)
		}
	}
	return b
}
