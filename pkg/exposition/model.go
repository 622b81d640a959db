// Package exposition fetches and parses the Prometheus exposition formats
// (text 0.0.4, OpenMetrics 1.0 and delimited protobuf) into a plain model,
// and offers the operations a person at a shell wants on top of it:
// selecting series, counter rates and histogram quantiles.
//
// The package keeps no global state; everything it does takes a context or
// works on values the caller owns.
package exposition

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/histogram"
)

// Type is a metric family type as written in the exposition.
type Type string

// The family types of the Prometheus text format and OpenMetrics 1.0.
const (
	Counter        Type = "counter"
	Gauge          Type = "gauge"
	Histogram      Type = "histogram"
	GaugeHistogram Type = "gaugehistogram"
	Summary        Type = "summary"
	Info           Type = "info"
	StateSet       Type = "stateset"
	Unknown        Type = "unknown" // OpenMetrics' name for a family without a type; parsed as Untyped
	Untyped        Type = "untyped" // the text format's name, which the model uses for both
)

// IsHistogram reports whether samples of the type carry buckets.
func (t Type) IsHistogram() bool { return t == Histogram || t == GaugeHistogram }

// HasQuantiles reports whether a metric of the type is a distribution:
// count, sum, and buckets or quantiles to estimate quantiles from.
func (t Type) HasQuantiles() bool { return t.IsHistogram() || t == Summary }

// Family is one metric family: the metadata and every metric that belongs to it.
type Family struct {
	Name    string
	Type    Type
	Help    string
	Unit    string
	Metrics []Metric
}

// Label is one label pair.
type Label struct {
	Name, Value string
}

// Labels are kept sorted by name; __name__ is never among them.
type Labels []Label

// Get returns the value of the named label, or "".
func (ls Labels) Get(name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// String renders the labels the way PromQL does: {a="1", b="2"}.
func (ls Labels) String() string {
	var b strings.Builder
	b.WriteByte('{')
	ls.writeText(&b)
	b.WriteByte('}')
	return b.String()
}

// Text is the labels without braces, as tables and csv show them:
// a="1", b="2".
func (ls Labels) Text() string {
	var b strings.Builder
	ls.writeText(&b)
	return b.String()
}

func (ls Labels) writeText(b *strings.Builder) {
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Name)
		b.WriteString(`="`)
		b.WriteString(EscapeLabelValue(l.Value))
		b.WriteByte('"')
	}
}

// key is a compact identity of a label set, to match metrics across two
// scrapes.
func (ls Labels) key() string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.Name)
		b.WriteByte(0xff)
		b.WriteString(l.Value)
		b.WriteByte(0xff)
	}
	return b.String()
}

// sortLabels sorts by name: an insertion sort for the usual handful of
// labels (it runs once per series on the parser's hot path), a real sort
// beyond, so that a line with 50,000 labels stays linearithmic.
func sortLabels(ls Labels) {
	if len(ls) > 16 {
		// Not stable: two labels of one name are an error either way.
		slices.SortFunc(ls, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
		return
	}
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && nameLess(ls[j].Name, ls[j-1].Name); j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}

// nameLess is a < b, deciding by the first byte where it can: label
// names mostly differ there, and a byte compare is cheaper than a call.
func nameLess(a, b string) bool {
	if a != "" && b != "" && a[0] != b[0] {
		return a[0] < b[0]
	}
	return a < b
}

// duplicateName returns a label name that sorted ls holds twice, or "".
func duplicateName(ls Labels) string {
	for i := 1; i < len(ls); i++ {
		if ls[i].Name == ls[i-1].Name {
			return ls[i].Name
		}
	}
	return ""
}

var escaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// EscapeLabelValue escapes a label value for the text formats.
func EscapeLabelValue(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return escaper.Replace(s)
}

// Metric is one series of a family (for histograms and summaries: the group
// of lines that share a label set).
type Metric struct {
	Labels Labels
	// Value is the sample value of counters, gauges, unknown/untyped, info
	// and stateset metrics.
	Value float64
	// TimestampMs is the exposed timestamp in milliseconds, when HasTimestamp.
	TimestampMs  int64
	HasTimestamp bool
	// Created is the OpenMetrics _created time in Unix seconds; 0 when unknown.
	Created float64

	// Count and Sum of histograms and summaries (gcount/gsum for gauge histograms).
	Count, Sum float64
	Buckets    []Bucket   // classic histogram buckets, ascending, +Inf last
	Quantiles  []Quantile // summary quantiles as exposed
	Native     *histogram.FloatHistogram
	Exemplars  []Exemplar
	// Rate is set by ApplyRates when the series was seen in an earlier scrape.
	Rate *Rate
	// HasCount and HasSum say whether the exposition carried _count and
	// _sum (OpenMetrics lets a histogram have neither); writers write
	// only what was there.
	HasCount, HasSum bool
}

// Bucket is one cumulative classic histogram bucket.
type Bucket struct {
	UpperBound float64
	Count      float64
	Exemplar   *Exemplar
}

// Quantile is one summary quantile.
type Quantile struct {
	Quantile, Value float64
}

// Exemplar is an OpenMetrics exemplar.
type Exemplar struct {
	Labels Labels
	Value  float64
	// Timestamp is in Unix seconds, at the precision exposed (OpenMetrics
	// gives exemplars fractional seconds, not milliseconds).
	Timestamp    float64
	HasTimestamp bool
}

// SeriesCount counts the series a family would produce on ingestion
// (each bucket, count and sum of a histogram counts once).
func (f *Family) SeriesCount() int {
	n := 0
	for i := range f.Metrics {
		m := &f.Metrics[i]
		switch {
		case f.Type.IsHistogram() && m.Native != nil:
			n++
		case f.Type.IsHistogram():
			n += len(m.Buckets) + 2
		case f.Type == Summary:
			n += len(m.Quantiles) + 2
		default:
			n++
		}
	}
	return n
}

// complete puts a family's buckets and quantiles in order and gives a
// histogram without _count the count of its +Inf bucket.
func (f *Family) complete() {
	for i := range f.Metrics {
		m := &f.Metrics[i]
		sortBuckets(m.Buckets)
		sortQuantiles(m.Quantiles)
		if n := len(m.Buckets); f.Type.IsHistogram() && !m.HasCount && n > 0 && math.IsInf(m.Buckets[n-1].UpperBound, 1) {
			m.Count = m.Buckets[n-1].Count
		}
	}
}

// sortBuckets and sortQuantiles are stable, so that of two with the same
// bound the first exposed stays first (and is the one kept).
func sortBuckets(bs []Bucket) {
	byBound := func(a, b Bucket) int { return cmp.Compare(a.UpperBound, b.UpperBound) }
	if !slices.IsSortedFunc(bs, byBound) {
		slices.SortStableFunc(bs, byBound)
	}
}

func sortQuantiles(qs []Quantile) {
	byQuantile := func(a, b Quantile) int { return cmp.Compare(a.Quantile, b.Quantile) }
	if !slices.IsSortedFunc(qs, byQuantile) {
		slices.SortStableFunc(qs, byQuantile)
	}
}

// WithTargetLabel returns ls (sorted) with name=value added the way
// Prometheus attaches a target label when honor_labels is false: a label
// of that name the series already had, if not empty, is kept as
// exported_<name> (exported_exported_<name> if that is taken too, and so
// on); an empty one counts as absent. ls itself is not changed.
func WithTargetLabel(ls Labels, name, value string) Labels {
	return AppendWithTargetLabel(make(Labels, 0, len(ls)+2), ls, name, value)
}

// AppendWithTargetLabel is WithTargetLabel appending to out (its length
// 0), so that a hot path can reuse one slice.
func AppendWithTargetLabel(out, ls Labels, name, value string) Labels {
	// The common case, sorted labels without one of that name, is an
	// insertion: it is done for every series pushed or served.
	at, sorted := len(ls), true
	for i := range ls {
		if i > 0 && !nameLess(ls[i-1].Name, ls[i].Name) {
			sorted = false
			break
		}
		if at == len(ls) && !nameLess(ls[i].Name, name) {
			at = i
		}
	}
	if sorted && (at == len(ls) || ls[at].Name != name || ls[at].Value == "") {
		out = append(out, ls[:at]...)
		out = append(out, Label{name, value})
		if at < len(ls) && ls[at].Name == name {
			at++ // an empty label counts as absent
		}
		return append(out, ls[at:]...)
	}
	existing := ""
	for _, l := range ls {
		if l.Name == name {
			existing = l.Value
			continue
		}
		out = append(out, l)
	}
	out = append(out, Label{name, value})
	if existing != "" {
		exported := "exported_" + name
		for out.Get(exported) != "" {
			exported = "exported_" + exported
		}
		out = slices.DeleteFunc(out, func(l Label) bool { return l.Name == exported })
		out = append(out, Label{exported, existing})
	}
	sortLabels(out)
	return out
}
