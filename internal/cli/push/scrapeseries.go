package push

import (
	"hash/maphash"
	"slices"
	"sync"

	"github.com/prometheus/prometheus/model/histogram"

	"github.com/monctl/monctl/pkg/exposition"
)

// scrapeLabeler gives what is pushed of a source the labels a Prometheus
// scrape of it would: job and instance on every series, by the rule of
// honor_labels (false: a target's own job and instance become
// exported_job and exported_instance; true: they are kept), and, for a
// scraped target, the series of the scrape itself.
type scrapeLabeler struct {
	honor bool
	seed  maphash.Seed

	mu    sync.Mutex
	seen  map[string]map[uint64]struct{} // per target, its series in its last round
	spare map[string]map[uint64]struct{} // per target, the round's before, emptied for the next
}

func newScrapeLabeler(honor bool) *scrapeLabeler {
	return &scrapeLabeler{honor: honor, seed: maphash.MakeSeed(), seen: map[string]map[uint64]struct{}{}, spare: map[string]map[uint64]struct{}{}}
}

// relabel sets job and instance on every metric of f. The new label sets
// are cut from one allocation for the family, each with its own capacity
// (a handful of labels per series, and tens of thousands of series a
// round, made the allocator and the collector a tenth of the agent's CPU).
func (s *scrapeLabeler) relabel(f *exposition.Family, job, instance string) {
	n := 0
	for i := range f.Metrics {
		n += len(f.Metrics[i].Labels) + 2
	}
	room := make(exposition.Labels, 0, n)
	var scratch [2]exposition.Labels // one for each label added, never the one read
	for i := range f.Metrics {
		m := &f.Metrics[i]
		ls := m.Labels
		if ls.Get("instance") == "" && ls.Get("job") == "" && sortedByName(ls) {
			// The common case, whatever honor says: both go in their
			// places, in one copy (an empty one counts as absent).
			if len(ls)+2 > cap(room)-len(room) {
				room = make(exposition.Labels, 0, max(len(ls)+2, n))
			}
			start, k := len(room), 0
			put := [2]exposition.Label{{Name: "instance", Value: instance}, {Name: "job", Value: job}}
			for _, l := range ls {
				if l.Name == "instance" || l.Name == "job" {
					continue
				}
				for ; k < len(put) && put[k].Name < l.Name; k++ {
					room = append(room, put[k])
				}
				room = append(room, l)
			}
			room = append(room, put[k:]...)
			m.Labels = room[start:len(room):len(room)]
			continue
		}
		for j, l := range [...]exposition.Label{{Name: "job", Value: job}, {Name: "instance", Value: instance}} {
			if !s.honor || ls.Get(l.Name) == "" {
				scratch[j] = exposition.AppendWithTargetLabel(scratch[j][:0], ls, l.Name, l.Value)
				ls = scratch[j]
			}
		}
		if len(ls) == len(m.Labels) && &ls[0] == &m.Labels[0] {
			continue // honored: both were there
		}
		if len(ls) > cap(room)-len(room) { // exported_ labels took the room
			room = make(exposition.Labels, 0, max(len(ls), n))
		}
		start := len(room)
		room = append(room, ls...)
		m.Labels = room[start:len(room):len(room)]
	}
}

func sortedByName(ls exposition.Labels) bool {
	for i := 1; i < len(ls); i++ {
		if ls[i-1].Name >= ls[i].Name {
			return false
		}
	}
	return true
}

// targetRound is what one round of a target exposed, for its scrape
// series.
type targetRound struct {
	samples int
	series  map[uint64]struct{}
}

// startRound begins a round of target, in the set its round before last
// filled (emptied), when there is one.
func (s *scrapeLabeler) startRound(target string) targetRound {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.spare[target]
	delete(s.spare, target)
	if set == nil {
		set = map[uint64]struct{}{}
	}
	return targetRound{series: set}
}

// count adds f's series, as Prometheus stores them, to the round.
func (s *scrapeLabeler) count(r *targetRound, f *exposition.Family) {
	var h maphash.Hash
	h.SetSeed(s.seed)
	for i := range f.Metrics {
		m := &f.Metrics[i]
		f.StoredSeries(m, func(name string, extra exposition.Label, _ float64, _ *histogram.FloatHistogram) {
			h.Reset()
			h.WriteString(name)
			for _, l := range m.Labels {
				writeLabel(&h, l)
			}
			writeLabel(&h, extra)
			r.series[h.Sum64()] = struct{}{}
			r.samples++
		})
	}
}

// families are the series Prometheus adds for a scrape of target: up,
// scrape_duration_seconds, scrape_samples_scraped and
// scrape_series_added (the series not in its last successful round),
// with job, instance and the target's own labels (discovery's), as
// Prometheus gives them. A failed scrape is up 0 and scraped nothing.
func (s *scrapeLabeler) families(target, job, instance string, own exposition.Labels, r *exposition.Result, round *targetRound) []exposition.Family {
	up, added := 0.0, 0
	if r.Err == nil {
		up = 1
		s.mu.Lock()
		last := s.seen[target]
		for h := range round.series {
			if _, ok := last[h]; !ok {
				added++
			}
		}
		if last != nil {
			clear(last)
			s.spare[target] = last
		}
		s.seen[target] = round.series
		s.mu.Unlock()
	} else {
		round = &targetRound{}
	}
	labels := exposition.Labels{{Name: "instance", Value: instance}, {Name: "job", Value: job}}
	for _, l := range own {
		labels = exposition.WithTargetLabel(labels, l.Name, l.Value)
	}
	gauge := func(name string, v float64) exposition.Family {
		return exposition.Family{Name: name, Type: exposition.Gauge, Metrics: []exposition.Metric{{Labels: slices.Clone(labels), Value: v}}}
	}
	return []exposition.Family{
		gauge("up", up),
		gauge("scrape_duration_seconds", r.Duration.Seconds()),
		gauge("scrape_samples_scraped", float64(round.samples)),
		gauge("scrape_series_added", float64(added)),
	}
}

func writeLabel(h *maphash.Hash, l exposition.Label) {
	h.WriteByte(0xff)
	h.WriteString(l.Name)
	h.WriteByte(0xff)
	h.WriteString(l.Value)
}
