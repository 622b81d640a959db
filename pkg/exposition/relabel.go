package exposition

import (
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
)

// relabels says whether the target changes the series it gives.
func (t *Target) relabels() bool { return len(t.Labels) > 0 || len(t.MetricRelabel) > 0 }

// relabel gives every series of f the target's labels, then applies its
// metric_relabel_configs, which see the series' name as __name__ (the
// family's name as served). It returns the families left: none when
// every series is dropped; more than f when a rule renamed some series,
// each new name a family of f's type and help.
func (t *Target) relabel(f *Family) []*Family {
	for i := range f.Metrics {
		m := &f.Metrics[i]
		for _, l := range t.Labels {
			m.Labels = WithTargetLabel(m.Labels, l.Name, l.Value)
		}
	}
	if len(t.MetricRelabel) == 0 {
		return []*Family{f}
	}
	name, _ := f.ExposedAs()
	lb := labels.NewBuilder(labels.EmptyLabels())
	kept := f.Metrics[:0]
	var renamed []*Family
	for _, m := range f.Metrics {
		lb.Reset(labels.EmptyLabels())
		lb.Set(model.MetricNameLabel, name)
		for _, l := range m.Labels {
			lb.Set(l.Name, l.Value)
		}
		if !relabel.ProcessBuilder(lb, t.MetricRelabel...) {
			continue
		}
		newName := lb.Get(model.MetricNameLabel)
		lb.Del(model.MetricNameLabel)
		m.Labels = m.Labels[:0]
		lb.Range(func(l labels.Label) { m.Labels = append(m.Labels, Label{Name: l.Name, Value: l.Value}) })
		if newName == name || newName == "" {
			kept = append(kept, m)
			continue
		}
		var to *Family
		for _, r := range renamed {
			if r.Name == newName {
				to = r
			}
		}
		if to == nil {
			to = &Family{Name: newName, Help: f.Help, Type: f.Type, Unit: f.Unit}
			renamed = append(renamed, to)
		}
		to.Metrics = append(to.Metrics, m)
	}
	f.Metrics = kept
	out := renamed
	if len(kept) > 0 {
		out = append([]*Family{f}, renamed...)
	}
	return out
}

// SeriesTrace is what a target's metric_relabel_configs did to one
// series.
type SeriesTrace struct {
	// Before is the series as scraped, with the target's labels.
	Before string `json:"before"`
	// After is the series served; "" when it was dropped.
	After string `json:"after,omitempty"`
	// DroppedBy is the number (from 1) of the rule that dropped it;
	// ChangedBy the rules that changed it on the way.
	DroppedBy int   `json:"droppedBy,omitempty"`
	ChangedBy []int `json:"changedBy,omitempty"`
}

// TraceRelabel is relabel for people: it applies the target's labels and
// then its metric_relabel_configs, one rule at a time, to every series of
// fams (scraped without them) and says what each rule did.
func (t *Target) TraceRelabel(fams []Family) []SeriesTrace {
	var out []SeriesTrace
	lb := labels.NewBuilder(labels.EmptyLabels())
	for i := range fams {
		f := &fams[i]
		name, _ := f.ExposedAs()
		for _, m := range f.Metrics {
			ls := m.Labels
			for _, l := range t.Labels {
				ls = WithTargetLabel(ls, l.Name, l.Value)
			}
			lb.Reset(labels.EmptyLabels())
			lb.Set(model.MetricNameLabel, name)
			for _, l := range ls {
				lb.Set(l.Name, l.Value)
			}
			before := lb.Labels()
			tr := SeriesTrace{Before: before.String()}
			prev := before
			for j, r := range t.MetricRelabel {
				if !relabel.ProcessBuilder(lb, r) {
					tr.DroppedBy = j + 1
					break
				}
				if now := lb.Labels(); !labels.Equal(now, prev) {
					tr.ChangedBy, prev = append(tr.ChangedBy, j+1), now
				}
			}
			if tr.DroppedBy == 0 {
				tr.After = prev.String()
			}
			out = append(out, tr)
		}
	}
	return out
}
