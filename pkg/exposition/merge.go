package exposition

import (
	"fmt"
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
		series   = map[string]bool{}
		warnings Warnings
	)
	for _, src := range sources {
		for i := range src.Families {
			f := &src.Families[i]
			name, typ := f.ExposedAs()
			j, ok := byName[name]
			if !ok {
				j = len(out)
				byName[name] = j
				out = append(out, MergedFamily{Family: Family{Name: f.Name, Type: f.Type, Help: f.Help, Unit: f.Unit}})
			} else if _, prev := out[j].ExposedAs(); prev != typ {
				warnings.Add(fmt.Sprintf("%s: family %s is a %s here but a %s elsewhere; left out",
					src.Target, f.Name, strings.ToLower(typ.String()), strings.ToLower(prev.String())))
				continue
			}
			for _, m := range f.Metrics {
				if addTarget {
					m.Labels = WithTargetLabel(m.Labels, TargetLabel, src.Target)
				}
				key := name + m.Labels.String()
				if series[key] {
					warnings.Add(fmt.Sprintf("%s: series %s%s is there twice; the first is kept", src.Target, name, m.Labels))
					continue
				}
				series[key] = true
				out[j].Metrics = append(out[j].Metrics, m)
				out[j].Times = append(out[j].Times, src.Time)
			}
		}
	}
	return out, warnings.List
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
