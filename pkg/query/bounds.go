package query

import (
	"cmp"
	"fmt"
	"strings"
	"text/template/parse"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// Bounds of what one expression or template may ask for. Prometheus's
// parser is quadratic in an expression's nesting and operator chains
// (16 KB of "-" took 1.4 s to parse here), and its evaluator checks for a
// deadline per series, not per step: without these, one expression could
// hold a run past any timeout.
const (
	// MaxExprBytes is the longest expression taken.
	MaxExprBytes = 16 << 10
	// MaxExprDepth bounds brackets within brackets.
	MaxExprDepth = 64
	// MaxExprOperators bounds the operators of one expression (a
	// thousand take ~3 ms to parse).
	MaxExprOperators = 1000
	// MaxSubquerySteps bounds the steps of a subquery, nested ones
	// multiplied: 100,000 is 69 days at 1m, or a day at 1s.
	MaxSubquerySteps = 100_000
	// defaultSubqueryStep is the engine's step of a subquery without one.
	defaultSubqueryStep = time.Minute
)

// checkText refuses an expression too large or too deep to parse in
// reasonable time, by a scan that is linear in its length.
func checkText(expr string) error {
	if len(expr) > MaxExprBytes {
		return fmt.Errorf("the expression is %d bytes long, more than the %d taken", len(expr), MaxExprBytes)
	}
	depth, most, ops := 0, 0, 0
	var quote byte
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '(' || c == '[' || c == '{':
			depth++
			most = max(most, depth)
		case c == ')' || c == ']' || c == '}':
			depth--
		case strings.IndexByte("+-*/%^<>=!", c) >= 0:
			ops++
		}
	}
	switch {
	case most > MaxExprDepth:
		return fmt.Errorf("the expression nests brackets %d deep, more than the %d taken", most, MaxExprDepth)
	case ops > MaxExprOperators:
		return fmt.Errorf("the expression has %d operators, more than the %d taken", ops, MaxExprOperators)
	}
	return nil
}

// checkSubqueries refuses a subquery that would take more than
// MaxSubquerySteps steps, counting those of the subqueries around it.
func checkSubqueries(e parser.Expr) error {
	var err error
	parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
		sq, ok := n.(*parser.SubqueryExpr)
		if !ok || err != nil {
			return nil
		}
		steps := 1.0
		for _, p := range append(path, n) {
			if s, ok := p.(*parser.SubqueryExpr); ok {
				step := s.Step
				if step <= 0 {
					step = defaultSubqueryStep
				}
				steps *= float64(s.Range) / float64(step)
			}
		}
		if steps > MaxSubquerySteps {
			err = fmt.Errorf("the subquery %s takes %.0f steps, more than the %d taken: use a longer step or a shorter range", sq, steps, MaxSubquerySteps)
		}
		return nil
	})
	return err
}

// checkExpr parses expr within the bounds above.
func checkExpr(expr string) (parser.Expr, error) {
	if err := checkText(expr); err != nil {
		return nil, err
	}
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	return e, checkSubqueries(e)
}

// Bounds of a rule's templates: the iterations of ranges over numbers
// (nested ones multiplied), the width a format may ask for, and what one
// expansion may write.
const (
	maxTemplateIterations = 10_000
	maxTemplateWidth      = 10_000
	maxTemplateOutput     = 64 << 10
)

// checkTemplate refuses a label or annotation template whose expansion
// could run or grow without bound: a range over a number larger than
// maxTemplateIterations (nested ones multiplied), a variable assigned
// inside a range (each pass may double it), a printf width or precision
// too large or given by an argument. Ranges over data are bounded by the
// data, which --query-max-samples bounds.
func checkTemplate(text string) error {
	// Prometheus's functions are not known here: they are not checked.
	tree := parse.New("t")
	tree.Mode = parse.SkipFuncCheck
	trees := map[string]*parse.Tree{}
	if _, err := tree.Parse(templateDefs+text, "", "", trees); err != nil {
		return err
	}
	for _, t := range trees {
		if err := checkNode(t.Root, 1, false); err != nil {
			return err
		}
	}
	return nil
}

func checkNode(n parse.Node, iterations float64, inRange bool) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNode(c, iterations, inRange); err != nil {
				return err
			}
		}
	case *parse.RangeNode:
		if count, ok := literalCount(n.Pipe); ok {
			iterations *= count
		}
		if iterations > maxTemplateIterations {
			return fmt.Errorf("template: a range of %.0f iterations, more than the %d taken", iterations, maxTemplateIterations)
		}
		if err := checkNode(n.Pipe, iterations, inRange); err != nil {
			return err
		}
		if err := checkNode(n.List, iterations, true); err != nil {
			return err
		}
		return checkNode(n.ElseList, iterations, inRange)
	case *parse.IfNode:
		return checkBranch(&n.BranchNode, iterations, inRange)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode, iterations, inRange)
	case *parse.ActionNode:
		return checkNode(n.Pipe, iterations, inRange)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		if n.IsAssign && inRange {
			return fmt.Errorf("template: a variable assigned inside a range may grow without bound")
		}
		for _, c := range n.Cmds {
			if err := checkNode(c, iterations, inRange); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := checkNode(a, iterations, inRange); err != nil {
				return err
			}
		}
	case *parse.StringNode:
		return checkFormat(n.Text)
	case *parse.TemplateNode:
		return fmt.Errorf("template: {{template %q}} is not taken (a template that calls itself grows without bound)", n.Name)
	}
	return nil
}

// checkBranch checks an if's or a with's pipeline and both its lists.
func checkBranch(b *parse.BranchNode, iterations float64, inRange bool) error {
	for _, c := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if err := checkNode(c, iterations, inRange); err != nil {
			return err
		}
	}
	return nil
}

// literalCount is the count of a range over a number literal.
func literalCount(p *parse.PipeNode) (float64, bool) {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return 0, false
	}
	num, ok := p.Cmds[0].Args[0].(*parse.NumberNode)
	if !ok {
		return 0, false
	}
	switch {
	case num.IsInt:
		return float64(num.Int64), true
	case num.IsUint:
		return float64(num.Uint64), true
	}
	return num.Float64, true
}

// checkFormat refuses a format verb (in any string, since which strings
// reach printf is not known before running) whose width or precision is
// an argument (*) or larger than maxTemplateWidth.
func checkFormat(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(s) && strings.IndexByte("+-# 0", s[j]) >= 0 {
			j++
		}
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == '*' || s[j] == '[' || s[j] == ']') {
			j++
		}
		spec := s[i+1 : j]
		if strings.Contains(spec, "*") {
			return fmt.Errorf("template: the format %q takes its width from an argument", s[i:j+min(1, len(s)-j)])
		}
		n := 0
		for _, c := range spec {
			if c >= '0' && c <= '9' {
				n = n*10 + int(c-'0')
				if n > maxTemplateWidth {
					return fmt.Errorf("template: the format %q asks for a width over %d", s[i:j+min(1, len(s)-j)], maxTemplateWidth)
				}
			} else {
				n = 0
			}
		}
		i = j
	}
	return nil
}

// ruleFile is what checkRuleFile reads of a rule file: the text of each
// rule's expression and templates, before rulefmt parses (and so
// validates) the expressions.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// checkRuleFile refuses a rule whose expression or templates are out of
// bounds, naming the file, the group and the rule. What is not a rule
// file is left for rulefmt to say.
func checkRuleFile(file string, content []byte) error {
	var rf ruleFile
	if yaml.Unmarshal(content, &rf) != nil {
		return nil
	}
	for _, g := range rf.Groups {
		for i, r := range g.Rules {
			where := fmt.Sprintf("rule file %s: group %q, rule %d (%s)", file, g.Name, i+1, cmp.Or(r.Record, r.Alert))
			if err := checkText(r.Expr); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			for _, m := range []map[string]string{r.Labels, r.Annotations} {
				for k, v := range m {
					if err := checkTemplate(v); err != nil {
						return fmt.Errorf("%s: %s: %w", where, k, err)
					}
				}
			}
		}
	}
	return nil
}
