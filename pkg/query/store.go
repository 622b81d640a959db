// Package query evaluates PromQL with Prometheus's own engine
// (github.com/prometheus/prometheus/promql) over the samples monctl
// gathered itself: a Store holds them in memory as Prometheus would have
// stored them, and an Engine asks questions of it. It returns plain
// values and never prints.
package query

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/monctl/monctl/pkg/exposition"
)

// Store holds gathered samples by series, in time order. It is a
// storage.Queryable; it is not safe for concurrent Adds.
type Store struct {
	// series by the hash of their labels; the rare collisions are
	// chained.
	series map[uint64]*series
	count  int
	latest int64 // ms, the newest sample
	round  int64 // ms, the last Ended gathering
	b      labels.ScratchBuilder
	only   *Reads // nil: every series is kept
}

type series struct {
	lset    labels.Labels
	samples samples
	// first is the room of the first sample, so that a series is one
	// allocation: a question asked once has a sample a series.
	first [1]sample
	next  *series // the next series of the same hash
}

// NewStore is an empty store.
func NewStore() *Store { return &Store{series: map[uint64]*series{}} }

// Only keeps, from now on, only the series that r can read (nil: all),
// so that the store holds what its questions need.
func (s *Store) Only(r *Reads) { s.only = r }

// Add stores the families of one gathering, taken at (an exposed
// timestamp wins), as Prometheus stores them (Family.StoredSeries), each
// series with the labels of its metric plus extra (such as the target),
// which replace the metric's of the same name.
func (s *Store) Add(at time.Time, fams []exposition.Family, extra ...exposition.Label) {
	for i := range fams {
		f := &fams[i]
		for j := range f.Metrics {
			m := &f.Metrics[j]
			ts := at.UnixMilli()
			if m.HasTimestamp {
				ts = m.TimestampMs
			}
			f.StoredSeries(m, func(name string, le exposition.Label, v float64, h *histogram.FloatHistogram) {
				if s.only != nil && !s.only.mayRead(name) {
					return // its labels need not be built
				}
				s.b.Reset()
				s.b.Add(labels.MetricName, name)
				for _, l := range m.Labels {
					// Prometheus keeps no label with an empty value.
					if l.Value != "" && !slices.ContainsFunc(extra, func(e exposition.Label) bool { return e.Name == l.Name }) {
						s.b.Add(l.Name, l.Value)
					}
				}
				if le.Name != "" {
					s.b.Add(le.Name, le.Value)
				}
				for _, l := range extra {
					s.b.Add(l.Name, l.Value)
				}
				s.b.Sort()
				lset := s.b.Labels()
				if s.only != nil && !s.only.Match(lset) {
					return
				}
				s.append(lset, sample{t: ts, f: v, fh: h})
			})
		}
	}
}

func (s *Store) append(lset labels.Labels, smp sample) {
	h := lset.Hash()
	sr := s.series[h]
	for sr != nil && !labels.Equal(sr.lset, lset) {
		sr = sr.next
	}
	if sr == nil {
		sr = &series{lset: lset, next: s.series[h]}
		sr.samples = sr.first[:0]
		s.series[h] = sr
		s.count++
	}
	// Samples of a series go in time order; one that is not newer (the
	// same exposed timestamp again) is not stored twice.
	if n := len(sr.samples); n > 0 && sr.samples[n-1].t >= smp.t {
		return
	}
	sr.samples = append(sr.samples, smp)
	s.latest = max(s.latest, smp.t)
}

// Ended marks the end of a gathering at at, all of whose series were
// Added: a series the gathering before had and this one has not is gone,
// and gets a stale marker at at, as Prometheus gives a series that leaves
// a scrape, so that questions stop seeing it at once rather than for the
// 5 minutes of PromQL's lookback. Latest is at least at from then on,
// even when the gathering found nothing.
func (s *Store) Ended(at time.Time) {
	ms := at.UnixMilli()
	if s.round != 0 && ms > s.round {
		s.each(func(sr *series) {
			if n := len(sr.samples); n > 0 && sr.samples[n-1].t == s.round && !value.IsStaleNaN(sr.samples[n-1].f) {
				sr.samples = append(sr.samples, sample{t: ms, f: math.Float64frombits(value.StaleNaN)})
			}
		})
	}
	s.round = ms
	s.latest = max(s.latest, ms)
}

// Merge adds the samples of o to the store (those it can read, when it
// keeps only some).
func (s *Store) Merge(o *Store) {
	if s.count == 0 && s.only == nil {
		s.series, s.count, s.latest = o.series, o.count, o.latest
		o.series, o.count = map[uint64]*series{}, 0
		return
	}
	o.each(func(sr *series) {
		if s.only != nil && !s.only.Match(sr.lset) {
			return
		}
		for _, smp := range sr.samples {
			s.append(sr.lset, smp)
		}
	})
}

// Latest is the time of the newest sample, where questions about "now"
// are asked; the zero time for an empty store.
func (s *Store) Latest() time.Time {
	if s.count == 0 && s.round == 0 {
		return time.Time{}
	}
	return time.UnixMilli(s.latest)
}

// DropBefore forgets the samples older than t, and the series left
// without any, so that a store fed for a long time stays bounded.
func (s *Store) DropBefore(t time.Time) {
	ms := t.UnixMilli()
	for h, sr := range s.series {
		var kept *series
		for sr != nil {
			next := sr.next
			i := 0
			for i < len(sr.samples) && sr.samples[i].t < ms {
				i++
			}
			if i == len(sr.samples) {
				s.count--
			} else {
				sr.samples = sr.samples[i:]
				sr.next, kept = kept, sr
			}
			sr = next
		}
		if kept == nil {
			delete(s.series, h)
		} else {
			s.series[h] = kept
		}
	}
}

// each calls fn for every series.
func (s *Store) each(fn func(*series)) {
	for _, sr := range s.series {
		for ; sr != nil; sr = sr.next {
			fn(sr)
		}
	}
}

// Series is how many series the store holds.
func (s *Store) Series() int { return s.count }

// Querier is the store's view between mint and maxt (ms).
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{s: s, mint: mint, maxt: maxt}, nil
}

type querier struct {
	s          *Store
	mint, maxt int64
}

// Select is every series whose labels match, with its samples between
// mint and maxt (the hints', when given, which the engine narrows to
// what the expression looks at).
func (q *querier) Select(_ context.Context, sortSeries bool, hints *storage.SelectHints, matchers ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = hints.Start, hints.End
	}
	// The views are cut from chunks, not allocated one by one, nor
	// moved as one growing slice would be.
	var chunk []seriesView
	var out []storage.Series
	q.s.each(func(sr *series) {
		if !matches(sr.lset, matchers) {
			return
		}
		lo, _ := slices.BinarySearchFunc(sr.samples, mint, func(s sample, t int64) int { return cmp.Compare(s.t, t) })
		hi, found := slices.BinarySearchFunc(sr.samples, maxt, func(s sample, t int64) int { return cmp.Compare(s.t, t) })
		if found {
			hi++
		}
		if lo < hi {
			if len(chunk) == cap(chunk) {
				chunk = make([]seriesView, 0, min(max(2*len(out), 16), 4096))
			}
			chunk = append(chunk, seriesView{lset: sr.lset, samples: sr.samples[lo:hi]})
			out = append(out, &chunk[len(chunk)-1])
		}
	})
	if sortSeries {
		slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	}
	return &seriesSet{series: out, i: -1}
}

func matches(lset labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

// LabelValues are the values of name among the matching series, sorted.
func (q *querier) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]bool{}
	q.s.each(func(sr *series) {
		if v := sr.lset.Get(name); v != "" && matches(sr.lset, ms) {
			seen[v] = true
		}
	})
	return sortedKeys(seen), nil, nil
}

// LabelNames are the label names of the matching series, sorted.
func (q *querier) LabelNames(_ context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]bool{}
	q.s.each(func(sr *series) {
		if matches(sr.lset, ms) {
			sr.lset.Range(func(l labels.Label) { seen[l.Name] = true })
		}
	})
	return sortedKeys(seen), nil, nil
}

func (q *querier) Close() error { return nil }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, strings.Compare)
	return out
}

type seriesSet struct {
	series []storage.Series
	i      int
}

func (s *seriesSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *seriesSet) At() storage.Series                { return s.series[s.i] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

// sample is a float or a float histogram at a time. Its methods make a
// *sample a chunks.Sample: a pointer in an interface is no allocation,
// where a copy of the sample would be one for every sample read.
type sample struct {
	t  int64
	f  float64
	fh *histogram.FloatHistogram
}

func (s *sample) T() int64                      { return s.t }
func (s *sample) F() float64                    { return s.f }
func (s *sample) H() *histogram.Histogram       { return nil }
func (s *sample) FH() *histogram.FloatHistogram { return s.fh }
func (s *sample) Copy() chunks.Sample {
	c := *s
	if c.fh != nil {
		c.fh = c.fh.Copy()
	}
	return &c
}

func (s *sample) Type() chunkenc.ValueType {
	if s.fh != nil {
		return chunkenc.ValFloatHistogram
	}
	return chunkenc.ValFloat
}

// seriesView is a series' samples within a Select's time range, read in
// place (storage.NewListSeries wants them copied into a new slice).
type seriesView struct {
	lset    labels.Labels
	samples samples
}

func (v *seriesView) Labels() labels.Labels { return v.lset }

// Iterator reads the samples in place, reusing it when it is storage's
// list iterator, which the engine hands back series after series.
func (v *seriesView) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	if r, ok := it.(interface{ Reset(storage.Samples) }); ok {
		r.Reset(v.samples)
		return it
	}
	return storage.NewListSeriesIterator(v.samples)
}

// samples are a series' samples as storage.Samples.
type samples []sample

func (s samples) Get(i int) chunks.Sample { return &s[i] }
func (s samples) Len() int                { return len(s) }
