// Package ask answers PromQL questions (--query) and checks (--fail-if)
// over what a verb gathered into a query.Store, and prints the answers
// the same way for every verb: a table per question, Prometheus's
// /api/v1/query data objects in JSON, fired checks on stderr or under
// "firing", exit 4 when a check fired.
package ask

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/spf13/pflag"

	"github.com/monctl/monctl/internal/buildinfo"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/notify"
	"github.com/monctl/monctl/pkg/query"
	"github.com/monctl/monctl/pkg/redact"
)

// Flags are the questions, checks and rule files of a verb.
type Flags struct {
	Queries      []string
	FailIf       []string
	RuleFiles    []string
	QueryTimeout time.Duration
	MaxSamples   int
	// Nagios prints a Nagios/Icinga plugin's status line and exits with
	// its state (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
	Nagios bool

	// Delivery of the rules' alerts to Alertmanager: --alertmanager's,
	// and the config file's alerting section's.
	Alertmanagers       []string
	ConfigAlertmanagers []notify.Alertmanager
	ResendDelay         time.Duration
	ExternalLabels      []string
	// Webhooks get the alerts as a single-route Alertmanager's webhook
	// receiver would post them, grouped and repeated as it would.
	Webhooks       []string
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
	// StateDir keeps the rules' state between runs ("": none).
	StateDir string
	// GeneratorURL is where a delivered alert links to (serve's web
	// view); "": nowhere.
	GeneratorURL string

	eng      *query.Engine
	rules    *query.Rules
	reads    *query.Reads  // what the questions and rules can read
	alerts   []query.Alert // of the last Round
	notifier *notify.Notifier
	state    *stateFile
	errOut   io.Writer
}

// AddFlags registers --query, --nagios and the rules' flags (AddRuleFlags);
// what names the series the questions see.
func (f *Flags) AddFlags(fl *pflag.FlagSet, what string) {
	fl.StringArrayVar(&f.Queries, "query", nil, "evaluate this PromQL expression over "+what+" and print its result (repeatable)")
	f.AddRuleFlags(fl, "a check: exit 4 when this PromQL expression returns any series, which are printed (repeatable)")
	fl.BoolVar(&f.Nagios, "nagios", false, "answer as a Nagios/Icinga plugin: a status line with performance data, exit 0 OK, 1 WARNING, 2 CRITICAL (a firing alert's severity label, else critical), 3 UNKNOWN")
}

// AddRuleFlags registers --fail-if, --rules and the delivery of their
// alerts: the flags of a verb that prints no answers (serve, logs -f),
// which says what a check that fails does.
func (f *Flags) AddRuleFlags(fl *pflag.FlagSet, failIf string) {
	fl.StringArrayVar(&f.FailIf, "fail-if", nil, failIf)
	fl.StringArrayVar(&f.RuleFiles, "rules", nil, "evaluate this Prometheus rule file: recording rules add series, alerting rules fire (exit 4) with their labels and annotations (repeatable)")
	cmdutil.DurationVar(fl, &f.QueryTimeout, "query-timeout", 2*time.Minute, "how long one expression may take")
	fl.IntVar(&f.MaxSamples, "query-max-samples", 50_000_000, "how many samples one expression may hold at once (Prometheus's --query.max-samples)")
	fl.StringArrayVar(&f.Alertmanagers, "alertmanager", nil, "deliver the alerts of --rules to this Alertmanager (http://host:9093; API v2), as Prometheus does: when they fire, again every --alert-resend-delay, and when resolved (repeatable)")
	cmdutil.DurationVar(fl, &f.ResendDelay, "alert-resend-delay", time.Minute, "how often a firing alert is sent to Alertmanager again (Prometheus's --rules.alert.resend-delay)")
	fl.StringArrayVar(&f.ExternalLabels, "external-label", nil, "NAME=VALUE added to every alert delivered that has no label of that name (Prometheus's external_labels; repeatable)")
	fl.StringArrayVar(&f.Webhooks, "notify-webhook", nil, "post the alerts of --rules to this URL as Alertmanager's webhook receiver does (payload version 4), grouped and repeated as a single-route Alertmanager would (repeatable)")
	cmdutil.DurationVar(fl, &f.GroupWait, "group-wait", 30*time.Second, "with --notify-webhook, how long a new group of alerts waits before its first notification (Alertmanager's group_wait)")
	cmdutil.DurationVar(fl, &f.GroupInterval, "group-interval", 5*time.Minute, "with --notify-webhook, how long a group waits before it is notified of a change (Alertmanager's group_interval)")
	cmdutil.DurationVar(fl, &f.RepeatInterval, "repeat-interval", 4*time.Hour, "with --notify-webhook, how often firing alerts are notified again (Alertmanager's repeat_interval)")
	fl.StringVar(&f.StateDir, "state-dir", cmdutil.StateDir("rules"), "where --rules keep their alerts' state between runs, so that for: counts across cron runs and an alert resolved between two is delivered resolved ('' to keep nothing)")
}

// Asking says whether the run answers questions instead of printing what
// it gathered.
func (f *Flags) Asking() bool {
	return len(f.Queries) > 0 || len(f.FailIf) > 0 || len(f.RuleFiles) > 0 || f.Nagios ||
		len(f.Alertmanagers) > 0 || len(f.ExternalLabels) > 0 || len(f.Webhooks) > 0
}

// Shapes are what answers have, whatever the verb gathers: rows (a table
// per question; csv) and records (Prometheus's data objects). A verb's
// -o may offer more; with questions asked, only these formats print.
const Shapes = output.RowsShape | output.RecordsShape

// Check refuses bad questions and formats that cannot print answers
// before anything is gathered.
func (f *Flags) Check(p *output.Printer) error {
	if p.Template != nil {
		return cmdutil.UsageError("--format cannot print query results; use -o json")
	}
	if _, err := output.ParseFormatOf(string(p.Format), Shapes); err != nil {
		return cmdutil.UsageError("query results: %v", err)
	}
	return f.CheckRules(p.ErrOut)
}

// CheckRules refuses bad expressions and rule files, then starts the
// delivery of alerts and takes up the rules' state: what a verb that
// prints no answers checks. errOut gets the warnings and what failed to
// be delivered.
func (f *Flags) CheckRules(errOut io.Writer) error {
	f.errOut = errOut
	for _, e := range append(append([]string{}, f.Queries...), f.FailIf...) {
		if err := query.Parse(e); err != nil {
			return cmdutil.UsageError("%v", err)
		}
	}
	if f.QueryTimeout <= 0 || f.MaxSamples <= 0 {
		return cmdutil.UsageError("--query-timeout and --query-max-samples must be positive")
	}
	f.eng = query.NewEngine(query.Options{Timeout: f.QueryTimeout, MaxSamples: f.MaxSamples})
	if len(f.RuleFiles) > 0 {
		var err error
		if f.rules, err = query.LoadRules(f.RuleFiles...); err != nil {
			return cmdutil.UsageError("%v", err)
		}
	}
	f.reads = query.ReadsOf(f.rules, append(slices.Clone(f.Queries), f.FailIf...)...)
	// Last, once nothing else can be refused: these start delivering
	// and lock the state, which Close ends.
	if err := f.startNotifier(); err != nil {
		return err
	}
	return f.restore()
}

// NewStore is a store for what a verb gathers that keeps only the series
// the questions and rules can read: the rest of a large target is never
// held. Valid after Check.
func (f *Flags) NewStore() *query.Store {
	s := query.NewStore()
	s.Only(f.reads)
	return s
}

// Round evaluates the rules at the store's newest sample: what recording
// rules record joins the store, and the alerts are kept for the answers.
// A verb calls it after each gathering, so that a rule's for: counts
// across them.
func (f *Flags) Round(ctx context.Context, store *query.Store) error {
	if f.rules == nil {
		return nil
	}
	at := store.Latest()
	alerts, err := f.rules.Eval(ctx, f.eng, store, at)
	if err != nil {
		return cmdutil.Failure(err)
	}
	f.alerts = alerts
	if f.notifier != nil {
		active := make([]notify.Active, len(alerts))
		for i, a := range alerts {
			active[i] = notify.Active{Labels: a.Labels, Annotations: a.Annotations, Firing: a.State == query.Firing}
		}
		f.notifier.Round(at, active)
		f.sayDeliveryErrors()
	}
	return nil
}

// startNotifier starts the delivery --alertmanager asks for.
func (f *Flags) startNotifier() error {
	if len(f.Alertmanagers) == 0 && len(f.ConfigAlertmanagers) == 0 && len(f.Webhooks) == 0 {
		if len(f.ExternalLabels) > 0 {
			return cmdutil.UsageError("--external-label labels the alerts --alertmanager and --notify-webhook deliver; give one")
		}
		return nil
	}
	if f.rules == nil {
		if len(f.Alertmanagers)+len(f.Webhooks) == 0 {
			return nil // the config file's wait for a run with rules
		}
		return cmdutil.UsageError("--alertmanager and --notify-webhook deliver the alerts of --rules; give a rule file")
	}
	if f.ResendDelay <= 0 {
		return cmdutil.UsageError("--alert-resend-delay must be positive, got %s", f.ResendDelay)
	}
	external := map[string]string{}
	for _, l := range f.ExternalLabels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || !model.LabelName(k).IsValid() || strings.HasPrefix(k, "__") {
			return cmdutil.UsageError("--external-label %q: want NAME=VALUE, NAME a label name", l)
		}
		external[k] = v
	}
	ams := slices.Clone(f.ConfigAlertmanagers)
	for _, u := range f.Alertmanagers {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return cmdutil.UsageError("--alertmanager %q: want an http(s):// URL", redact.URL(u))
		}
		ams = append(ams, notify.Alertmanager{URL: u, HTTP: config.DefaultHTTPClientConfig})
	}
	if f.GroupWait <= 0 || f.GroupInterval <= 0 || f.RepeatInterval <= 0 {
		return cmdutil.UsageError("--group-wait, --group-interval and --repeat-interval must be positive")
	}
	var hooks []notify.WebhookOptions
	for _, u := range f.Webhooks {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return cmdutil.UsageError("--notify-webhook %q: want an http(s):// URL", redact.URL(u))
		}
		hooks = append(hooks, notify.WebhookOptions{URL: u, HTTP: config.DefaultHTTPClientConfig,
			GroupWait: f.GroupWait, GroupInterval: f.GroupInterval, RepeatInterval: f.RepeatInterval})
	}
	n, err := notify.New(notify.Options{Alertmanagers: ams, ResendDelay: f.ResendDelay, ExternalLabels: external,
		UserAgent: "monctl/" + buildinfo.Get().Version, Webhooks: hooks, GeneratorURL: f.GeneratorURL})
	if err != nil {
		return cmdutil.UsageError("%v", err)
	}
	f.notifier = n
	return nil
}

// sayDeliveryErrors tells stderr what failed to reach an Alertmanager.
func (f *Flags) sayDeliveryErrors() {
	for _, e := range f.notifier.Errors() {
		fmt.Fprintf(f.errOut, "monctl: delivering alerts: %s\n", e)
	}
}

// Close delivers the alerts still queued (for 10 seconds at most) and
// says what could not be; a verb calls it once it is done, so that a run
// from cron delivers what it found.
func (f *Flags) Close() {
	if f.notifier != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f.notifier.Close(ctx)
		f.sayDeliveryErrors()
	}
	if f.state == nil {
		return
	}
	st := savedState{Rules: f.rules.Save()}
	if f.notifier != nil {
		st.Notifications, st.Webhooks = f.notifier.Save(), f.notifier.SaveWebhooks()
	}
	if err := f.state.save(st); err != nil {
		fmt.Fprintf(f.errOut, "monctl: saving the rules' state: %v\n", err)
	}
	f.state.close()
}

// restore takes up the state an earlier run of the same rule files left
// in --state-dir; a state of other rules (their files changed) is set
// aside with a warning.
func (f *Flags) restore() error {
	if f.rules == nil || f.StateDir == "" {
		return nil
	}
	state, err := openState(f.StateDir, f.RuleFiles, lockWait)
	if err != nil {
		return cmdutil.Failure(fmt.Errorf("--state-dir: %w", err))
	}
	f.state = state
	st, err := state.load()
	if err != nil {
		fmt.Fprintf(f.errOut, "monctl: warning: the rules' state cannot be read, starting afresh: %v\n", err)
		return nil
	}
	if st.Rules.Fingerprint == "" {
		return nil // the first run
	}
	if err := f.rules.Restore(st.Rules); err != nil {
		fmt.Fprintf(f.errOut, "monctl: warning: %s was left by other rules (their files changed): starting afresh\n", state.path)
		return nil
	}
	if f.notifier != nil {
		f.notifier.Restore(st.Notifications)
		f.notifier.RestoreWebhooks(st.Webhooks)
	}
	return nil
}

// Answers are a round's answers: every question and check, and the
// rules' active alerts.
type Answers struct {
	list   []Answer
	rules  bool // rule files were given: there are alerts to list
	alerts []query.Alert
	// nothingGathered: every source failed (--nagios says UNKNOWN
	// unless something fired).
	nothingGathered bool
}

// NothingGathered marks answers over nothing: every source failed.
func (as *Answers) NothingGathered() { as.nothingGathered = true }

// Evaluate answers every question, then every check, over the store at
// its newest sample, after the last Round. An expression that cannot be
// evaluated (timeout, sample limit) is a failure.
func (f *Flags) Evaluate(ctx context.Context, store *query.Store) (*Answers, error) {
	eng := f.eng
	var answers []Answer
	for _, c := range []struct {
		exprs []string
		check bool
	}{{f.Queries, false}, {f.FailIf, true}} {
		for _, e := range c.exprs {
			r, err := eng.Instant(ctx, store, e, store.Latest())
			if err != nil {
				return nil, cmdutil.Failure(err)
			}
			answers = append(answers, Answer{Result: r, check: c.check})
		}
	}
	return &Answers{list: answers, rules: f.rules != nil, alerts: f.alerts}, nil
}

// Print writes the answers in p's format, the engine's warnings and the
// checks that fired and the active alerts (for tables and csv) to errOut,
// and returns cmdutil.CheckFailed when a check or an alert fired.
func Print(p *output.Printer, errOut io.Writer, as *Answers, nagios bool) error {
	if nagios {
		return writeNagios(p.Out, as)
	}
	answers := as.list
	for i := range answers {
		for _, w := range answers[i].Warnings {
			fmt.Fprintf(errOut, "monctl: warning: %s: %s\n", answers[i].Expr, w)
		}
	}
	if err := p.Print(view(as, p.Term)); err != nil {
		return cmdutil.Failure(fmt.Errorf("writing output: %w", err))
	}
	if p.Format == output.Table || p.Format == output.Wide || p.Format == output.CSV {
		reportFired(errOut, answers)
		reportAlerts(errOut, as.alerts)
	}
	if slices.ContainsFunc(answers, func(a Answer) bool { return a.fired() }) ||
		slices.ContainsFunc(as.alerts, func(a query.Alert) bool { return a.State == query.Firing }) {
		return cmdutil.CheckFailed
	}
	return nil
}

// reportAlerts writes the active alerts for people: state, name, labels,
// then each annotation.
func reportAlerts(w io.Writer, alerts []query.Alert) {
	for _, a := range alerts {
		fmt.Fprintf(w, "monctl: alert %s: %s value %s\n", a.State, output.Escape(a.String()), a.Value)
		for _, k := range slices.Sorted(maps.Keys(a.Annotations)) {
			fmt.Fprintf(w, "  %s: %s\n", output.Escape(k), output.Escape(a.Annotations[k]))
		}
	}
}

// Answer is one expression's result: a question (--query) or a check
// (--fail-if), which fired when its result holds anything.
type Answer struct {
	*query.Result
	check bool
}

func (a *Answer) fired() bool { return a.check && a.Len() > 0 }

// view prints the answers: a table per expression for people;
// for scripts, json as Prometheus's /api/v1/query data objects.
func view(as *Answers, term output.Terminal) output.View {
	answers := as.list
	return output.View{
		// Checks go to stderr when they fire (reportFired).
		Text: func(w io.Writer) error {
			first := true
			for i := range answers {
				a := &answers[i]
				if a.check {
					continue
				}
				if !first {
					io.WriteString(w, "\n")
				}
				first = false
				io.WriteString(w, output.Escape("# "+a.Expr)+"\n")
				header, rows := a.rows(false)
				if err := output.WriteTable(w, term, header, rows); err != nil {
					return err
				}
			}
			return nil
		},
		// One table of every answer, for csv (exact, the time in Unix
		// seconds) and markdown (for people).
		Rows: func(f output.Format) ([]string, [][]string) {
			exact := f == output.CSV
			var rows [][]string
			for i := range answers {
				a := &answers[i]
				at := a.Time.UTC().Format(time.RFC3339)
				if exact {
					at = strconv.FormatFloat(float64(a.Time.UnixMilli())/1000, 'f', -1, 64)
				}
				_, rs := a.rows(exact)
				for _, r := range rs {
					rows = append(rows, append([]string{a.Expr, strconv.FormatBool(a.check)}, append(r, at)...))
				}
			}
			return []string{"EXPR", "CHECK", "METRIC", "VALUE", "TIME"}, rows
		},
		Document: func(jw *output.JSONWriter) { writeAnswers(jw, as) },
		Lines: func(jw *output.JSONWriter) {
			for i := range answers {
				jw.Raw(dataJSON(&answers[i]))
				jw.Newline()
			}
		},
	}
}

// rows are the result's series and values: for people, or exact (csv).
func (a *Answer) rows(exact bool) ([]string, [][]string) {
	num := output.Float
	if !exact {
		num = func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	}
	header := []string{"METRIC", "VALUE"}
	var rows [][]string
	switch v := a.Value.(type) {
	case promql.Vector:
		for _, s := range v {
			val := num(s.F)
			if s.H != nil {
				val = s.H.String()
			}
			rows = append(rows, []string{metricText(s.Metric), val})
		}
	case promql.Matrix:
		for _, s := range v {
			var vals []string
			for _, p := range s.Floats {
				vals = append(vals, num(p.F)+" @"+strconv.FormatFloat(float64(p.T)/1000, 'f', -1, 64))
			}
			rows = append(rows, []string{metricText(s.Metric), strings.Join(vals, ", ")})
		}
	case promql.Scalar:
		rows = append(rows, []string{"scalar", num(v.V)})
	case promql.String:
		rows = append(rows, []string{"string", v.V})
	}
	return header, rows
}

// metricText writes a series as PromQL does: name{label="value", ...}.
func metricText(ls labels.Labels) string {
	name := ls.Get(labels.MetricName)
	var parts []string
	ls.Range(func(l labels.Label) {
		if l.Name != labels.MetricName {
			parts = append(parts, l.Name+"="+strconv.Quote(l.Value))
		}
	})
	if name != "" && len(parts) == 0 {
		return name
	}
	return name + "{" + strings.Join(parts, ", ") + "}"
}

// dataJSON is an answer as the data object of Prometheus's /api/v1/query.
func dataJSON(a *Answer) []byte {
	v := a.Value
	if vec, ok := v.(promql.Vector); ok && vec == nil {
		v = promql.Vector{} // Prometheus says [], not null
	}
	return marshal(struct {
		ResultType string `json:"resultType"`
		Result     any    `json:"result"`
	}{string(a.Value.Type()), v})
}

// marshal is JSON without HTML escapes: PromQL is full of < and >.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return marshal(map[string]string{"error": err.Error()})
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// writeAnswers writes the questions' data objects as an array; with
// checks or rules, an object of the questions, the checks that fired and
// the active alerts (as Prometheus's /api/v1/alerts lists them).
func writeAnswers(jw *output.JSONWriter, as *Answers) {
	answers := as.list
	var questions, checks []*Answer
	for i := range answers {
		if answers[i].check {
			checks = append(checks, &answers[i])
		} else {
			questions = append(questions, &answers[i])
		}
	}
	array := func(as []*Answer, withExpr bool) {
		jw.BeginArray()
		for _, a := range as {
			if !withExpr {
				jw.Raw(dataJSON(a))
				continue
			}
			jw.Raw(slices.Concat([]byte(`{"expr":`), marshal(a.Expr), []byte(","), dataJSON(a)[1:]))
		}
		jw.EndArray()
	}
	if len(checks) == 0 && !as.rules {
		array(questions, false)
		return
	}
	var fired []*Answer
	for _, c := range checks {
		if c.fired() {
			fired = append(fired, c)
		}
	}
	jw.BeginObject()
	jw.Key("queries")
	array(questions, false)
	jw.Key("firing")
	array(fired, true)
	jw.Key("alerts")
	jw.BeginArray()
	for _, a := range as.alerts {
		jw.Raw(marshal(a))
	}
	jw.EndArray()
	jw.EndObject()
}

// reportFired writes the checks that fired to stderr, for people: the
// expression and its series.
func reportFired(w io.Writer, answers []Answer) {
	for i := range answers {
		a := &answers[i]
		if !a.fired() {
			continue
		}
		fmt.Fprintf(w, "monctl: check failed: %s\n", output.Escape(a.Expr))
		_, rows := a.rows(false)
		for _, r := range rows {
			fmt.Fprintf(w, "  %s  %s\n", output.Escape(r[0]), output.Escape(r[1]))
		}
	}
}
