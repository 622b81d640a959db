package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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
	eng     *promql.Engine
	timeout time.Duration

	// checked are the expressions seen within bounds (the engine takes
	// only text, and parses it again each time).
	mu      sync.Mutex
	checked map[string]bool
}

// NewEngine makes an engine.
func NewEngine(o Options) *Engine {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = 50_000_000
	}
	return &Engine{timeout: o.Timeout, checked: map[string]bool{}, eng: promql.NewEngine(promql.EngineOpts{
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
		if line := strings.Split(e.Expr, "\n")[0]; pos <= len(line) && len(e.Expr) <= 200 && !strings.Contains(e.Expr, "\n") {
			msg += "\n  " + e.Expr + "\n  " + strings.Repeat(" ", pos) + "^"
		}
	}
	return fmt.Sprintf("bad PromQL %q: %s", shortened(e.Expr), msg)
}

// shortened is an expression as a message quotes it: its first 200
// bytes, so that a huge one does not flood the terminal.
func shortened(expr string) string {
	if len(expr) <= 200 {
		return expr
	}
	return expr[:200] + "…"
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parse checks an expression, for refusing it before anything is
// gathered: PromQL, within the bounds of size, nesting and subquery
// steps (bounds.go).
func Parse(expr string) error {
	if _, err := checkExpr(expr); err != nil {
		return &ParseError{Expr: expr, Err: err}
	}
	return nil
}

// Instant evaluates expr over the store at t, within the engine's
// timeout and ctx. An expression out of bounds or not PromQL is a
// ParseError. The answer comes by the deadline or the end of ctx (a
// signal) even where Prometheus's evaluator would look at its context
// only later: the evaluation is then left to end on its own, which the
// bounds on subquery steps keep short.
func (e *Engine) Instant(ctx context.Context, s *Store, expr string, t time.Time) (*Result, error) {
	e.mu.Lock()
	ok := e.checked[expr]
	e.mu.Unlock()
	if !ok {
		if err := Parse(expr); err != nil {
			return nil, err
		}
		e.mu.Lock()
		e.checked[expr] = true
		e.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	q, err := e.eng.NewInstantQuery(ctx, s, nil, expr, t)
	if err != nil {
		return nil, &ParseError{Expr: expr, Err: err}
	}
	done := make(chan *promql.Result, 1)
	go func() {
		defer q.Close()
		done <- q.Exec(ctx)
	}()
	var res *promql.Result
	select {
	case res = <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", expr, queryEnded(ctx))
	}
	if res.Err != nil {
		return nil, fmt.Errorf("%s: %w", expr, res.Err)
	}
	r := &Result{Expr: expr, Time: t, Value: res.Value}
	for _, w := range res.Warnings.AsErrors() {
		r.Warnings = append(r.Warnings, w.Error())
	}
	return r, nil
}

// queryEnded says why a query's context ended: its timeout, or the
// cause its caller gave (a signal).
func queryEnded(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && context.Cause(ctx) == context.DeadlineExceeded {
		return promql.ErrQueryTimeout("expression evaluation")
	}
	return context.Cause(ctx)
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
