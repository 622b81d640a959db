package exposition

import (
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
// With emit set, each family is handed over as soon as the next one starts
// and then forgotten, so memory stays at the size of the body plus one
// family. A family whose samples are split (which the format forbids) is
// then emitted once per part.
func parsePromText(body []byte, emit func(*Family) error) ([]string, error) {
	p := &textParser{
		s:      unsafe.String(unsafe.SliceData(body), len(body)),
		byName: map[string]int{},
		cur:    -1,
		emit:   emit,
	}
	if err := p.run(); err != nil {
		return p.warnings, &ParseError{Line: p.line, Err: err}
	}
	if p.cur >= 0 {
		if err := p.flush(p.cur); err != nil {
			return p.warnings, err
		}
	}
	return p.warnings, nil
}

// flush completes family i and emits it, unless it has nothing to show yet.
func (p *textParser) flush(i int) error {
	f := &p.fams[i]
	if len(f.Metrics) == 0 {
		return nil
	}
	f.complete()
	out := *f
	f.Metrics = nil
	p.state[i].index = nil // made again only if the family is reopened
	return p.emit(&out)
}

// switchTo makes family i the current one, emitting the one before.
func (p *textParser) switchTo(i int) error {
	if p.cur >= 0 && p.cur != i {
		if err := p.flush(p.cur); err != nil {
			return err
		}
	}
	p.cur = i
	return nil
}

type textFamState struct {
	typed, help bool
	index       map[uint64]int // label hash -> metric, for duplicates and regrouping; made on first sample
}

type textParser struct {
	s    string
	pos  int
	line int

	fams     []Family // metadata of every family; metrics only until emitted
	state    []textFamState
	byName   map[string]int
	cur      int
	emit     func(*Family) error
	warnings []string
	dups     int

	scratch Labels // labels of the current line
	hasher  *xxhash.Digest
}

func (p *textParser) run() error {
	p.hasher = xxhash.New()
	for p.pos < len(p.s) {
		p.line++
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
	i, ok := p.byName[name]
	if !ok {
		i = p.newFamily(name, Untyped)
	}
	if err := p.switchTo(i); err != nil {
		return err
	}
	f, st := &p.fams[i], &p.state[i]
	if kw == "HELP" {
		if st.help {
			return fmt.Errorf("second HELP line for metric family %q", name)
		}
		st.help = true
		f.Help = unescapeHelp(text)
	} else {
		if st.typed {
			return fmt.Errorf("second TYPE line for metric family %q", name)
		}
		if len(f.Metrics) > 0 {
			return fmt.Errorf("TYPE line for metric family %q after its samples", name)
		}
		switch t := Type(text); t {
		case Counter, Gauge, Histogram, Summary, Untyped:
			f.Type = t
		default:
			return fmt.Errorf("unknown metric type %q for %s", text, name)
		}
		st.typed = true
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

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':'
}

func isNameChar(c byte) bool { return isNameStart(c) || c >= '0' && c <= '9' }

// metricName reads a plain or "quoted" metric name at the start of s.
func (p *textParser) metricName(s string) (string, string, error) {
	if s != "" && s[0] == '"' {
		return p.quoted(s)
	}
	i := 0
	for i < len(s) && isNameChar(s[i]) && (i > 0 || isNameStart(s[i])) {
		i++
	}
	if i == 0 {
		return "", s, fmt.Errorf("invalid metric name at %q", abbrev(s))
	}
	return s[:i], s[i:], nil
}

// quoted reads a double-quoted string with the escapes \\, \" and \n.
// Without escapes the result points into the body.
func (p *textParser) quoted(s string) (string, string, error) {
	i := 1
	esc := false
	for i < len(s) {
		c := s[i]
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
			if !utf8.ValidString(v) {
				return "", s, fmt.Errorf("invalid UTF-8 in %q", abbrev(s))
			}
			if esc {
				v = unescaper.Replace(v)
			}
			return v, s[i+1:], nil
		}
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
	valText, tsText, _ := strings.Cut(rest, " ")
	if i := strings.IndexByte(valText, '\t'); i >= 0 {
		valText, tsText = valText[:i], valText[i+1:]
	}
	v, err := strconv.ParseFloat(valText, 64)
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
	return p.add(name, v, ts, hasTS)
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
			i := 0 // label names are metric names without colons
			for i < len(s) && s[i] != ':' && isNameChar(s[i]) && (i > 0 || isNameStart(s[i])) {
				i++
			}
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
		for _, l := range p.scratch {
			if l.Name == ln {
				return name, s, fmt.Errorf("label %q appears twice", ln)
			}
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

func (p *textParser) newFamily(name string, t Type) int {
	p.fams = append(p.fams, Family{Name: name, Type: t})
	p.state = append(p.state, textFamState{})
	i := len(p.fams) - 1
	p.byName[name] = i
	return i
}

// owner finds the family a sample name belongs to, and its suffix.
func (p *textParser) owner(name string) (int, string) {
	try := func(i int) (int, string, bool) {
		f := &p.fams[i]
		if name == f.Name && f.Type != Histogram {
			return i, "", true
		}
		if len(name) > len(f.Name) && strings.HasPrefix(name, f.Name) {
			switch suf := name[len(f.Name):]; {
			case f.Type == Histogram && (suf == "_bucket" || suf == "_count" || suf == "_sum"):
				return i, suf, true
			case f.Type == Summary && (suf == "_count" || suf == "_sum"):
				return i, suf, true
			}
		}
		return 0, "", false
	}
	if p.cur >= 0 {
		if i, s, ok := try(p.cur); ok {
			return i, s
		}
	}
	if i, ok := p.byName[name]; ok {
		if i, s, ok := try(i); ok {
			return i, s
		}
	}
	for _, suf := range [...]string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suf); ok {
			if i, ok := p.byName[base]; ok {
				if i, s, ok := try(i); ok {
					return i, s
				}
			}
		}
	}
	return -1, ""
}

func (p *textParser) add(name string, v float64, ts int64, hasTS bool) error {
	fi, suffix := p.owner(name)
	if fi < 0 {
		fi = p.newFamily(name, Untyped)
	}
	if err := p.switchTo(fi); err != nil {
		return err
	}
	f, st := &p.fams[fi], &p.state[fi]
	if st.index == nil {
		st.index = map[uint64]int{}
	}
	drop := ""
	switch {
	case f.Type == Histogram && suffix == "_bucket":
		drop = "le"
	case f.Type == Summary && suffix == "":
		drop = "quantile"
	}
	ls := p.scratch
	special := "" // the value of the le or quantile label
	if drop != "" {
		found := false
		for i, l := range ls {
			if l.Name == drop {
				special, found = l.Value, true
				ls = ls[:i+copy(ls[i:], ls[i+1:])] // scratch is ours: remove in place
				break
			}
		}
		if !found {
			return fmt.Errorf("%s: missing %s label", name, drop)
		}
	}
	sortLabels(ls)
	grouped := f.Type == Histogram || f.Type == Summary

	// The lines of one histogram or summary are almost always adjacent:
	// compare with the last metric before hashing anything.
	mi := -1
	if n := len(f.Metrics); grouped && n > 0 && slices.Equal(f.Metrics[n-1].Labels, ls) {
		mi = n - 1
	} else {
		h := p.hash(ls)
		if j, ok := st.index[h]; ok && slices.Equal(f.Metrics[j].Labels, ls) {
			if !grouped {
				p.duplicate(name, ls, "")
				return nil
			}
			mi = j
		} else {
			f.Metrics = append(f.Metrics, Metric{Labels: cloneLabels(ls)})
			mi = len(f.Metrics) - 1
			if !ok {
				st.index[h] = mi
			}
		}
	}
	m := &f.Metrics[mi]
	if hasTS {
		m.TimestampMs, m.HasTimestamp = ts, true
	}
	switch suffix {
	case "_count":
		m.Count, m.hasCount = v, true
	case "_sum":
		m.Sum, m.hasSum = v, true
	case "_bucket":
		le, err := parseBound(special)
		if err != nil {
			return fmt.Errorf("%s: le label: %w", name, err)
		}
		for _, b := range m.Buckets {
			if b.UpperBound == le {
				p.duplicate(name, m.Labels, fmt.Sprintf(" le=%q", special))
				return nil
			}
		}
		m.Buckets = append(m.Buckets, Bucket{UpperBound: le, Count: v})
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
	return nil
}

var labelSep = []byte{0xff}

func (p *textParser) hash(ls Labels) uint64 {
	p.hasher.Reset()
	for _, l := range ls {
		p.hasher.WriteString(l.Name)
		p.hasher.Write(labelSep)
		p.hasher.WriteString(l.Value)
		p.hasher.Write(labelSep)
	}
	return p.hasher.Sum64()
}

func (p *textParser) duplicate(name string, ls Labels, extra string) {
	p.dups++
	switch {
	case p.dups <= 10:
		p.warnings = append(p.warnings, fmt.Sprintf("duplicate series %s%s%s ignored (the first one is kept)", name, ls, extra))
	case p.dups == 11:
		p.warnings = append(p.warnings, "more duplicate series ignored")
	}
}

func cloneLabels(ls Labels) Labels {
	if len(ls) == 0 {
		return nil
	}
	return append(make(Labels, 0, len(ls)), ls...)
}
