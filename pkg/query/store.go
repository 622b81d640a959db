// Package query evaluates PromQL with Prometheus's own engine
// (github.com/prometheus/prometheus/promql) over the samples monctl
// gathered itself: a Store holds them in memory as Prometheus would have
// stored them, and an Engine asks questions of it. It returns plain
// values and never prints.
package query

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/monctl/monctl/pkg/exposition"
)

// Store holds gathered samples by series, in time order. It is a
// storage.Queryable; it is not safe for concurrent Adds.
type Store struct {
	series map[string]*series // by the series' labels
	latest int64              // ms, the newest sample
	b      labels.ScratchBuilder
}

type series struct {
	lset    labels.Labels
	samples []sample
}

// NewStore is an empty store.
func NewStore() *Store { return &Store{series: map[string]*series{}} }

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
				s.append(s.b.Labels(), sample{t: ts, f: v, fh: h})
			})
		}
	}
}

func (s *Store) append(lset labels.Labels, smp sample) {
	key := lset.String()
	sr := s.series[key]
	if sr == nil {
		sr = &series{lset: lset}
		s.series[key] = sr
	}
	// Samples of a series go in time order; one that is not newer (the
	// same exposed timestamp again) is not stored twice.
	if n := len(sr.samples); n > 0 && sr.samples[n-1].t >= smp.t {
		return
	}
	sr.samples = append(sr.samples, smp)
	s.latest = max(s.latest, smp.t)
}

// Latest is the time of the newest sample, where questions about "now"
// are asked; the zero time for an empty store.
func (s *Store) Latest() time.Time {
	if len(s.series) == 0 {
		return time.Time{}
	}
	return time.UnixMilli(s.latest)
}

// DropBefore forgets the samples older than t, and the series left
// without any, so that a store fed for a long time stays bounded.
func (s *Store) DropBefore(t time.Time) {
	ms := t.UnixMilli()
	for k, sr := range s.series {
		i := 0
		for i < len(sr.samples) && sr.samples[i].t < ms {
			i++
		}
		if i == len(sr.samples) {
			delete(s.series, k)
			continue
		}
		sr.samples = sr.samples[i:]
	}
}

// Series is how many series the store holds.
func (s *Store) Series() int { return len(s.series) }

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
	var out []storage.Series
	for _, sr := range q.s.series {
		if !matches(sr.lset, matchers) {
			continue
		}
		var in []chunks.Sample
		for _, smp := range sr.samples {
			if smp.t >= mint && smp.t <= maxt {
				in = append(in, smp)
			}
		}
		if len(in) > 0 {
			out = append(out, storage.NewListSeries(sr.lset, in))
		}
	}
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
	for _, sr := range q.s.series {
		if v := sr.lset.Get(name); v != "" && matches(sr.lset, ms) {
			seen[v] = true
		}
	}
	return sortedKeys(seen), nil, nil
}

// LabelNames are the label names of the matching series, sorted.
func (q *querier) LabelNames(_ context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]bool{}
	for _, sr := range q.s.series {
		if matches(sr.lset, ms) {
			sr.lset.Range(func(l labels.Label) { seen[l.Name] = true })
		}
	}
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

// sample is a float or a float histogram at a time (chunks.Sample).
type sample struct {
	t  int64
	f  float64
	fh *histogram.FloatHistogram
}

func (s sample) T() int64                      { return s.t }
func (s sample) F() float64                    { return s.f }
func (s sample) H() *histogram.Histogram       { return nil }
func (s sample) FH() *histogram.FloatHistogram { return s.fh }
func (s sample) Copy() chunks.Sample {
	if s.fh != nil {
		s.fh = s.fh.Copy()
	}
	return s
}

func (s sample) Type() chunkenc.ValueType {
	if s.fh != nil {
		return chunkenc.ValFloatHistogram
	}
	return chunkenc.ValFloat
}
