package query

import (
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Reads are the series some expressions can read: those that match one
// of their selectors. A store that keeps only these (Store.Only) holds
// what its questions need and no more, however much is gathered: a
// serve with rules over a few container series need not keep fifteen
// minutes of a re-exposed target's thousands.
type Reads struct {
	selectors [][]*labels.Matcher
}

// ReadsOf are what the expressions and the rules (nil: none) can read;
// nil when that is anything: a rule's template may run a query of its
// own, which no selector of the rules names.
func ReadsOf(rs *Rules, exprs ...string) *Reads {
	r := &Reads{}
	if rs != nil {
		for _, g := range rs.groups {
			for _, rl := range g.rules {
				for _, t := range [...]map[string]string{rl.labels, rl.annotations} {
					for _, text := range t {
						if strings.Contains(text, "query") {
							return nil
						}
					}
				}
				exprs = append(exprs, rl.expr)
			}
		}
	}
	for _, e := range exprs {
		parsed, err := parser.ParseExpr(e)
		if err != nil {
			return nil // checked before; read everything rather than miss
		}
		parser.Inspect(parsed, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				r.selectors = append(r.selectors, vs.LabelMatchers)
			}
			return nil
		})
	}
	return r
}

// mayRead says whether a series of this metric name can be read, before
// its labels are built: the name matchers of some selector take it.
func (r *Reads) mayRead(name string) bool {
	for _, sel := range r.selectors {
		ok := true
		for _, m := range sel {
			if m.Name == labels.MetricName && !m.Matches(name) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Match says whether a series of these labels can be read.
func (r *Reads) Match(ls labels.Labels) bool {
	for _, sel := range r.selectors {
		if matches(ls, sel) {
			return true
		}
	}
	return false
}
