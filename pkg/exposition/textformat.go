package exposition

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// parsePromText parses the Prometheus text format (0.0.4, and 1.0.0's
// quoted UTF-8 names) in one pass straight into the model. It is several
// times faster than lexing with textparse and then regrouping, because
// label strings are not copied: they point into body, which therefore must
// not be modified while the result is in use.
//
// Each family is handed to emit as soon as the next one starts and then
// forgotten but for a hash of its name, so that memory stays at the size
// of the body plus one family. Samples of a family that come back after
// another family (which the format forbids) are left out with a warning:
// the first group is kept, as Prometheus keeps the first sample.
//
// Time is linear in the body (label sets are sorted once, duplicates found
// by the sort, buckets by a sort when the family ends), and ctx is looked
// at every few thousand lines.
func parsePromText(ctx context.Context, body []byte, lim Limits, emit func(*Family) error) ([]string, error) {
	p := &textParser{
		ctx:    ctx,
		lim:    lim,
		s:      unsafe.String(unsafe.SliceData(body), len(body)),
		open:   map[string]*textFam{},
		closed: map[uint64]closedType{},
		emit:   emit,
		index:  newSeriesIndex(),
		names:  newNameTable(),
		// A sample line is some 50 bytes and has a few labels: the
		// first slabs hold a small body whole.
		metricStore: slab[Metric]{next: len(body) / 48},
		labelStore:  slab[Label]{next: len(body) / 24},
	}
	if err := p.run(); err != nil {
		return p.warnings, &ParseError{Line: p.line, Err: err}
	}
	if p.cur != nil {
		if err := p.flush(p.cur); err != nil {
			return p.warnings, err
		}
	}
	return p.warnings, nil
}

// famKind is what the parser remembers of an emitted family: which sample
// names it owned.
// closedType is the type of an emitted family in one byte: the parser
// keeps one per family it has emitted, and that set must stay small. Only
// the types that own suffixes in the text format matter.
type closedType uint8

func closedTypeOf(t Type) closedType {
	switch t {
	case Histogram:
		return 1
	case Summary:
		return 2
	}
	return 0
}

func (c closedType) Type() Type {
	switch c {
	case 1:
		return Histogram
	case 2:
		return Summary
	}
	return Untyped
}

// textFam is a family being parsed, with what the parser knows of it.
// Its metrics are in the parser's buffer while it is the current family
// (only the current family has samples: the others are emitted, or have
// metadata alone).
type textFam struct {
	Family      // Metrics is filled when the family is emitted
	typed, help bool
}

type textParser struct {
	ctx  context.Context
	lim  Limits
	s    string
	pos  int
	line int

	// open holds the families not emitted yet: the current one, and those
	// with metadata but no samples so far.
	open map[string]*textFam
	// closed holds the name hash of every emitted family.
	closed   map[uint64]closedType
	cur      *textFam
	emit     func(*Family) error
	warnings []string
	dups     int
	samples  int

	scratch Labels // labels of the current line
	bounds  [32]knownBound
	names   *nameTable
	hashBuf []byte

	// The current family's metrics and their index by label hash, and
	// where finished families' metrics and labels are stored.
	series      seriesBuf
	index       seriesIndex
	metricStore slab[Metric]
	labelStore  slab[Label]
}

// knownBound is the text of a bucket bound and its value.
type knownBound struct {
	text  string
	value float64
}

// Slab sizes: a slab of metrics is at most 512 × 160 bytes, of labels
// 2048 × 32, so that a consumer of a stream keeps little beside the
// families it holds.
const (
	metricSlab = 512
	labelSlab  = 2048
)

// flush completes family f, the current one, and emits it, unless it has
// nothing to show yet.
func (p *textParser) flush(f *textFam) error {
	if p.series.n == 0 { // f's metrics, as it is the current family
		return nil
	}
	f.Metrics = p.metricStore.take(p.series.n, metricSlab)
	p.series.copyTo(f.Metrics)
	p.series.reset()
	p.index.reset()
	f.complete()
	for i := range f.Metrics {
		p.dedupe(&f.Family, &f.Metrics[i])
	}
	out := f.Family
	delete(p.open, f.Name)
	p.closed[xxhash.Sum64String(f.Name)] = closedTypeOf(f.Type)
	if p.cur == f {
		p.cur = nil
	}
	return p.emit(&out)
}

// dedupe drops the second bucket or quantile of the same bound, keeping
// the first, in buckets and quantiles that complete has sorted stably.
func (p *textParser) dedupe(f *Family, m *Metric) {
	kept := 0
	for i, b := range m.Buckets {
		if i > 0 && b.UpperBound == m.Buckets[kept-1].UpperBound {
			p.duplicate(f.Name+"_bucket", m.Labels, " le="+strconv.Quote(strconv.FormatFloat(b.UpperBound, 'g', -1, 64)))
			continue
		}
		m.Buckets[kept] = b
		kept++
	}
	m.Buckets = m.Buckets[:kept]
	kept = 0
	for i, q := range m.Quantiles {
		if i > 0 && q.Quantile == m.Quantiles[kept-1].Quantile {
			p.duplicate(f.Name, m.Labels, " quantile="+strconv.Quote(strconv.FormatFloat(q.Quantile, 'g', -1, 64)))
			continue
		}
		m.Quantiles[kept] = q
		kept++
	}
	m.Quantiles = m.Quantiles[:kept]
}

// switchTo makes f the current family, emitting the one before.
func (p *textParser) switchTo(f *textFam) error {
	if p.cur != nil && p.cur != f {
		if err := p.flush(p.cur); err != nil {
			return err
		}
	}
	p.cur = f
	return nil
}

func (p *textParser) run() error {
	for p.pos < len(p.s) {
		p.line++
		if p.line%ctxCheckEvery == 0 {
			if err := checkCtx(p.ctx); err != nil {
				return err
			}
		}
		end := strings.IndexByte(p.s[p.pos:], '\n')
		if end < 0 {
			end = len(p.s)
		} else {
			end += p.pos
		}
		line := p.s[p.pos:end]
		p.pos = end + 1
		line = skipBlank(strings.TrimRight(line, " \t\r"))
		if line == "" {
			continue
		}
		var err error
		if line[0] == '#' {
			err = p.comment(line)
		} else {
			err = p.sample(line)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *textParser) comment(line string) error {
	rest := strings.TrimLeft(line[1:], " \t")
	kw, rest, _ := strings.Cut(rest, " ")
	if kw != "HELP" && kw != "TYPE" {
		return nil // an ordinary comment
	}
	rest = strings.TrimLeft(rest, " \t")
	name, rest, err := p.metricName(rest)
	if err != nil {
		return fmt.Errorf("%s line: %w", kw, err)
	}
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return fmt.Errorf("%s line: invalid metric name %q", kw, name+rest)
	}
	text := strings.TrimLeft(rest, " \t")
	f, ok := p.open[name]
	if !ok {
		if _, done := p.closed[xxhash.Sum64String(name)]; done {
			if kw == "TYPE" {
				return fmt.Errorf("TYPE line for metric family %q after its samples", name)
			}
			p.warn(fmt.Sprintf("HELP line for metric family %q after its samples ignored", name))
			return nil
		}
		f = p.newFamily(name)
	}
	if err := p.switchTo(f); err != nil {
		return err
	}
	if kw == "HELP" {
		if f.help {
			return fmt.Errorf("second HELP line for metric family %q", name)
		}
		if !utf8.ValidString(text) {
			return fmt.Errorf("HELP text of %q is not valid UTF-8", name)
		}
		f.help = true
		f.Help = unescapeHelp(text)
	} else {
		if f.typed {
			return fmt.Errorf("second TYPE line for metric family %q", name)
		}
		if p.series.n > 0 { // f is current: switchTo made it so
			return fmt.Errorf("TYPE line for metric family %q after its samples", name)
		}
		switch t := Type(text); t {
		case Counter, Gauge, Histogram, Summary, Untyped:
			f.Type = t
		default:
			return fmt.Errorf("unknown metric type %q for %s", text, name)
		}
		f.typed = true
	}
	return nil
}

func unescapeHelp(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			case '\\':
				b.WriteByte('\\')
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// nameTable classes the bytes of metric and label names, and those of
// quoted strings, for the loops that scan them byte by byte. Label names
// are metric names without colons.
type nameTable [256]uint8

const (
	metricStart = 1 << iota
	metricChar
	labelStart
	labelChar
	quotedPlain // ASCII but for the quote and the backslash
)

func newNameTable() *nameTable {
	var t nameTable
	for c := range 256 {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		digit := c >= '0' && c <= '9'
		if letter {
			t[c] |= metricStart | labelStart
		}
		if letter || digit {
			t[c] |= metricChar | labelChar
		}
		if c == ':' {
			t[c] |= metricStart | metricChar
		}
		if c < utf8.RuneSelf && c != '"' && c != '\\' {
			t[c] |= quotedPlain
		}
	}
	return &t
}

// nameLen is the length of the name at the start of s: a metric name, or
// with labelName a label name.
func (t *nameTable) nameLen(s string, labelName bool) int {
	start, more := uint8(metricStart), uint8(metricChar)
	if labelName {
		start, more = labelStart, labelChar
	}
	if s == "" || t[s[0]]&start == 0 {
		return 0
	}
	i := 1
	for i < len(s) && t[s[i]]&more != 0 {
		i++
	}
	return i
}

// metricName reads a plain or "quoted" metric name at the start of s.
func (p *textParser) metricName(s string) (string, string, error) {
	if s != "" && s[0] == '"' {
		return p.quoted(s)
	}
	i := p.names.nameLen(s, false)
	if i == 0 {
		return "", s, fmt.Errorf("invalid metric name at %q", abbrev(s))
	}
	return s[:i], s[i:], nil
}

// quoted reads a double-quoted string with the escapes \\, \" and \n.
// Without escapes the result points into the body.
func (p *textParser) quoted(s string) (string, string, error) {
	t := p.names
	i := 1
	esc, high := false, false // high: a byte past ASCII, to check UTF-8
	for i < len(s) {
		c := s[i]
		if t[c]&quotedPlain != 0 {
			i++
			continue
		}
		if c == '\\' {
			if i+1 >= len(s) || (s[i+1] != '\\' && s[i+1] != '"' && s[i+1] != 'n') {
				return "", s, fmt.Errorf("invalid escape in %q", abbrev(s))
			}
			esc = true
			i += 2
			continue
		}
		if c == '"' {
			v := s[1:i]
			if high && !utf8.ValidString(v) {
				return "", s, fmt.Errorf("invalid UTF-8 in %q", abbrev(s))
			}
			if esc {
				v = unescaper.Replace(v)
			}
			return v, s[i+1:], nil
		}
		high = true
		i++
	}
	return "", s, fmt.Errorf("unterminated quoted string %q", abbrev(s))
}

var unescaper = strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n")

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func skipBlank(s string) string {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return s[i:]
}

func (p *textParser) sample(line string) error {
	var name string
	rest := line
	var err error
	if line[0] != '{' {
		if name, rest, err = p.metricName(line); err != nil {
			return err
		}
	}
	p.scratch = p.scratch[:0]
	if rest != "" && rest[0] == '{' {
		if name, rest, err = p.labels(rest[1:], name); err != nil {
			return err
		}
	}
	if name == "" {
		return errors.New("sample without a metric name")
	}
	if rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		if rest == "" {
			return fmt.Errorf("%s: missing value", name)
		}
		return fmt.Errorf("%s: unexpected %q after the metric name", name, abbrev(rest))
	}
	rest = skipBlank(rest)
	// The value ends at a space or a tab, and the timestamp follows.
	end := 0
	for end < len(rest) && rest[end] != ' ' && rest[end] != '\t' {
		end++
	}
	valText, tsText := rest[:end], ""
	if end < len(rest) {
		tsText = rest[end+1:]
	}
	v, err := parseValue(valText)
	if err != nil {
		return fmt.Errorf("%s: invalid value %q", name, valText)
	}
	var ts int64
	hasTS := false
	if tsText = skipBlank(tsText); tsText != "" {
		if ts, err = strconv.ParseInt(tsText, 10, 64); err != nil {
			return fmt.Errorf("%s: invalid timestamp %q", name, tsText)
		}
		hasTS = true
	}
	if err := p.lim.checkLabels(name, p.scratch, 0); err != nil {
		return err
	}
	sortLabels(p.scratch)
	if dup := duplicateName(p.scratch); dup != "" {
		return fmt.Errorf("%s: label %q appears twice", name, dup)
	}
	return p.add(name, v, ts, hasTS)
}

// parseValue is strconv.ParseFloat, with a shortcut for the integers
// most samples are: up to 15 digits, a float64 holds them exactly.
func parseValue(s string) (float64, error) {
	if n := len(s); n > 0 && n <= 15 {
		var v uint64
		for i := 0; i < n; i++ {
			d := s[i] - '0'
			if d > 9 {
				return strconv.ParseFloat(s, 64)
			}
			v = v*10 + uint64(d)
		}
		return float64(v), nil
	}
	return strconv.ParseFloat(s, 64)
}

// labels reads name="value" pairs up to the closing brace. A quoted name
// alone ({"my.metric", a="b"}) is the metric name of the 1.0.0 format.
func (p *textParser) labels(s, name string) (string, string, error) {
	for {
		s = skipBlank(s)
		if s == "" {
			return name, s, errors.New("unterminated label set")
		}
		if s[0] == '}' {
			return name, s[1:], nil
		}
		var ln string
		var err error
		if s[0] == '"' {
			if ln, s, err = p.quoted(s); err != nil {
				return name, s, err
			}
			if t := skipBlank(s); t != "" && (t[0] == ',' || t[0] == '}') {
				if name != "" {
					return name, s, fmt.Errorf("metric name given twice: %q and %q", name, ln)
				}
				name, s = ln, t
				if s[0] == ',' {
					s = s[1:]
				}
				continue
			}
		} else {
			i := p.names.nameLen(s, true)
			if i == 0 {
				return name, s, fmt.Errorf("invalid label name at %q", abbrev(s))
			}
			ln, s = s[:i], s[i:]
		}
		s = skipBlank(s)
		if s == "" || s[0] != '=' {
			return name, s, fmt.Errorf("label %s: expected '=' at %q", ln, abbrev(s))
		}
		s = skipBlank(s[1:])
		if s == "" || s[0] != '"' {
			return name, s, fmt.Errorf("label %s: value must be quoted, got %q", ln, abbrev(s))
		}
		var lv string
		if lv, s, err = p.quoted(s); err != nil {
			return name, s, err
		}
		p.scratch = append(p.scratch, Label{ln, lv})
		s = skipBlank(s)
		if s != "" && s[0] == ',' {
			s = s[1:]
		} else if s == "" || s[0] != '}' {
			return name, s, fmt.Errorf("expected ',' or '}' at %q", abbrev(s))
		}
	}
}

func (p *textParser) newFamily(name string) *textFam {
	f := &textFam{Family: Family{Name: name, Type: Untyped}}
	p.open[name] = f
	return f
}

// owner finds the open family a sample name belongs to, and its suffix.
// split is true when the name belongs to a family already emitted.
func (p *textParser) owner(name string) (f *textFam, suffix string, split bool) {
	cur := ""
	if c := p.cur; c != nil {
		// familyOf's first guess, without its map lookups: nearly every
		// sample belongs to the current family.
		if suf, ok := strings.CutPrefix(name, c.Name); ok && owns(c.Type, FormatText, suf) {
			return c, suf, false
		}
		cur = c.Name
	}
	fam, suffix, ok := familyOf(name, FormatText, cur, func(n string) (Type, bool) {
		if f, ok := p.open[n]; ok {
			return f.Type, true
		}
		return "", false
	})
	if ok {
		return p.open[fam], suffix, false
	}
	_, _, split = familyOf(name, FormatText, "", func(n string) (Type, bool) {
		t, ok := p.closed[xxhash.Sum64String(n)]
		return t.Type(), ok
	})
	return nil, "", split
}

func (p *textParser) add(name string, v float64, ts int64, hasTS bool) error {
	f, suffix, split := p.owner(name)
	if split {
		p.duplicateNote(fmt.Sprintf("sample %s%s ignored: its family's samples came earlier, and another family's since (the first group is kept)", name, p.scratch))
		return nil
	}
	if f == nil {
		f = p.newFamily(name)
	}
	if err := p.switchTo(f); err != nil {
		return err
	}
	drop, forbidden := "", ""
	switch {
	case f.Type == Histogram && suffix == "":
		return fmt.Errorf("histogram %s: sample %s needs one of the suffixes _bucket, _count or _sum", f.Name, name)
	case f.Type == Histogram && suffix == "_bucket":
		drop = "le"
	case f.Type == Histogram:
		forbidden = "le"
	case f.Type == Summary && suffix == "":
		drop = "quantile"
	case f.Type == Summary:
		forbidden = "quantile"
	}
	ls := p.scratch // sorted by sample
	special := ""   // the value of the le or quantile label
	if drop != "" {
		i, found := slices.BinarySearchFunc(ls, drop, func(l Label, n string) int { return strings.Compare(l.Name, n) })
		if !found {
			return fmt.Errorf("%s: missing %s label", name, drop)
		}
		special = ls[i].Value
		ls = slices.Delete(ls, i, i+1) // scratch is ours: remove in place
	}
	if forbidden != "" {
		if _, found := slices.BinarySearchFunc(ls, forbidden, func(l Label, n string) int { return strings.Compare(l.Name, n) }); found {
			return fmt.Errorf("%s: only %s carries a %s label", name, bucketOrQuantile(f), forbidden)
		}
	}
	p.samples++
	if err := p.lim.checkSamples(p.samples); err != nil {
		return err
	}
	grouped := f.Type == Histogram || f.Type == Summary

	// The lines of one histogram or summary are almost always adjacent:
	// compare with the last metric before hashing anything.
	mi := -1
	if n := p.series.n; grouped && n > 0 && slices.Equal(p.series.at(n-1).Labels, ls) {
		mi = n - 1
	} else {
		h := hashLabels(&p.hashBuf, ls)
		if j, ok := p.index.get(h); ok && slices.Equal(p.series.at(j).Labels, ls) {
			if !grouped {
				p.duplicate(name, ls, "")
				return nil
			}
			mi = j
		} else {
			m := Metric{Labels: p.cloneLabels(ls)}
			if n := p.series.n; grouped && n > 0 {
				// The metric before has as many buckets as this one will.
				if k := len(p.series.at(n - 1).Buckets); k > 0 {
					m.Buckets = make([]Bucket, 0, k)
				}
			}
			mi = p.series.push(m)
			if !ok {
				p.index.put(h, mi)
			}
		}
	}
	m := p.series.at(mi)
	switch suffix {
	case "_count":
		if m.HasCount {
			p.duplicate(name, m.Labels, "")
			return nil
		}
		m.Count, m.HasCount = v, true
	case "_sum":
		if m.HasSum {
			p.duplicate(name, m.Labels, "")
			return nil
		}
		m.Sum, m.HasSum = v, true
	case "_bucket":
		le, err := p.bound(len(m.Buckets), special)
		if err != nil {
			return fmt.Errorf("%s: le label: %w", name, err)
		}
		// Duplicates are dropped once the family is complete and sorted.
		m.Buckets = append(m.Buckets, Bucket{UpperBound: le, Count: v})
		if err := p.lim.checkBuckets(f.Name, len(m.Buckets)); err != nil {
			return err
		}
	default:
		if f.Type == Summary {
			q, err := parseBound(special)
			if err != nil {
				return fmt.Errorf("%s: quantile label: %w", name, err)
			}
			m.Quantiles = append(m.Quantiles, Quantile{Quantile: q, Value: v})
		} else {
			m.Value = v
		}
	}
	if hasTS {
		m.TimestampMs, m.HasTimestamp = ts, true
	}
	return nil
}

// bound parses the le label of bucket number i. The buckets of one
// histogram's series have the bounds of the series before, in the same
// order, so the text of each position's last bound is remembered.
func (p *textParser) bound(i int, text string) (float64, error) {
	if i < len(p.bounds) && p.bounds[i].text == text && text != "" {
		return p.bounds[i].value, nil
	}
	v, err := parseBound(text)
	if err == nil && i < len(p.bounds) {
		p.bounds[i] = knownBound{text, v}
	}
	return v, err
}

func bucketOrQuantile(f *textFam) string {
	if f.Type == Histogram {
		return f.Name + "_bucket"
	}
	return "the quantile samples of " + f.Name
}

// hashLabels is xxhash of the labels, each name and value followed by
// 0xff, written into *buf (reused from call to call): one call to hash a
// short string is cheaper than four to a Digest for every label.
func hashLabels(buf *[]byte, ls Labels) uint64 {
	b := (*buf)[:0]
	for _, l := range ls {
		b = append(b, l.Name...)
		b = append(b, 0xff)
		b = append(b, l.Value...)
		b = append(b, 0xff)
	}
	*buf = b
	return xxhash.Sum64(b)
}

func (p *textParser) duplicate(name string, ls Labels, extra string) {
	p.duplicateNote(fmt.Sprintf("duplicate series %s%s%s ignored (the first one is kept)", name, ls, extra))
}

// duplicateNote warns of a sample left out; past ten, once more in all,
// so that a hostile body cannot grow the warnings without bound.
func (p *textParser) duplicateNote(msg string) {
	p.dups++
	switch {
	case p.dups <= 10:
		p.warn(msg)
	case p.dups == 11:
		p.warn("more duplicate series ignored")
	}
}

func (p *textParser) warn(msg string) {
	if len(p.warnings) < 50 {
		p.warnings = append(p.warnings, msg)
	}
}

// cloneLabels copies the current line's labels into the label slab.
func (p *textParser) cloneLabels(ls Labels) Labels {
	out := p.labelStore.take(len(ls), labelSlab)
	copy(out, ls)
	return out
}
