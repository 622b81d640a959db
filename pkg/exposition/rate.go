package exposition

import (
	"math"

	"github.com/prometheus/prometheus/model/histogram"
)

// Rate is a per-second rate between two scrapes of the same series.
type Rate struct {
	// Value is the rate of a counter; Count and Sum those of a histogram's
	// or summary's _count and _sum.
	Value, Count, Sum float64
	// Seconds is the time between the two samples.
	Seconds float64
	// Reset is set when a counter went down: the rate then counts from
	// zero, as PromQL's rate() does, and never goes negative.
	Reset bool
	// Buckets (classic) or Native are what a histogram observed between
	// the two scrapes, for the quantiles of that interval; neither after
	// a reset or a change of buckets.
	Buckets []Bucket
	Native  *histogram.FloatHistogram
}

// Quantile estimates the q-quantile of what a histogram observed between
// the two scrapes; NaN when it observed nothing or is not a histogram.
func (r *Rate) Quantile(q float64) float64 {
	switch {
	case r.Native != nil && r.Native.Count > 0:
		return NativeQuantile(q, r.Native)
	case len(r.Buckets) > 0 && r.Buckets[len(r.Buckets)-1].Count > 0:
		return BucketQuantile(q, r.Buckets)
	}
	return math.NaN()
}

// ApplyRates sets Rate on every counter, histogram and summary metric in
// cur that also appears in prev. seconds is the time between the scrapes;
// an exposed timestamp on both samples takes its place.
func ApplyRates(prev, cur []Family, seconds float64) {
	old := make(map[string]*Family, len(prev))
	for i := range prev {
		old[prev[i].Name] = &prev[i]
	}
	for i := range cur {
		f := &cur[i]
		pf := old[f.Name]
		if pf == nil || pf.Type != f.Type || !(f.Type == Counter || f.Type.HasQuantiles()) {
			continue
		}
		byKey := make(map[string]*Metric, len(pf.Metrics))
		for j := range pf.Metrics {
			byKey[pf.Metrics[j].Labels.key()] = &pf.Metrics[j]
		}
		for j := range f.Metrics {
			m := &f.Metrics[j]
			p := byKey[m.Labels.key()]
			if p == nil {
				continue
			}
			dt := seconds
			if m.HasTimestamp && p.HasTimestamp && m.TimestampMs > p.TimestampMs {
				dt = float64(m.TimestampMs-p.TimestampMs) / 1000
			}
			if dt <= 0 {
				continue
			}
			r := &Rate{Seconds: dt}
			if f.Type == Counter {
				r.Value, r.Reset = counterRate(p.Value, m.Value, dt)
			} else {
				var reset bool
				r.Count, r.Reset = counterRate(p.Count, m.Count, dt)
				r.Sum, reset = counterRate(p.Sum, m.Sum, dt)
				// A sum may go down legitimately (negative observations); only
				// a count that went down says the series was reset.
				if reset && !r.Reset {
					r.Sum = (m.Sum - p.Sum) / dt
				}
				if f.Type.IsHistogram() && !r.Reset {
					r.Buckets, r.Native = bucketIncrease(p, m)
				}
			}
			m.Rate = r
		}
	}
}

// bucketIncrease is what a histogram observed from p to m: bucket by
// bucket when both have the same classic buckets, or the difference of
// their native histograms.
func bucketIncrease(p, m *Metric) ([]Bucket, *histogram.FloatHistogram) {
	if m.Native != nil && p.Native != nil {
		d, _, err := m.Native.Copy().Sub(p.Native)
		if err != nil {
			return nil, nil
		}
		return nil, d
	}
	if len(m.Buckets) == 0 || len(m.Buckets) != len(p.Buckets) {
		return nil, nil
	}
	out := make([]Bucket, len(m.Buckets))
	for i, b := range m.Buckets {
		if b.UpperBound != p.Buckets[i].UpperBound || b.Count < p.Buckets[i].Count {
			return nil, nil
		}
		out[i] = Bucket{UpperBound: b.UpperBound, Count: b.Count - p.Buckets[i].Count}
	}
	return out, nil
}

// counterRate is the per-second increase; after a reset the new value is
// the increase since zero.
func counterRate(prev, cur, dt float64) (float64, bool) {
	if math.IsNaN(prev) || math.IsNaN(cur) {
		return math.NaN(), false
	}
	if cur < prev {
		return cur / dt, true
	}
	return (cur - prev) / dt, false
}
