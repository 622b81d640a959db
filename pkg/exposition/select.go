package exposition

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Selector keeps the series a user asked for: any of several PromQL
// selectors (OR), and optionally only some family types.
type Selector struct {
	sets  [][]*labels.Matcher
	types map[Type]bool
}

// SelectorError is a series selector (or, when Type, a type name) that
// does not parse.
type SelectorError struct {
	Type  bool
	Value string
	Err   error
}

func (e *SelectorError) Error() string {
	what := "series selector"
	if e.Type {
		what = "type"
	}
	return fmt.Sprintf("%s %q: %v", what, e.Value, e.Err)
}

func (e *SelectorError) Unwrap() error { return e.Err }

// NewSelector parses PromQL series selectors such as
// `http_requests_total{code=~"5.."}` or `{__name__=~"go_.*"}`, and family
// type names.
func NewSelector(matches, types []string) (*Selector, error) {
	s := &Selector{}
	for _, m := range matches {
		ms, err := parser.ParseMetricSelector(m)
		if err != nil {
			return nil, &SelectorError{Value: m, Err: err}
		}
		s.sets = append(s.sets, ms)
	}
	for _, t := range types {
		for _, one := range strings.Split(t, ",") {
			tt := Type(strings.ToLower(strings.TrimSpace(one)))
			switch tt {
			case Counter, Gauge, Histogram, GaugeHistogram, Summary, Info, StateSet:
			case Untyped, Unknown:
				tt = Untyped // parsers name both Untyped
			default:
				return nil, &SelectorError{Type: true, Value: one, Err: errors.New("want counter, gauge, histogram, gaugehistogram, summary, info, stateset or untyped")}
			}
			s.addType(tt)
		}
	}
	return s, nil
}

func (s *Selector) addType(t Type) {
	if s.types == nil {
		s.types = map[Type]bool{}
	}
	s.types[t] = true
}

// Empty reports whether the selector keeps everything.
func (s *Selector) Empty() bool { return s == nil || len(s.sets) == 0 && len(s.types) == 0 }

// Filter returns the families (and within them the metrics) the selector
// keeps. The input is not changed; kept metrics are not copied.
func (s *Selector) Filter(fams []Family) []Family {
	if s.Empty() {
		return fams
	}
	out := make([]Family, 0, len(fams))
	for i := range fams {
		f := &fams[i]
		if s.types != nil && !s.types[f.Type] {
			continue
		}
		if len(s.sets) == 0 {
			out = append(out, *f)
			continue
		}
		var kept []Metric
		all := true
		for j := range f.Metrics {
			if s.keeps(f, &f.Metrics[j]) {
				kept = append(kept, f.Metrics[j])
			} else {
				all = false
			}
		}
		switch {
		case all && len(f.Metrics) > 0:
			out = append(out, *f)
		case len(kept) > 0:
			nf := *f
			nf.Metrics = kept
			out = append(out, nf)
		}
	}
	return out
}

func (s *Selector) keeps(f *Family, m *Metric) bool {
	for _, set := range s.sets {
		if matchAll(set, f, m) {
			return true
		}
	}
	return false
}

func matchAll(set []*labels.Matcher, f *Family, m *Metric) bool {
	for _, mt := range set {
		if mt.Name == labels.MetricName {
			if !matchName(mt, f) {
				return false
			}
			continue
		}
		if !mt.Matches(m.Labels.Get(mt.Name)) {
			return false
		}
	}
	return true
}

// matchName matches the family name, or for a counter the name without
// _total (the OpenMetrics family name), so either spelling works.
func matchName(mt *labels.Matcher, f *Family) bool {
	if mt.Matches(f.Name) {
		return true
	}
	if mt.Type == labels.MatchNotEqual || mt.Type == labels.MatchNotRegexp {
		return false
	}
	switch f.Type {
	case Counter:
		base, ok := strings.CutSuffix(f.Name, "_total")
		return ok && mt.Matches(base)
	case Info:
		return mt.Matches(f.Name + "_info")
	}
	return false
}
