package ask

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/query"
)

// KeepSamples is how far back the questions of a verb that runs over
// time can look (ranges, offsets): older samples are dropped.
const KeepSamples = 15 * time.Minute

// Answer ends a gathering whose series were added to store at at, and
// answers over it as every interval of a watch does: a series the
// gathering no longer has goes stale at once, samples older than
// KeepSamples go, the rules are evaluated, and the answers are printed.
// fired says whether a check or an alert fired (exit 4 if it was the
// last interval); with --nagios the plugin's state is the error.
func (f *Flags) Answer(ctx context.Context, p *output.Printer, store *query.Store, at time.Time, nothingGathered bool) (fired bool, err error) {
	if err := f.end(ctx, store, at); err != nil {
		return false, err
	}
	answers, err := f.Evaluate(ctx, store)
	if err != nil {
		return false, err
	}
	if nothingGathered {
		answers.NothingGathered()
	}
	err = Print(p, f.errOut, answers, f.Nagios)
	if f.Nagios {
		return false, err // the plugin's state ends the run
	}
	if errors.Is(err, cmdutil.CheckFailed) {
		return true, nil
	}
	return false, err
}

// end ends a gathering added to store at at: a series it no longer has
// goes stale at once, samples older than KeepSamples go, and the rules
// are evaluated.
func (f *Flags) end(ctx context.Context, store *query.Store, at time.Time) error {
	store.Ended(at)
	store.DropBefore(at.Add(-KeepSamples))
	return f.Round(ctx, store)
}

// Changes are what changed at one Watch: what a verb that prints no
// answers (serve, logs -f) says.
type Changes struct {
	// Alerts that became pending or firing, or were resolved.
	Alerts []AlertChange
	// Failed are the checks that began to return series (with how
	// many), Passed those that stopped.
	Failed map[string]int
	Passed []string
	// Fired: an alert fires, or a check returns series, now.
	Fired bool
}

// Said is what a verb that prints no answers has said of the alerts and
// checks, so that Watch tells each change once.
type Said struct {
	alerts alertChanges
	failed map[string]int
}

// Failing are the checks that returned series at the last Watch.
func (s *Said) Failing(expr string) bool {
	_, ok := s.failed[expr]
	return ok
}

// Watch ends a gathering added to store at at, as Answer does, asks the
// checks, and returns what changed since the last Watch of said.
func (f *Flags) Watch(ctx context.Context, store *query.Store, at time.Time, said *Said) (Changes, error) {
	if err := f.end(ctx, store, at); err != nil {
		return Changes{}, err
	}
	ch := Changes{Alerts: said.alerts.since(f.alerts), Failed: map[string]int{}}
	ch.Fired = slices.ContainsFunc(f.alerts, func(a query.Alert) bool { return a.State == query.Firing })
	answers, err := f.Evaluate(ctx, store)
	if err != nil {
		return ch, err
	}
	failed := answers.failedChecks()
	for expr, n := range failed {
		if !said.Failing(expr) {
			ch.Failed[expr] = n
		}
	}
	for _, expr := range slices.Sorted(maps.Keys(said.failed)) {
		if _, ok := failed[expr]; !ok {
			ch.Passed = append(ch.Passed, expr)
		}
	}
	said.failed = failed
	ch.Fired = ch.Fired || len(failed) > 0
	return ch, nil
}

// Alerts are the rules' active alerts at the last Round.
func (f *Flags) Alerts() []query.Alert { return f.alerts }

// Rules says whether rule files were given.
func (f *Flags) Rules() bool { return f.rules != nil }

// AlertFamilies are the alerts as Prometheus records them, for a verb
// that serves or pushes series: ALERTS (1 per active alert, with its
// alertstate) and ALERTS_FOR_STATE (the Unix time it became active),
// then the notifier's monctl_notifications_* (as Prometheus's
// prometheus_notifications_*). Without rules: none.
func (f *Flags) AlertFamilies() []exposition.Family {
	if f.rules == nil {
		return nil
	}
	alerts := exposition.Family{Name: "ALERTS", Type: exposition.Gauge, Help: "The active alerts of --rules: 1 per alert, with its alertstate (pending or firing)."}
	forState := exposition.Family{Name: "ALERTS_FOR_STATE", Type: exposition.Gauge, Help: "The Unix time each active alert of --rules became active."}
	for _, a := range f.alerts {
		ls := make(exposition.Labels, 0, len(a.Labels)+1)
		for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
			ls = append(ls, exposition.Label{Name: k, Value: a.Labels[k]})
		}
		forState.Metrics = append(forState.Metrics, exposition.Metric{Labels: ls, Value: float64(a.ActiveAt.UnixMilli()) / 1000})
		alerts.Metrics = append(alerts.Metrics, exposition.Metric{Labels: exposition.WithTargetLabel(ls, "alertstate", a.State), Value: 1})
	}
	return append([]exposition.Family{alerts, forState}, f.notificationFamilies()...)
}

// notificationFamilies count the deliveries to each Alertmanager as
// Prometheus's prometheus_notifications_* do.
func (f *Flags) notificationFamilies() []exposition.Family {
	if f.notifier == nil {
		return nil
	}
	sent := exposition.Family{Name: "monctl_notifications_sent_total", Type: exposition.Counter, Help: "Alerts sent to each Alertmanager."}
	errs := exposition.Family{Name: "monctl_notifications_errors_total", Type: exposition.Counter, Help: "Alerts of POSTs to each Alertmanager that failed after the retries."}
	latency := exposition.Family{Name: "monctl_notifications_latency_seconds", Type: exposition.Gauge, Help: "How long the last POST to each Alertmanager took."}
	dropped := exposition.Family{Name: "monctl_notifications_dropped_total", Type: exposition.Counter, Help: "Alerts dropped from a full queue, or left in it at exit."}
	queue := exposition.Family{Name: "monctl_notifications_queue_length", Type: exposition.Gauge, Help: "Alerts waiting to be sent."}
	capacity := exposition.Family{Name: "monctl_notifications_queue_capacity", Type: exposition.Gauge, Help: "The most alerts that can wait to be sent."}
	ams := exposition.Family{Name: "monctl_notifications_alertmanagers_discovered", Type: exposition.Gauge, Help: "Alertmanagers the alerts go to."}
	stats := f.notifier.Stats()
	drops := 0
	for _, s := range stats {
		am := exposition.Labels{{Name: "alertmanager", Value: s.URL}}
		sent.Metrics = append(sent.Metrics, exposition.Metric{Labels: am, Value: float64(s.Sent)})
		errs.Metrics = append(errs.Metrics, exposition.Metric{Labels: am, Value: float64(s.Errors)})
		latency.Metrics = append(latency.Metrics, exposition.Metric{Labels: am, Value: s.Latency.Seconds()})
		drops = max(drops, s.Dropped)
	}
	dropped.Metrics = []exposition.Metric{{Value: float64(drops)}}
	queue.Metrics = []exposition.Metric{{Value: float64(f.notifier.QueueLength())}}
	capacity.Metrics = []exposition.Metric{{Value: float64(f.notifier.QueueCapacity())}}
	ams.Metrics = []exposition.Metric{{Value: float64(len(stats))}}
	return []exposition.Family{sent, errs, latency, dropped, queue, capacity, ams}
}

// alertChanges tracks which alerts were said, so that a verb that
// prints no answers (serve, logs -f) says each change of state once.
type alertChanges struct {
	said map[string]string // alert text → state said
}

// AlertChange is an alert that became pending or firing, or that is no
// longer active (State "resolved", no Value): Alert is its name and
// labels as PromQL writes a series, escaped for a terminal.
type AlertChange struct {
	State, Alert, Value string
}

func (c AlertChange) String() string {
	if c.State == "resolved" {
		return "alert resolved: " + c.Alert
	}
	return "alert " + c.State + ": " + c.Alert + " value " + c.Value
}

// since are the changes since the last call.
func (c *alertChanges) since(alerts []query.Alert) []AlertChange {
	var out []AlertChange
	now := make(map[string]string, len(alerts))
	for _, a := range alerts {
		key := output.Escape(a.String())
		now[key] = a.State
		if c.said[key] != a.State {
			out = append(out, AlertChange{State: a.State, Alert: key, Value: a.Value})
		}
	}
	for _, key := range slices.Sorted(maps.Keys(c.said)) {
		if _, ok := now[key]; !ok {
			out = append(out, AlertChange{State: "resolved", Alert: key})
		}
	}
	c.said = now
	return out
}

// failedChecks are the checks (--fail-if) of the answers that fired,
// with how many series each returned.
func (as *Answers) failedChecks() map[string]int {
	failed := map[string]int{}
	for i := range as.list {
		if a := &as.list[i]; a.fired() {
			failed[a.Expr] = a.Len()
		}
	}
	return failed
}
