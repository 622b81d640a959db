package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// Options bound the work of one question.
type Options struct {
	// Timeout bounds one evaluation (default 2m, Prometheus's).
	Timeout time.Duration
	// MaxSamples bounds the samples one evaluation holds at once
	// (default 50 million, Prometheus's).
	MaxSamples int
}

// Engine evaluates PromQL as Prometheus does: its engine, with the
// defaults of a Prometheus server (5m lookback, @ and negative offsets,
// subqueries stepping at 1m).
type Engine struct {
	eng *promql.Engine
}

// NewEngine makes an engine.
func NewEngine(o Options) *Engine {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = 50_000_000
	}
	return &Engine{eng: promql.NewEngine(promql.EngineOpts{
		Timeout:                  o.Timeout,
		MaxSamples:               o.MaxSamples,
		LookbackDelta:            5 * time.Minute,
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
	})}
}

// Result is an expression's value at a time: a vector, a scalar, a
// string or a matrix (an expression that is a range selector), with the
// engine's warnings.
type Result struct {
	Expr     string
	Time     time.Time
	Value    parser.Value
	Warnings []string
}

// ParseError is an expression that is not PromQL; its text says where.
type ParseError struct {
	Expr string
	Err  error
}

func (e *ParseError) Error() string {
	msg := e.Err.Error()
	var pe parser.ParseErrors
	if errors.As(e.Err, &pe) && len(pe) > 0 {
		// Under the expression, a caret where the parser gave up.
		pos := int(pe[0].PositionRange.Start)
		if line := strings.Split(e.Expr, "\n")[0]; pos <= len(line) && !strings.Contains(e.Expr, "\n") {
			msg += "\n  " + e.Expr + "\n  " + strings.Repeat(" ", pos) + "^"
		}
	}
	return fmt.Sprintf("bad PromQL %q: %s", e.Expr, msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parse checks an expression, for refusing it before anything is
// gathered.
func Parse(expr string) error {
	if _, err := parser.ParseExpr(expr); err != nil {
		return &ParseError{Expr: expr, Err: err}
	}
	return nil
}

// Instant evaluates expr over the store at t. The engine parses expr
// (once: rules are evaluated every round); what it refuses is a
// ParseError.
func (e *Engine) Instant(ctx context.Context, s *Store, expr string, t time.Time) (*Result, error) {
	q, err := e.eng.NewInstantQuery(ctx, s, nil, expr, t)
	if err != nil {
		return nil, &ParseError{Expr: expr, Err: err}
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, fmt.Errorf("%s: %w", expr, res.Err)
	}
	r := &Result{Expr: expr, Time: t, Value: res.Value}
	for _, w := range res.Warnings.AsErrors() {
		r.Warnings = append(r.Warnings, w.Error())
	}
	return r, nil
}

// Len is how many series (or values) the result holds: a check fires
// when it is not 0.
func (r *Result) Len() int {
	switch v := r.Value.(type) {
	case promql.Vector:
		return len(v)
	case promql.Matrix:
		return len(v)
	case promql.Scalar, promql.String:
		return 1
	}
	return 0
}
