package query

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/template"
)

// Rules are the recording and alerting rules of Prometheus rule files
// (read with Prometheus's model/rulefmt), evaluated as a Prometheus rule
// group evaluates them: rule by rule, what a recording rule records seen
// by the rules after it; an alerting rule's alerts pending until its
// for: has passed over successive Evals, then firing, kept firing for
// its keep_firing_for; labels and annotations templated with
// Prometheus's template package ($labels, $value, query functions).
//
// The logic follows rules.AlertingRule (github.com/prometheus/prometheus
// /rules), which is not used itself: it would bring in the notifier and
// service discovery, 5 MB of binary for a CLI that sends no alerts.
type Rules struct {
	groups []ruleGroup
	// fingerprint tells these rules from others: a hash of the files'
	// contents, in order.
	fingerprint string
}

type ruleGroup struct {
	name  string
	rules []*rule
}

type rule struct {
	record, alert string
	expr          string
	hold, keep    time.Duration
	labels        map[string]string
	annotations   map[string]string
	active        map[uint64]*Alert // alerting rules: by the alert's labels
}

// LoadRules reads rule files; an error names the file, the group and the
// rule.
func LoadRules(files ...string) (*Rules, error) {
	rs := &Rules{}
	sum := sha256.New()
	defer func() { rs.fingerprint = hex.EncodeToString(sum.Sum(nil)) }()
	for _, file := range files {
		content, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("rule file %s: %w", file, errors.Unwrap(err))
		}
		fmt.Fprintf(sum, "%d:", len(content))
		sum.Write(content)
		if err := checkRuleFile(file, content); err != nil {
			return nil, err
		}
		rgs, errs := rulefmt.Parse(content, false, model.UTF8Validation)
		for i := range errs {
			errs[i] = fmt.Errorf("%s: %w", file, errs[i])
		}
		if len(errs) > 0 {
			return nil, fmt.Errorf("rule file %w", errors.Join(errs...))
		}
		for _, g := range rgs.Groups {
			rg := ruleGroup{name: g.Name}
			for i, r := range g.Rules {
				expr, err := checkExpr(r.Expr)
				if err != nil {
					return nil, fmt.Errorf("rule file %s: group %q, rule %d: %w", file, g.Name, i+1, err)
				}
				// Group labels go to every rule; the rule's own win.
				lset := maps.Clone(g.Labels)
				if lset == nil {
					lset = map[string]string{}
				}
				maps.Copy(lset, r.Labels)
				rg.rules = append(rg.rules, &rule{record: r.Record, alert: r.Alert, expr: expr.String(),
					hold: time.Duration(r.For), keep: time.Duration(r.KeepFiringFor),
					labels: lset, annotations: r.Annotations, active: map[uint64]*Alert{}})
			}
			rs.groups = append(rs.groups, rg)
		}
	}
	return rs, nil
}

// Alert is an active alert, as Prometheus's /api/v1/alerts shows it:
// pending (its for: has not passed) or firing.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value"`

	keepSince time.Time
}

// OtherLabels are the alert's labels but its alertname, as PromQL writes
// a series' labels: k="v", sorted by name.
func (a *Alert) OtherLabels() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		if k != model.AlertNameLabel {
			parts = append(parts, k+"="+strconv.Quote(a.Labels[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// String is the alert as PromQL writes a series: alertname{k="v", ...}.
func (a *Alert) String() string {
	return a.Labels[model.AlertNameLabel] + "{" + a.OtherLabels() + "}"
}

// State is what the rules remember between evaluations, for a run that
// goes on where an earlier one stopped (cron): the active alerts of each
// alerting rule, of rules whose files hash to Fingerprint.
type State struct {
	Fingerprint string         `json:"fingerprint"`
	Alerts      [][]SavedAlert `json:"alerts"` // per rule, in file order
}

// SavedAlert is an active alert as State keeps it.
type SavedAlert struct {
	Alert
	KeepSince time.Time `json:"keepSince,omitzero"`
}

// ErrOtherRules is a State of other rules (their files changed).
var ErrOtherRules = errors.New("the state is of other rules")

// Save is the rules' state.
func (rs *Rules) Save() State {
	st := State{Fingerprint: rs.fingerprint}
	for _, g := range rs.groups {
		for _, r := range g.rules {
			var saved []SavedAlert
			for _, h := range slices.Sorted(maps.Keys(r.active)) {
				a := r.active[h]
				saved = append(saved, SavedAlert{Alert: *a, KeepSince: a.keepSince})
			}
			st.Alerts = append(st.Alerts, saved)
		}
	}
	return st
}

// Restore takes up a saved state, which must be of these rules.
func (rs *Rules) Restore(st State) error {
	n := 0
	for _, g := range rs.groups {
		n += len(g.rules)
	}
	if st.Fingerprint != rs.fingerprint || len(st.Alerts) != n {
		return ErrOtherRules
	}
	i := 0
	for _, g := range rs.groups {
		for _, r := range g.rules {
			r.active = map[uint64]*Alert{}
			for _, sa := range st.Alerts[i] {
				a := sa.Alert
				a.keepSince = sa.KeepSince
				r.active[labels.FromMap(a.Labels).Hash()] = &a
			}
			i++
		}
	}
	return nil
}

// The states of an active alert.
const (
	Pending = "pending"
	Firing  = "firing"
)

// Eval evaluates every rule at t, group by group and rule by rule: what
// a recording rule records is stored in s for the rules after it. It
// returns the active alerts of every alerting rule, in rule order.
func (rs *Rules) Eval(ctx context.Context, e *Engine, s *Store, t time.Time) ([]Alert, error) {
	query := func(ctx context.Context, expr string, t time.Time) (promql.Vector, error) {
		r, err := e.Instant(ctx, s, expr, t)
		if err != nil {
			return nil, err
		}
		switch v := r.Value.(type) {
		case promql.Vector:
			return v, nil
		case promql.Scalar:
			return promql.Vector{{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}, nil
		}
		return nil, fmt.Errorf("rule result is not a vector or scalar: %s", r.Value.Type())
	}
	var out []Alert
	for _, g := range rs.groups {
		for _, r := range g.rules {
			vec, err := query(ctx, r.expr, t)
			if err != nil {
				return nil, fmt.Errorf("group %q, rule %q: %w", g.name, cmp.Or(r.record, r.alert), err)
			}
			if r.record != "" {
				if err := s.record(r.record, r.labels, vec, t); err != nil {
					return nil, fmt.Errorf("group %q, rule %q: %w", g.name, r.record, err)
				}
				continue
			}
			tctx, cancel := context.WithTimeout(ctx, e.timeout) // the templates' own deadline
			err = r.evalAlerts(tctx, vec, t, query)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("group %q, rule %q: %w", g.name, r.alert, err)
			}
			for _, h := range slices.Sorted(maps.Keys(r.active)) {
				out = append(out, *r.active[h])
			}
		}
	}
	return out, nil
}

// record stores what a recording rule produced: each series renamed,
// with the rule's labels.
func (s *Store) record(name string, extra map[string]string, vec promql.Vector, t time.Time) error {
	seen := map[uint64]bool{}
	for _, smp := range vec {
		lb := labels.NewBuilder(smp.Metric)
		lb.Set(labels.MetricName, name)
		for k, v := range extra {
			lb.Set(k, v)
		}
		ls := lb.Labels()
		if h := ls.Hash(); seen[h] {
			return errors.New("vector contains metrics with the same labelset after applying rule labels")
		} else {
			seen[h] = true
		}
		s.append(ls, sample{t: t.UnixMilli(), f: smp.F, fh: smp.H})
	}
	return nil
}

// evalAlerts updates the rule's alerts from its expression's result at
// t, as rules.AlertingRule.Eval does.
func (r *rule) evalAlerts(ctx context.Context, vec promql.Vector, t time.Time, query template.QueryFunc) error {
	now := map[uint64]*Alert{}
	var expandErr error // a template out of time or room fails the rule
	for _, smp := range vec {
		data := template.AlertTemplateData(smp.Metric.Map(), nil, "", smp)
		expand := func(text string) string {
			out, err := expandBounded(ctx, template.NewTemplateExpander(ctx, templateDefs+text, "__alert_"+r.alert, data,
				model.TimeFromUnixNano(t.UnixNano()), query, nil, nil))
			if err != nil {
				expandErr = cmp.Or(expandErr, err)
				return fmt.Sprintf("<error expanding template: %s>", err)
			}
			return out
		}
		lb := labels.NewBuilder(smp.Metric)
		lb.Del(labels.MetricName)
		for k, v := range r.labels {
			lb.Set(k, expand(v))
		}
		lb.Set(labels.AlertName, r.alert)
		annotations := map[string]string{}
		for k, v := range r.annotations {
			annotations[k] = expand(v)
		}
		ls := lb.Labels()
		h := ls.Hash()
		if now[h] != nil {
			return errors.New("vector contains metrics with the same labelset after applying alert labels")
		}
		now[h] = &Alert{Labels: ls.Map(), Annotations: annotations, State: Pending, ActiveAt: t, Value: formatValue(smp.F)}
	}
	if expandErr != nil && errors.Is(expandErr, errTemplateBounds) {
		return expandErr
	}
	for h, a := range now {
		if old := r.active[h]; old != nil {
			old.Value, old.Annotations, old.keepSince = a.Value, a.Annotations, time.Time{}
			continue
		}
		r.active[h] = a
	}
	for h, a := range r.active {
		if now[h] == nil {
			// Gone from the result: resolved, unless it fired and
			// keep_firing_for holds it.
			if a.State != Firing || r.keep == 0 {
				delete(r.active, h)
				continue
			}
			if a.keepSince.IsZero() {
				a.keepSince = t
			}
			if t.Sub(a.keepSince) >= r.keep {
				delete(r.active, h)
				continue
			}
		}
		if a.State == Pending && t.Sub(a.ActiveAt) >= r.hold {
			a.State = Firing
		}
	}
	return nil
}

// templateDefs are the variables Prometheus's alert templates see.
const templateDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

// errTemplateBounds is a template expansion that passed its bounds.
var errTemplateBounds = errors.New("template")

// expandBounded expands within ctx's deadline and maxTemplateOutput
// bytes. The templates were checked when the rules were loaded (no range
// of more than maxTemplateIterations, no growing variables), so an
// expansion left running past the deadline ends on its own soon after;
// the rule is not kept waiting for it.
func expandBounded(ctx context.Context, te *template.Expander) (string, error) {
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := te.Expand()
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		if r.err == nil && len(r.out) > maxTemplateOutput {
			return "", fmt.Errorf("%w: the expansion wrote %d bytes, more than the %d taken", errTemplateBounds, len(r.out), maxTemplateOutput)
		}
		return r.out, r.err
	case <-ctx.Done():
		return "", fmt.Errorf("%w: expanding it took longer than the query timeout: %w", errTemplateBounds, context.Cause(ctx))
	}
}

// formatValue writes a value as Prometheus's API does.
func formatValue(v float64) string {
	return strings.TrimSpace(model.SampleValue(v).String())
}
