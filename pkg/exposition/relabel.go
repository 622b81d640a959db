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
