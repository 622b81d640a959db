package exposition

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Source is one set of families and where they came from.
type Source struct {
	Target   string
	Time     time.Time
	Families []Family
}

// TargetLabel is added to every series when several sources are merged,
// by the rule monctl serve follows (WithTargetLabel).
const TargetLabel = "target"

// Merge puts the families of every source together by the name and type
// they are written under. With several sources each series gets a target
// label. A family whose type differs from the first one of its name, and
// a series already written, are left out and named in the warnings.
func Merge(sources []Source) ([]MergedFamily, []string) {
	addTarget := len(sources) > 1
	var (
		out      []MergedFamily
		byName   = map[string]int{}
		seen     []seriesSet // per family of out
		warnings Warnings
		hashBuf  []byte
	)
	// Each family's size is known before it is filled, so that a round of
	// many targets does not copy its metrics again at every growth.
	sizes := map[string]int{}
	for _, src := range sources {
		for i := range src.Families {
			name, _ := src.Families[i].ExposedAs()
			sizes[name] += len(src.Families[i].Metrics)
		}
	}
	for _, src := range sources {
		for i := range src.Families {
			f := &src.Families[i]
			name, typ := f.ExposedAs()
			j, ok := byName[name]
			if !ok {
				j = len(out)
				byName[name] = j
				n := sizes[name]
				out = append(out, MergedFamily{Family: Family{Name: f.Name, Type: f.Type, Help: f.Help, Unit: f.Unit, Metrics: make([]Metric, 0, n)},
					Times: make([]time.Time, 0, n)})
				seen = append(seen, seriesSet{byHash: make(map[uint64]int, n)})
			} else if _, prev := out[j].ExposedAs(); prev != typ {
				warnings.Add(fmt.Sprintf("%s: family %s is of type %s here but %s elsewhere; left out",
					src.Target, f.Name, strings.ToLower(typ.String()), strings.ToLower(prev.String())))
				continue
			}
			for _, m := range f.Metrics {
				if addTarget {
					m.Labels = WithTargetLabel(m.Labels, TargetLabel, src.Target)
				}
				if !seen[j].add(&hashBuf, m.Labels, out[j].Metrics) {
					warnings.Add(fmt.Sprintf("%s: series %s%s is there twice; the first is kept", src.Target, name, m.Labels))
					continue
				}
				out[j].Metrics = append(out[j].Metrics, m)
				out[j].Times = append(out[j].Times, src.Time)
			}
		}
	}
	return out, warnings.List
}

// seriesSet finds a family's series met twice by a hash of their labels,
// without building a string per series; a hash met again is compared
// label by label, so that a collision never drops a series.
type seriesSet struct {
	byHash   map[uint64]int  // hash → index in the family's metrics
	collided map[string]bool // exact keys, past a collision
}

// add says whether ls is new among metrics (the family's so far), and
// notes it; it will be metrics[len(metrics)].
func (s *seriesSet) add(buf *[]byte, ls Labels, metrics []Metric) bool {
	sum := hashLabels(buf, ls)
	i, ok := s.byHash[sum]
	if !ok {
		s.byHash[sum] = len(metrics)
		return true
	}
	if slices.Equal(metrics[i].Labels, ls) {
		return false
	}
	if s.collided == nil {
		s.collided = map[string]bool{}
	}
	key := ls.key()
	if s.collided[key] {
		return false
	}
	s.collided[key] = true
	return true
}

// MergedFamily is a family of several sources, with the scrape time of
// each metric's source (line protocol and remote write give every sample
// a time).
type MergedFamily struct {
	Family
	Times []time.Time
}

// Warnings collects what a writer left out: the first ten, then a note
// that there was more.
type Warnings struct {
	List []string
	n    int
}

// Add notes one more thing left out.
func (w *Warnings) Add(s string) {
	w.n++
	switch {
	case w.n <= 10:
		w.List = append(w.List, s)
	case w.n == 11:
		w.List = append(w.List, "more left out")
	}
}
