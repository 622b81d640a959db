package exposition

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// famState is what the builder remembers about a family while parsing.
type famState struct {
	typed, help, unit bool           // metadata seen
	index             map[uint64]int // label hash -> last metric index with those labels
	lastGroup         uint64         // label hash of the newest metric (OpenMetrics grouping)
	owned             []string       // sample names registered in builder.owned
}

// builder folds the entries of textparse's OpenMetrics parser into
// families and enforces the rules of omcheck.go. (The text format has a
// parser of its own, textformat.go.)
type builder struct {
	fams    []Family
	state   []famState
	byName  map[string]int // family name -> index
	owned   map[string]int // OpenMetrics: every sample name a family may use -> family
	cur     int            // family being filled, -1 before the first
	entries int            // entries consumed, to locate an error
	samples int            // series entries, for the sample limit

	ctx context.Context
	lim Limits

	body           []byte
	lineAt, lineNo int // start and number of the line exemplarTime last found

	lbls    labels.Labels
	ex      exemplar.Exemplar
	hashBuf []byte
}

func newBuilder(ctx context.Context, lim Limits) *builder {
	return &builder{byName: map[string]int{}, owned: map[string]int{}, cur: -1, ctx: ctx, lim: lim}
}

// errorLine finds the line the parser stopped on: textparse does not
// expose its offset, but in OpenMetrics each entry it returns is one line.
func (b *builder) errorLine(body []byte) int {
	return min(b.entries, bytes.Count(body, []byte("\n"))) + 1
}

func (b *builder) run(p textparse.Parser) error {
	for {
		if b.entries%ctxCheckEvery == ctxCheckEvery-1 {
			if err := checkCtx(b.ctx); err != nil {
				return err
			}
		}
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			return b.finish()
		}
		if err != nil {
			return err
		}
		switch e {
		case textparse.EntryType:
			name, t := p.Type()
			err = b.meta(string(name), "TYPE", func(s *famState) bool { return s.typed }, func(f *Family, s *famState) error {
				s.typed = true
				f.Type = Type(t)
				if f.Unit != "" && (f.Type == Info || f.Type == StateSet) {
					return fmt.Errorf("%s metric family %q cannot have a unit", f.Type, f.Name)
				}
				return b.register(b.cur)
			})
		case textparse.EntryHelp:
			name, h := p.Help()
			err = b.meta(string(name), "HELP", func(s *famState) bool { return s.help }, func(f *Family, s *famState) error {
				s.help = true
				f.Help = string(h)
				return nil
			})
		case textparse.EntryUnit:
			name, u := p.Unit()
			err = b.meta(string(name), "UNIT", func(s *famState) bool { return s.unit }, func(f *Family, s *famState) error {
				if f.Type == Info || f.Type == StateSet {
					return fmt.Errorf("%s metric family %q cannot have a unit", f.Type, f.Name)
				}
				s.unit = true
				f.Unit = string(u)
				return nil
			})
		case textparse.EntrySeries:
			series, ts, v := p.Series()
			p.Labels(&b.lbls)
			err = b.series(p, series, ts, v)
		case textparse.EntryComment:
			// plain comments carry nothing
		default:
			err = fmt.Errorf("unexpected entry %d", e)
		}
		if err != nil {
			return err
		}
		b.entries++
	}
}

// meta switches to (or creates) the family a metadata line names and applies
// set; seen says whether that kind of line was already given.
func (b *builder) meta(name, what string, seen func(*famState) bool, set func(*Family, *famState) error) error {
	i, ok := b.byName[name]
	if !ok {
		var err error
		if i, err = b.newFamily(name, Unknown); err != nil {
			return err
		}
	} else {
		switch {
		case seen(&b.state[i]):
			return fmt.Errorf("second %s line for metric family %q", what, name)
		case i != b.cur || len(b.fams[i].Metrics) > 0:
			return fmt.Errorf("%s for metric family %q must come before its samples, next to its other metadata", what, name)
		}
	}
	return set(&b.fams[i], &b.state[i])
}

func (b *builder) newFamily(name string, t Type) (int, error) {
	if b.cur >= 0 {
		if err := b.finishFamily(b.cur); err != nil {
			return 0, err
		}
	}
	b.fams = append(b.fams, Family{Name: name, Type: t})
	b.state = append(b.state, famState{index: map[uint64]int{}})
	i := len(b.fams) - 1
	b.byName[name] = i
	b.cur = i
	return i, b.register(i)
}

// register records the sample names a family may use, so that two
// OpenMetrics families can never claim the same name.
func (b *builder) register(i int) error {
	s := &b.state[i]
	for _, n := range s.owned {
		delete(b.owned, n)
	}
	s.owned = s.owned[:0]
	f := &b.fams[i]
	names := []string{f.Name}
	for _, suf := range ownedSuffixes(f.Type, FormatOpenMetrics) {
		if suf != "" {
			names = append(names, f.Name+suf)
		}
	}
	for _, n := range names {
		if j, ok := b.owned[n]; ok && j != i {
			return fmt.Errorf("metric family %q clashes with family %q over the name %q", f.Name, b.fams[j].Name, n)
		}
		b.owned[n] = i
		s.owned = append(s.owned, n)
	}
	return nil
}

// owner finds the family that sample name belongs to and the suffix it
// carries, or -1.
func (b *builder) owner(name string) (int, string) {
	cur := ""
	if b.cur >= 0 {
		cur = b.fams[b.cur].Name
	}
	fam, suffix, ok := familyOf(name, FormatOpenMetrics, cur, func(n string) (Type, bool) {
		i, ok := b.byName[n]
		if !ok {
			return "", false
		}
		return b.fams[i].Type, true
	})
	if !ok {
		return -1, ""
	}
	return b.byName[fam], suffix
}

func (b *builder) series(p textparse.Parser, raw []byte, ts *int64, v float64) error {
	name := b.lbls.Get(labels.MetricName)
	if name == "" {
		return errors.New("sample without a metric name")
	}
	if dup, ok := b.lbls.HasDuplicateLabelNames(); ok {
		return fmt.Errorf("%s: label %q appears twice", name, dup)
	}
	if trailingComma(raw) {
		return fmt.Errorf("%s: a label set must not end in a comma", name)
	}
	if n := b.lbls.Len() - 1; b.lim != (Limits{}) && n > 0 {
		ls := make(Labels, 0, n)
		b.lbls.Range(func(l labels.Label) {
			if l.Name != labels.MetricName {
				ls = append(ls, Label{l.Name, l.Value})
			}
		})
		if err := b.lim.checkLabels(name, ls, 0); err != nil {
			return err
		}
	}
	b.samples++
	if err := b.lim.checkSamples(b.samples); err != nil {
		return err
	}
	fi, suffix := b.owner(name)
	switch {
	case fi < 0:
		var err error
		if fi, err = b.newFamily(name, Unknown); err != nil {
			return err
		}
	case fi != b.cur:
		return fmt.Errorf("samples of metric family %q are not grouped together", b.fams[fi].Name)
	}
	f, s := &b.fams[fi], &b.state[fi]
	ex := b.exemplar(p)
	if err := omCheckSample(f, name, suffix, &b.lbls, raw, v, ex); err != nil {
		return err
	}

	var drop string
	switch {
	case f.Type.IsHistogram() && suffix == "_bucket":
		drop = "le"
	case f.Type == Summary && suffix == "":
		drop = "quantile"
	}
	grouped := f.Type.HasQuantiles() || suffix == "_created"
	h := b.hash(drop)
	mi, seen := s.index[h]
	if seen && !b.sameLabels(&f.Metrics[mi], drop) {
		seen = false // a hash collision: count it as another series
		h = h*31 + uint64(len(f.Metrics)) + 1
	}
	if seen && h != s.lastGroup {
		return fmt.Errorf("samples of %s%s are not grouped together", f.Name, f.Metrics[mi].Labels)
	}
	if seen && !grouped {
		// OpenMetrics lets one series repeat with later timestamps.
		prev := &f.Metrics[mi]
		if err := omCheckRepeat(prev, ts); err != nil {
			return fmt.Errorf("%s%s: %w", name, prev.Labels, err)
		}
		seen = false
	}
	if !seen {
		if suffix == "_created" {
			return fmt.Errorf("%s comes before the sample it belongs to", name)
		}
		if grouped && len(f.Metrics) > 0 {
			if err := omFinishMetric(f, &f.Metrics[len(f.Metrics)-1]); err != nil {
				return err
			}
		}
		f.Metrics = append(f.Metrics, Metric{Labels: b.publicLabels(drop)})
		mi = len(f.Metrics) - 1
		s.index[h] = mi
		s.lastGroup = h
	}
	m := &f.Metrics[mi]
	if ts != nil && suffix != "_created" {
		m.TimestampMs, m.HasTimestamp = *ts, true
	}
	switch {
	case suffix == "_created":
		m.Created = v
	case suffix == "_count" || suffix == "_gcount":
		m.Count = v
		m.HasCount = true
	case suffix == "_sum" || suffix == "_gsum":
		m.Sum = v
		m.HasSum = true
	case suffix == "_bucket":
		le, err := parseBound(b.lbls.Get("le"))
		if err != nil {
			return fmt.Errorf("%s: le label: %w", name, err)
		}
		// Buckets must ascend, so a duplicate is caught by comparing
		// with the one before.
		if len(m.Buckets) > 0 {
			if err := omCheckNextBucket(m.Buckets[len(m.Buckets)-1], le, v); err != nil {
				return fmt.Errorf("%s%s: %w", name, m.Labels, err)
			}
		}
		m.Buckets = append(m.Buckets, Bucket{UpperBound: le, Count: v, Exemplar: ex})
		if err := b.lim.checkBuckets(f.Name, len(m.Buckets)); err != nil {
			return err
		}
	case f.Type == Summary:
		q, err := parseBound(b.lbls.Get("quantile"))
		if err != nil {
			return fmt.Errorf("%s: quantile label: %w", name, err)
		}
		m.Quantiles = append(m.Quantiles, Quantile{Quantile: q, Value: v})
	default:
		m.Value = v
		if ex != nil {
			m.Exemplars = append(m.Exemplars, *ex)
		}
	}
	return nil
}

// exemplarTime reads the current line's exemplar timestamp as written,
// or returns fallback. Every OpenMetrics entry is one line, so the line is
// found by counting entries; the cursor only moves forward.
func (b *builder) exemplarTime(fallback float64) float64 {
	for b.lineNo < b.entries && b.lineAt < len(b.body) {
		i := bytes.IndexByte(b.body[b.lineAt:], '\n')
		if i < 0 {
			return fallback
		}
		b.lineAt += i + 1
		b.lineNo++
	}
	line := b.body[b.lineAt:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	// After the exemplar's closing brace come only its value and time.
	fields := bytes.Fields(line[bytes.LastIndexByte(line, '}')+1:])
	if len(fields) != 2 {
		return fallback
	}
	ts, err := strconv.ParseFloat(string(fields[1]), 64)
	if err != nil {
		return fallback
	}
	return ts
}

func (b *builder) exemplar(p textparse.Parser) *Exemplar {
	b.ex = exemplar.Exemplar{}
	if !p.Exemplar(&b.ex) {
		return nil
	}
	e := &Exemplar{Value: b.ex.Value, HasTimestamp: b.ex.HasTs}
	if b.ex.HasTs {
		// textparse keeps milliseconds; the line has the full precision.
		e.Timestamp = b.exemplarTime(float64(b.ex.Ts) / 1000)
	}
	b.ex.Labels.Range(func(l labels.Label) { e.Labels = append(e.Labels, Label{l.Name, l.Value}) })
	return e
}

// hash identifies the current sample's series without __name__ and the
// label named drop (le or quantile), so that the lines of one histogram or
// summary land in the same Metric.
func (b *builder) hash(drop string) uint64 {
	var h uint64
	h, b.hashBuf = b.lbls.HashWithoutLabels(b.hashBuf, drop)
	return h
}

func (b *builder) sameLabels(m *Metric, drop string) bool {
	i := 0
	ok := true
	b.lbls.Range(func(l labels.Label) {
		if !ok || l.Name == labels.MetricName || l.Name == drop {
			return
		}
		if i >= len(m.Labels) || m.Labels[i] != (Label{l.Name, l.Value}) {
			ok = false
		}
		i++
	})
	return ok && i == len(m.Labels)
}

// publicLabels converts the current labels, leaving out __name__ and drop.
// The strings share the one allocation labels.Labels made for the series.
func (b *builder) publicLabels(drop string) Labels {
	n := b.lbls.Len() - 1
	if n <= 0 {
		return nil
	}
	ls := make(Labels, 0, n)
	b.lbls.Range(func(l labels.Label) {
		if l.Name != labels.MetricName && l.Name != drop {
			ls = append(ls, Label{l.Name, l.Value})
		}
	})
	if len(ls) == 0 {
		return nil
	}
	return ls
}

// finish validates the last family and fills in what an exposition may
// leave out: a histogram without _count gets the +Inf bucket's count.
func (b *builder) finish() error {
	if b.cur >= 0 {
		if err := b.finishFamily(b.cur); err != nil {
			return err
		}
	}
	for fi := range b.fams {
		f := &b.fams[fi]
		if f.Type == Unknown {
			// One name for a family without a type, whichever format said so.
			f.Type = Untyped
		}
		// An OpenMetrics counter "foo" exposes foo_total; name the family
		// after what Prometheus stores and users query, as the text format does.
		if f.Type == Counter && !strings.HasSuffix(f.Name, "_total") {
			f.Name += "_total"
		}
		f.complete()
		for i := range f.Metrics {
			if q, dup := duplicateQuantile(f.Metrics[i].Quantiles); dup {
				return fmt.Errorf("%s%s: quantile %g given twice", f.Name, f.Metrics[i].Labels, q)
			}
		}
	}
	return nil
}

func (b *builder) finishFamily(i int) error {
	f := &b.fams[i]
	if n := len(f.Metrics); n > 0 && f.Type.HasQuantiles() {
		return omFinishMetric(f, &f.Metrics[n-1])
	}
	return nil
}

// parseBound parses an le or quantile label value.
func parseBound(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) {
		return 0, fmt.Errorf("invalid bound %q", s)
	}
	return v, nil
}

// trailingComma reports a comma right before the closing brace of a label
// set, outside quoted values.
func trailingComma(series []byte) bool {
	quoted, comma := false, false
	for i := 0; i < len(series); i++ {
		c := series[i]
		switch {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
			comma = false
		case quoted:
		case c == ',':
			comma = true
		case c == '}':
			return comma
		case c != ' ':
			comma = false
		}
	}
	return false
}
