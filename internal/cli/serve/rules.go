package serve

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/monctl/monctl/internal/cli/ask"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exporter"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/query"
)

// evaluator evaluates --rules and --fail-if over every complete
// collection, before it is served: Prometheus's scrapes' and the web
// view's. It keeps what they need (ask.KeepSamples of every series) and
// what is served of them: ALERTS, ALERTS_FOR_STATE, the notifications'
// counts, monctl_check_failing. Changes are logged.
type evaluator struct {
	ask    *ask.Flags
	ctx    context.Context
	logger *slog.Logger
	store  *query.Store // only evaluate touches it (collections come one at a time)

	said ask.Said

	mu       sync.Mutex // what is served and shown, read by requests
	families []exposition.Family
	alerts   []query.Alert
}

func newEvaluator(ctx context.Context, a *ask.Flags, logger *slog.Logger) *evaluator {
	ev := &evaluator{ask: a, ctx: ctx, logger: logger, store: a.NewStore()}
	ev.families = ev.served()
	return ev
}

// evaluate takes a collection's series in and evaluates over them.
func (ev *evaluator) evaluate(c *exporter.Collection) {
	at := c.Start
	for f, source := range c.Series() {
		fams := []exposition.Family{*f}
		if source.Name != "" {
			ev.store.Add(at, fams, source)
		} else {
			ev.store.Add(at, fams)
		}
	}
	ch, err := ev.ask.Watch(ev.ctx, ev.store, at, &ev.said)
	if err != nil {
		ev.logger.Warn("evaluating the rules", "err", err)
	}
	for _, a := range ch.Alerts {
		ev.logger.Warn(a.String())
	}
	for _, expr := range slices.Sorted(maps.Keys(ch.Failed)) {
		ev.logger.Warn("check failed", "check", output.Escape(expr), "series", ch.Failed[expr])
	}
	for _, expr := range ch.Passed {
		ev.logger.Info("check passes again", "check", output.Escape(expr))
	}
	families := ev.served()
	ev.mu.Lock()
	ev.families, ev.alerts = families, ev.ask.Alerts()
	ev.mu.Unlock()
}

// served are the families of the last evaluation.
func (ev *evaluator) served() []exposition.Family {
	out := ev.ask.AlertFamilies()
	if len(ev.ask.FailIf) > 0 {
		checks := exposition.Family{Name: "monctl_check_failing", Type: exposition.Gauge,
			Help: "1 if the check of --fail-if returned series at the last evaluation, 0 if not."}
		for _, expr := range slices.Compact(slices.Sorted(slices.Values(ev.ask.FailIf))) {
			v := 0.0
			if ev.said.Failing(expr) {
				v = 1
			}
			checks.Metrics = append(checks.Metrics, exposition.Metric{Labels: exposition.Labels{{Name: "check", Value: expr}}, Value: v})
		}
		out = append(out, checks)
	}
	return out
}

// logWriter turns what ask says on stderr (a delivery that failed, a
// state file set aside) into log records, as serve says everything.
type logWriter struct{ logger *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	for line := range strings.Lines(string(p)) {
		if line = strings.TrimSpace(strings.TrimPrefix(line, "monctl: ")); line != "" {
			w.logger.Warn(line)
		}
	}
	return len(p), nil
}

// Families are what is served of the rules; Alerts what the web view
// shows.
func (ev *evaluator) Families() []exposition.Family {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.families
}

func (ev *evaluator) Alerts() []query.Alert {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.alerts
}
