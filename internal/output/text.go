package output

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/monctl/monctl/pkg/exposition"
)

// textWriter writes families in the Prometheus text format (0.0.4, with
// the quoted names of 1.0.0 for names outside the legacy character set)
// or OpenMetrics 1.0, from the model as it is: a _count or _sum only when
// the exposition had one, exemplars and _created lines (OpenMetrics) at
// full precision. A series OpenMetrics forbids (a negative counter, a
// histogram whose buckets do not add up) is left out with a warning, so
// that what monctl writes, monctl and Prometheus can read.
type textWriter struct {
	om       bool
	buf      []byte
	natives  int
	warnings exposition.Warnings
	// owned holds every sample name a family written so far may use,
	// since two families must never claim the same one.
	owned map[string]string
}

func (w *textWriter) family(f *exposition.Family) {
	name, typ := f.Name, string(f.Type)
	if !w.om {
		// The text format has no info, stateset or gaugehistogram.
		switch f.Type {
		case exposition.Info, exposition.StateSet:
			name, _ = f.ExposedAs()
			typ = "gauge"
		case exposition.GaugeHistogram:
			typ = "histogram"
		}
	} else {
		if f.Type == exposition.Counter {
			name = strings.TrimSuffix(name, "_total") // the family; its samples end in _total
		}
		if f.Type == exposition.Untyped {
			typ = "unknown"
		}
	}
	if strings.IndexByte(name, 0) >= 0 {
		// Prometheus' lexer ends a name at a NUL byte.
		w.warnings.Add(fmt.Sprintf("family %q left out: the text formats cannot hold a NUL byte in a name", name))
		return
	}
	if !w.claim(f, name, typ) {
		return
	}
	if f.Help != "" {
		w.buf = append(w.buf, "# HELP "...)
		w.buf = appendName(w.buf, name)
		w.buf = append(w.buf, ' ')
		w.buf = appendHelp(w.buf, f.Help, w.om)
		w.buf = append(w.buf, '\n')
	}
	w.buf = append(w.buf, "# TYPE "...)
	w.buf = appendName(w.buf, name)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, typ...)
	w.buf = append(w.buf, '\n')
	if w.om && f.Unit != "" && f.Type != exposition.Info && f.Type != exposition.StateSet && strings.HasSuffix(name, "_"+f.Unit) {
		w.buf = append(w.buf, "# UNIT "...)
		w.buf = appendName(w.buf, name)
		w.buf = append(w.buf, ' ')
		w.buf = append(w.buf, f.Unit...)
		w.buf = append(w.buf, '\n')
	}
	for i := range f.Metrics {
		m := &f.Metrics[i]
		check, format := promWritable, "the Prometheus text format"
		if w.om {
			check, format = omWritable, "OpenMetrics"
		}
		err := check(f, m)
		for _, l := range m.Labels {
			if strings.IndexByte(l.Name, 0) >= 0 {
				err = fmt.Errorf("a NUL byte in a label name")
			}
		}
		if err != nil {
			w.warnings.Add(fmt.Sprintf("%s%s left out: %s cannot hold it (%v)", f.Name, m.Labels, format, err))
			continue
		}
		w.metric(f, name, m)
	}
}

func (w *textWriter) metric(f *exposition.Family, name string, m *exposition.Metric) {
	switch f.Type {
	case exposition.Counter:
		sample := f.Name
		if w.om {
			sample = name + "_total"
		}
		var ex *exposition.Exemplar
		if w.om && len(m.Exemplars) > 0 {
			ex = &m.Exemplars[0]
		}
		w.sample(sample, m, "", 0, m.Value, ex)
		w.created(name, m)
	case exposition.Histogram, exposition.GaugeHistogram:
		if m.Native != nil {
			w.natives++
		}
		for _, b := range m.Buckets {
			var ex *exposition.Exemplar
			if w.om {
				ex = b.Exemplar
			}
			w.sample(name+"_bucket", m, "le", b.UpperBound, b.Count, ex)
		}
		count, sum := "_count", "_sum"
		if w.om && f.Type == exposition.GaugeHistogram {
			count, sum = "_gcount", "_gsum"
		}
		// OpenMetrics: both or neither, and no sum beside negative buckets.
		hasCount, hasSum := m.HasCount, m.HasSum
		if w.om {
			negative := len(m.Buckets) > 0 && m.Buckets[0].UpperBound < 0
			hasSum = hasSum && hasCount && !(negative && f.Type == exposition.Histogram)
			hasCount = hasSum
		}
		if hasSum {
			w.sample(name+sum, m, "", 0, m.Sum, nil)
		}
		if hasCount {
			w.sample(name+count, m, "", 0, m.Count, nil)
		}
		if f.Type == exposition.Histogram {
			w.created(name, m)
		}
	case exposition.Summary:
		for _, q := range m.Quantiles {
			w.sample(name, m, "quantile", q.Quantile, q.Value, nil)
		}
		if m.HasSum {
			w.sample(name+"_sum", m, "", 0, m.Sum, nil)
		}
		if m.HasCount {
			w.sample(name+"_count", m, "", 0, m.Count, nil)
		}
		w.created(name, m)
	case exposition.Info:
		sample := name // the text format's name already ends in _info
		if w.om {
			sample += "_info"
		}
		w.sample(sample, m, "", 0, m.Value, nil)
	default:
		w.sample(name, m, "", 0, m.Value, nil)
	}
}

// The sample names each type uses, by the type written: OpenMetrics',
// and the text format's, whose readers (expfmt) give a sample a_count to
// a histogram or summary a.
var (
	omSuffixes = map[string][]string{
		"counter":        {"_total", "_created"},
		"histogram":      {"_bucket", "_count", "_sum", "_created"},
		"gaugehistogram": {"_bucket", "_gcount", "_gsum"},
		"summary":        {"_count", "_sum", "_created"},
		"info":           {"_info"},
	}
	textSuffixes = map[string][]string{
		"histogram": {"_bucket", "_count", "_sum"},
		"summary":   {"_count", "_sum"},
	}
)

// claim registers the sample names of family f (written as name of type
// typ), or leaves the family out with a warning when another family
// written before holds one of them: an input may hold a gauge foo_created
// or foo_count beside a histogram foo, which the formats' readers would
// take for the histogram's.
func (w *textWriter) claim(f *exposition.Family, name, typ string) bool {
	if w.owned == nil {
		w.owned = map[string]string{}
	}
	suffixes := textSuffixes[typ]
	if w.om {
		suffixes = omSuffixes[typ]
	}
	names := append(make([]string, 0, len(suffixes)+1), name)
	for _, suf := range suffixes {
		names = append(names, name+suf)
	}
	for _, n := range names {
		if other, taken := w.owned[n]; taken {
			w.warnings.Add(fmt.Sprintf("family %s left out: it cannot be written beside family %s, which uses the name %s", f.Name, other, n))
			return false
		}
	}
	for _, n := range names {
		w.owned[n] = f.Name
	}
	return true
}

// created writes OpenMetrics' _created line, when the series has one.
func (w *textWriter) created(name string, m *exposition.Metric) {
	if !w.om || m.Created == 0 {
		return
	}
	w.sample(name+"_created", m, "", 0, m.Created, nil)
}

// sample writes one line: the name, the labels with extra (le or
// quantile) last, the value, the timestamp, an exemplar.
func (w *textWriter) sample(name string, m *exposition.Metric, extra string, bound, v float64, ex *exposition.Exemplar) {
	legacy := isLegacyName(name, true)
	if legacy {
		w.buf = append(w.buf, name...)
	}
	if !legacy || len(m.Labels) > 0 || extra != "" {
		w.buf = append(w.buf, '{')
		sep := false
		if !legacy {
			w.buf = appendQuoted(w.buf, name)
			sep = true
		}
		for _, l := range m.Labels {
			if sep {
				w.buf = append(w.buf, ',')
			}
			w.buf = appendLabel(w.buf, l.Name, l.Value)
			sep = true
		}
		if extra != "" {
			if sep {
				w.buf = append(w.buf, ',')
			}
			w.buf = appendLabel(w.buf, extra, w.bound(bound))
		}
		w.buf = append(w.buf, '}')
	}
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, Float(v)...)
	if m.HasTimestamp {
		w.buf = append(w.buf, ' ')
		if w.om {
			w.buf = appendSeconds(w.buf, m.TimestampMs)
		} else {
			w.buf = strconv.AppendInt(w.buf, m.TimestampMs, 10)
		}
	}
	if ex != nil {
		w.buf = append(w.buf, " # {"...)
		for i, l := range ex.Labels {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.buf = appendLabel(w.buf, l.Name, l.Value)
		}
		w.buf = append(w.buf, "} "...)
		w.buf = append(w.buf, Float(ex.Value)...)
		if ex.HasTimestamp {
			w.buf = append(w.buf, ' ')
			w.buf = strconv.AppendFloat(w.buf, ex.Timestamp, 'f', -1, 64)
		}
	}
	w.buf = append(w.buf, '\n')
}

// appendSeconds writes a millisecond timestamp as OpenMetrics' seconds,
// exactly (1700000000123 is 1700000000.123).
func appendSeconds(b []byte, ms int64) []byte {
	u := uint64(ms)
	if ms < 0 {
		b = append(b, '-')
		u = uint64(^ms) + 1 // the magnitude, math.MinInt64 included
	}
	b = strconv.AppendUint(b, u/1000, 10)
	if frac := u % 1000; frac != 0 {
		b = append(b, '.')
		s := strconv.FormatUint(frac+1000, 10)[1:] // three digits
		b = append(b, strings.TrimRight(s, "0")...)
	}
	return b
}

// bound writes an le or quantile value; OpenMetrics wants them canonical,
// as floats (1.0, not 1), so that one bound is always spelled one way.
func (w *textWriter) bound(v float64) string {
	if w.om {
		return exposition.FormatBound(v)
	}
	return Float(v)
}

// isLegacyName reports whether s needs no quotes: [a-zA-Z_:][a-zA-Z0-9_:]*
// for metric names, the same without ':' for label names.
func isLegacyName(s string, metric bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || (metric && c == ':') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

func appendName(b []byte, name string) []byte {
	if isLegacyName(name, true) {
		return append(b, name...)
	}
	return appendQuoted(b, name)
}

func appendLabel(b []byte, name, value string) []byte {
	if isLegacyName(name, false) {
		b = append(b, name...)
	} else {
		b = appendQuoted(b, name)
	}
	b = append(b, '=')
	return appendQuoted(b, value)
}

// appendQuoted writes s in double quotes with \\, \" and \n escaped, as
// both formats read label values and quoted names.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, exposition.EscapeLabelValue(s)...)
	return append(b, '"')
}

// appendHelp escapes a HELP text: \\ and \n, and in OpenMetrics \" too.
func appendHelp(b []byte, s string, om bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '"' && om:
			b = append(b, '\\', '"')
		default:
			b = append(b, c)
		}
	}
	return b
}

// promWritable checks a series against what the Prometheus text format's
// readers refuse: Prometheus will not read a timestamp before 1970, expfmt
// (client_golang, prom2json) a negative histogram count.
func promWritable(f *exposition.Family, m *exposition.Metric) error {
	if m.HasTimestamp && m.TimestampMs < 0 {
		return fmt.Errorf("the timestamp %d is before 1970", m.TimestampMs)
	}
	if !f.Type.IsHistogram() {
		return nil
	}
	if m.HasCount && m.Count < 0 {
		return fmt.Errorf("the count is %s", Float(m.Count))
	}
	for _, b := range m.Buckets {
		if b.Count < 0 {
			return fmt.Errorf("a bucket count is %s", Float(b.Count))
		}
	}
	return nil
}

// omWritable checks a series against what OpenMetrics requires of its
// type.
func omWritable(f *exposition.Family, m *exposition.Metric) error {
	nonNegative := func(what string, v float64) error {
		if math.IsNaN(v) || v < 0 {
			return fmt.Errorf("%s is %s", what, Float(v))
		}
		return nil
	}
	switch f.Type {
	case exposition.Counter:
		return nonNegative("the value", m.Value)
	case exposition.Histogram, exposition.GaugeHistogram:
		n := len(m.Buckets)
		if n == 0 || !math.IsInf(m.Buckets[n-1].UpperBound, 1) {
			return fmt.Errorf("no +Inf bucket")
		}
		for i, b := range m.Buckets {
			if err := nonNegative("a bucket count", b.Count); err != nil {
				return err
			}
			if i > 0 && b.Count < m.Buckets[i-1].Count {
				return fmt.Errorf("bucket counts go down")
			}
		}
		if m.HasCount && m.HasSum {
			if m.Count != m.Buckets[n-1].Count {
				return fmt.Errorf("count %s differs from the +Inf bucket's %s", Float(m.Count), Float(m.Buckets[n-1].Count))
			}
			if f.Type == exposition.Histogram && m.Buckets[0].UpperBound >= 0 {
				return nonNegative("the sum", m.Sum)
			}
			if f.Type == exposition.GaugeHistogram && (math.IsNaN(m.Sum) || m.Buckets[0].UpperBound >= 0 && m.Sum < 0) {
				return fmt.Errorf("the sum is %s", Float(m.Sum))
			}
		}
	case exposition.Summary:
		for _, q := range m.Quantiles {
			if q.Quantile < 0 || q.Quantile > 1 || q.Value < 0 {
				return fmt.Errorf("quantile %s is %s", Float(q.Quantile), Float(q.Value))
			}
		}
		if m.HasCount {
			if err := nonNegative("the count", m.Count); err != nil {
				return err
			}
		}
		if m.HasSum {
			return nonNegative("the sum", m.Sum)
		}
	case exposition.Info:
		if m.Value != 1 {
			return fmt.Errorf("an info value is %s, not 1", Float(m.Value))
		}
	case exposition.StateSet:
		if m.Value != 0 && m.Value != 1 {
			return fmt.Errorf("a state is %s, not 0 or 1", Float(m.Value))
		}
	}
	return nil
}
