package exposition

import (
	"math"
	"sort"

	"github.com/prometheus/prometheus/model/histogram"
)

// BucketQuantile estimates the q-quantile from cumulative classic buckets the
// way PromQL's histogram_quantile does: linear interpolation inside the
// bucket the rank falls in, the lowest bucket starting at 0 (unless its
// upper bound is not positive), and the +Inf bucket answered with the
// largest finite bound. It returns NaN when there is nothing to estimate.
func BucketQuantile(q float64, buckets []Bucket) float64 {
	if v, out := outOfRange(q); out {
		return v
	}
	n := len(buckets)
	if n < 2 || !math.IsInf(buckets[n-1].UpperBound, 1) {
		return math.NaN()
	}
	// Buckets from a live target can be non-monotonic when observations
	// race the exposition; PromQL smooths that away the same way.
	counts := make([]float64, n)
	maxSoFar := math.Inf(-1)
	for i, b := range buckets {
		maxSoFar = math.Max(maxSoFar, b.Count)
		counts[i] = maxSoFar
	}
	total := counts[n-1]
	if total == 0 || math.IsNaN(total) {
		return math.NaN()
	}
	rank := q * total
	b := sort.SearchFloat64s(counts[:n-1], rank)
	if b == n-1 {
		return buckets[n-2].UpperBound
	}
	if b == 0 && buckets[0].UpperBound <= 0 {
		return buckets[0].UpperBound
	}
	start, end, count := 0.0, buckets[b].UpperBound, counts[b]
	if b > 0 {
		start = buckets[b-1].UpperBound
		count -= counts[b-1]
		rank -= counts[b-1]
	}
	return start + (end-start)*(rank/count)
}

// outOfRange answers quantiles outside [0, 1] as PromQL does.
func outOfRange(q float64) (float64, bool) {
	switch {
	case math.IsNaN(q):
		return math.NaN(), true
	case q < 0:
		return math.Inf(-1), true
	case q > 1:
		return math.Inf(1), true
	}
	return 0, false
}

// NativeQuantile estimates the q-quantile of a native histogram as PromQL
// does: exponential interpolation inside a bucket of a standard schema,
// linear inside the zero bucket and custom buckets.
func NativeQuantile(q float64, h *histogram.FloatHistogram) float64 {
	if v, out := outOfRange(q); out {
		return v
	}
	if h == nil || h.Count == 0 || math.IsNaN(h.Count) {
		return math.NaN()
	}
	var (
		bucket histogram.Bucket[float64]
		count  float64
		it     = h.AllBucketIterator()
		rank   = q * h.Count
	)
	for it.Next() {
		bucket = it.At()
		if bucket.Count == 0 {
			continue
		}
		count += bucket.Count
		if count >= rank {
			break
		}
	}
	if bucket.Lower < 0 && bucket.Upper > 0 {
		// The zero bucket: interpolate linearly, from 0 when nothing is negative.
		if len(h.NegativeBuckets) == 0 && len(h.PositiveBuckets) > 0 {
			bucket.Lower = 0
		} else if len(h.PositiveBuckets) == 0 && len(h.NegativeBuckets) > 0 {
			bucket.Upper = 0
		}
	}
	fraction := (rank - (count - bucket.Count)) / bucket.Count
	if h.UsesCustomBuckets() || (bucket.Lower <= 0 && bucket.Upper >= 0) {
		return bucket.Lower + (bucket.Upper-bucket.Lower)*fraction
	}
	logLower := math.Log2(math.Abs(bucket.Lower))
	logUpper := math.Log2(math.Abs(bucket.Upper))
	if bucket.Lower > 0 {
		return math.Exp2(logLower + (logUpper-logLower)*fraction)
	}
	return -math.Exp2(logUpper + (logLower-logUpper)*(1-fraction))
}

// EstimateQuantile returns the q-quantile of a histogram or summary metric:
// estimated from buckets (native ones when present), or the summary's own
// value when it exposes exactly that quantile. Otherwise NaN.
func (m *Metric) EstimateQuantile(t Type, q float64) float64 {
	switch {
	case t.IsHistogram() && m.Native != nil:
		return NativeQuantile(q, m.Native)
	case t.IsHistogram():
		return BucketQuantile(q, m.Buckets)
	case t == Summary:
		for _, s := range m.Quantiles {
			if s.Quantile == q {
				return s.Value
			}
		}
	}
	return math.NaN()
}
