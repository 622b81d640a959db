package exposition

import "github.com/prometheus/prometheus/model/histogram"

// StoredSeries calls fn for every series that metric m of f is stored as
// in Prometheus: the family's sample names (ExposedAs, with _bucket,
// _count, _sum, or _gcount and _gsum for gauge histograms), each with the
// extra label that tells its samples apart (le, quantile; empty when
// none) and a float value, or a native histogram (h not nil) under the
// family's name. Remote write and PromQL over gathered samples both see
// a family through it.
func (f *Family) StoredSeries(m *Metric, fn func(name string, extra Label, v float64, h *histogram.FloatHistogram)) {
	name, _ := f.ExposedAs()
	none := Label{}
	switch {
	case f.Type.IsHistogram() && m.Native != nil:
		fn(name, none, 0, m.Native)
	case f.Type.IsHistogram():
		count, sum := "_count", "_sum"
		if f.Type == GaugeHistogram {
			count, sum = "_gcount", "_gsum"
		}
		for _, b := range m.Buckets {
			fn(name+"_bucket", Label{Name: "le", Value: FormatBound(b.UpperBound)}, b.Count, nil)
		}
		if m.HasCount || len(m.Buckets) == 0 {
			fn(name+count, none, m.Count, nil)
		}
		if m.HasSum {
			fn(name+sum, none, m.Sum, nil)
		}
	case f.Type == Summary:
		for _, q := range m.Quantiles {
			fn(name, Label{Name: "quantile", Value: FormatBound(q.Quantile)}, q.Value, nil)
		}
		if m.HasCount || len(m.Quantiles) == 0 {
			fn(name+"_count", none, m.Count, nil)
		}
		if m.HasSum {
			fn(name+"_sum", none, m.Sum, nil)
		}
	default:
		fn(name, none, m.Value, nil)
	}
}
