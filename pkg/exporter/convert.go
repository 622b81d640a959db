package exporter

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/monctl/monctl/pkg/exposition"
)

// servedFamily is one family as it will be served: its exposed name, type
// and help (the first source's, so that every source agrees), and the label
// that marks its source (target="node"; empty for monctl's own families).
type servedFamily struct {
	fam    *exposition.Family
	name   string
	typ    dto.MetricType
	help   string
	source exposition.Label
}

// servedAs is how f is served: under its exposed name and type (gauge
// histograms as histograms: client_golang has no const gauge histogram),
// with its own help, marked with source.
func servedAs(f *exposition.Family, source exposition.Label) servedFamily {
	name, t := f.ExposedAs()
	if t == dto.MetricType_GAUGE_HISTOGRAM {
		t = dto.MetricType_HISTOGRAM
	}
	return servedFamily{fam: f, name: name, typ: t, help: f.Help, source: source}
}

// familiesCollector is a custom Collector over families gathered before
// the registry asks: each Collect turns them into const metrics. It is
// unchecked (Describe sends nothing), because re-exposed families are only
// known once scraped.
type familiesCollector struct {
	families []servedFamily
	descs    *descCache
}

func (familiesCollector) Describe(chan<- *prometheus.Desc) {}

func (c familiesCollector) Collect(ch chan<- prometheus.Metric) {
	for i := range c.families {
		c.families[i].collect(ch, c.descs)
	}
}

// descCache keeps the Descs of one collection for the next: a Desc is
// costly to make (its names are checked and hashed) and the families of
// a source change little from one scrape to the next. Those the last
// collection did not use are forgotten, so that it holds no more than
// one collection's.
type descCache struct {
	last, now map[string]*prometheus.Desc
}

// next starts a collection.
func (c *descCache) next() { c.last, c.now = c.now, map[string]*prometheus.Desc{} }

// get is the Desc of a family and help with these label names.
func (c *descCache) get(name, help string, labelNames []string) *prometheus.Desc {
	key := name + "\xff" + help + "\xff" + strings.Join(labelNames, "\xff")
	if d, ok := c.now[key]; ok {
		return d
	}
	d, ok := c.last[key]
	if !ok {
		// Copies: the strings point into a target's body, which a Desc
		// kept for the next collection would otherwise keep whole.
		names := make([]string, len(labelNames))
		for i, n := range labelNames {
			names[i] = strings.Clone(n)
		}
		d = prometheus.NewDesc(strings.Clone(name), strings.Clone(help), names, nil)
	}
	if c.now == nil { // a cache of one build
		c.now = map[string]*prometheus.Desc{}
	}
	c.now[key] = d
	return d
}

// collect sends one const metric per series. Series of one family may
// carry different label names; each set gets its own Desc. They go in
// the order the registry sorts them into (by label values, name by name),
// so that its sort finds them in order: an exposition of a million series
// not sorted that way took the registry seconds to sort, through
// client_model's getters, where sorting the model's labels takes a
// fraction of that.
func (s *servedFamily) collect(ch chan<- prometheus.Metric, descs *descCache) {
	var names, values []string
	type labelled struct {
		m  *exposition.Metric
		ls exposition.Labels
	}
	all := make([]labelled, len(s.fam.Metrics))
	for i := range s.fam.Metrics {
		m := &s.fam.Metrics[i]
		ls := m.Labels
		if s.source.Name != "" {
			ls = exposition.WithTargetLabel(ls, s.source.Name, s.source.Value)
		}
		all[i] = labelled{m, ls}
	}
	if !slices.IsSortedFunc(all, func(a, b labelled) int { return compareValues(a.ls, b.ls) }) {
		slices.SortFunc(all, func(a, b labelled) int { return compareValues(a.ls, b.ls) })
	}
	var d *prometheus.Desc
	var dNames []string // the label names of d
	for _, x := range all {
		m, ls := x.m, x.ls
		names, values = names[:0], values[:0]
		for _, l := range ls {
			names = append(names, l.Name)
			values = append(values, l.Value)
		}
		// The series of a family mostly share their label names: the
		// Desc of the series before is looked up only when they differ.
		if d == nil || !slices.Equal(names, dNames) {
			d = descs.get(s.name, s.help, names)
			dNames = append(dNames[:0], names...)
		}
		if err := checkCounts(s.typ, m); err != nil {
			ch <- prometheus.NewInvalidMetric(d, fmt.Errorf("%s%s: %w", s.name, m.Labels, err))
			continue
		}
		dm := exposition.MetricDTO(s.typ, m, ls)
		// The registry wants label pairs sorted by name.
		slices.SortFunc(dm.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
		ch <- series{desc: d, m: dm}
	}
}

// compareValues orders two label sets, sorted by name, as client_golang's
// registry orders the series of a family: the one with fewer labels
// first, then by their values, position by position.
func compareValues(a, b exposition.Labels) int {
	if len(a) != len(b) {
		return cmp.Compare(len(a), len(b))
	}
	for i := range min(len(a), len(b)) {
		if c := strings.Compare(a[i].Value, b[i].Value); c != 0 {
			return c
		}
	}
	return 0
}

// series is one series for the registry, written by the exposition
// model's one conversion to client_model (exposition.MetricDTO).
type series struct {
	desc *prometheus.Desc
	m    *dto.Metric
}

func (s series) Desc() *prometheus.Desc { return s.desc }

// Write hands the registry the series' parts rather than a deep copy, as
// client_golang's const metrics do: a target of a million series would
// otherwise be held twice while it is encoded.
func (s series) Write(out *dto.Metric) error {
	out.Label, out.TimestampMs = s.m.Label, s.m.TimestampMs
	out.Counter, out.Gauge, out.Untyped, out.Summary, out.Histogram = s.m.Counter, s.m.Gauge, s.m.Untyped, s.m.Summary, s.m.Histogram
	return nil
}

var errBadCount = errors.New("count is not a whole number of 0 or more")

// checkCounts refuses a histogram or summary whose counts are not whole
// numbers: Prometheus would store them, but no client library could have
// counted them, so the target is broken.
func checkCounts(t dto.MetricType, m *exposition.Metric) error {
	counts := []float64{m.Count}
	switch {
	case t == dto.MetricType_HISTOGRAM && m.Native != nil:
		counts = []float64{m.Native.Count, m.Native.ZeroCount}
	case t == dto.MetricType_HISTOGRAM:
		for _, b := range m.Buckets {
			counts = append(counts, b.Count)
		}
	case t != dto.MetricType_SUMMARY:
		return nil
	}
	for _, c := range counts {
		if c < 0 || math.IsNaN(c) || math.IsInf(c, 0) || c != math.Trunc(c) {
			return errBadCount
		}
	}
	return nil
}
