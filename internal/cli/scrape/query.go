package scrape

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/spf13/pflag"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/query"
)

// QueryFlags ask PromQL questions of what scrape gathered.
type QueryFlags struct {
	Queries      []string
	FailIf       []string
	Window       time.Duration
	Samples      int
	QueryTimeout time.Duration
}

func (q *QueryFlags) addQueryFlags(fl *pflag.FlagSet) {
	fl.StringArrayVar(&q.Queries, "query", nil, "evaluate this PromQL expression over what was gathered and print its result (repeatable)")
	fl.StringArrayVar(&q.FailIf, "fail-if", nil, "a check: exit 4 when this PromQL expression returns any series, which are printed (repeatable)")
	cmdutil.DurationVar(fl, &q.Window, "window", 0, "gather --samples times over this window, for range functions (rate, increase, deriv, *_over_time)")
	fl.IntVar(&q.Samples, "samples", 2, "how many times --window gathers, evenly spread (at least 2)")
	cmdutil.DurationVar(fl, &q.QueryTimeout, "query-timeout", 2*time.Minute, "how long one expression may take")
}

// asking says whether the run answers PromQL questions instead of
// printing the expositions.
func (q *QueryFlags) asking() bool { return len(q.Queries) > 0 || len(q.FailIf) > 0 }

// check refuses bad questions before anything is gathered.
func (q *QueryFlags) check(p *output.Printer, rate time.Duration, targets []exposition.Target) error {
	if p.Template != nil {
		return cmdutil.UsageError("--format cannot print query results; use -o json")
	}
	format := p.Format
	for _, e := range append(append([]string{}, q.Queries...), q.FailIf...) {
		if err := query.Parse(e); err != nil {
			return cmdutil.UsageError("%v", err)
		}
	}
	switch {
	case q.Window < 0:
		return cmdutil.UsageError("--window must be positive")
	case q.Window > 0 && q.Samples < 2:
		return cmdutil.UsageError("--samples must be at least 2 (the start and the end of --window)")
	case rate > 0:
		return cmdutil.UsageError("--rate prints rates of the exposition; with --query, use rate() over a --window")
	case q.QueryTimeout <= 0:
		return cmdutil.UsageError("--query-timeout must be positive")
	}
	switch format {
	case output.Table, output.Wide, output.JSON, output.JSONL, output.YAML, output.CSV:
	default:
		return cmdutil.UsageError("-o %s cannot print query results (want table, wide, json, jsonl, yaml or csv)", format)
	}
	if q.Window > 0 {
		for _, t := range targets {
			if t.URL == "-" {
				return cmdutil.UsageError("--window gathers more than once, and standard input can be read only once")
			}
		}
	}
	return nil
}

// answer is one expression's result: a question (--query) or a check
// (--fail-if), which fired when its result holds anything.
type answer struct {
	*query.Result
	check bool
}

func (a *answer) fired() bool { return a.check && a.Len() > 0 }

// ask gathers the targets (once, or --samples times over --window) into a
// store, with each target's up and scrape_duration_seconds as Prometheus
// records them, and evaluates every expression at the last gathering.
// It returns the answers and the results of the last gathering.
func (o *Options) ask(ctx context.Context, s *exposition.Scraper, targets []exposition.Target, sel *exposition.Selector) ([]answer, []exposition.Result, error) {
	store := query.NewStore()
	rounds := 1
	if o.Window > 0 {
		rounds = o.Samples
	}
	var results []exposition.Result
	for i := range rounds {
		if i > 0 {
			select {
			case <-time.After(o.Window / time.Duration(rounds-1)):
			case <-ctx.Done():
				return nil, nil, context.Cause(ctx)
			}
		}
		results = s.ScrapeAll(ctx, targets, o.Concurrency)
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		for j := range results {
			r := &results[j]
			var extra []exposition.Label
			if len(targets) > 1 {
				extra = append(extra, exposition.Label{Name: exposition.TargetLabel, Value: r.Target})
			}
			if r.Err == nil {
				store.Add(r.Start, sel.Filter(r.Families), extra...)
			}
			store.Add(r.Start, scrapeFamilies(r), extra...)
		}
	}
	eng := query.NewEngine(query.Options{Timeout: o.QueryTimeout})
	at := store.Latest()
	var answers []answer
	for _, c := range []struct {
		exprs []string
		check bool
	}{{o.Queries, false}, {o.FailIf, true}} {
		for _, e := range c.exprs {
			r, err := eng.Instant(ctx, store, e, at)
			if err != nil {
				return nil, nil, cmdutil.Failure(err)
			}
			answers = append(answers, answer{Result: r, check: c.check})
		}
	}
	return answers, results, nil
}

// scrapeFamilies are the series Prometheus records of every scrape: up
// and scrape_duration_seconds.
func scrapeFamilies(r *exposition.Result) []exposition.Family {
	up := 0.0
	if r.Err == nil {
		up = 1
	}
	return []exposition.Family{
		{Name: "up", Type: exposition.Gauge, Metrics: []exposition.Metric{{Value: up}}},
		{Name: "scrape_duration_seconds", Type: exposition.Gauge, Metrics: []exposition.Metric{{Value: r.Duration.Seconds()}}},
	}
}

// answersView prints the answers: a table per expression for people;
// for scripts, json as Prometheus's /api/v1/query data objects.
func answersView(answers []answer, term output.Terminal) output.View {
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
		Rows: func(output.Format) ([]string, [][]string) {
			header := []string{"expr", "check", "metric", "value", "time"}
			var rows [][]string
			for i := range answers {
				a := &answers[i]
				_, rs := a.rows(true)
				for _, r := range rs {
					rows = append(rows, append([]string{a.Expr, strconv.FormatBool(a.check)}, append(r, strconv.FormatFloat(float64(a.Time.UnixMilli())/1000, 'f', -1, 64))...))
				}
			}
			return header, rows
		},
		Document: func(jw *output.JSONWriter) { writeAnswers(jw, answers) },
		Lines: func(jw *output.JSONWriter) {
			for i := range answers {
				jw.Raw(dataJSON(&answers[i]))
				jw.Newline()
			}
		},
	}
}

// rows are the result's series and values: for people, or exact (csv).
func (a *answer) rows(exact bool) ([]string, [][]string) {
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
func dataJSON(a *answer) []byte {
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
// checks, an object of the questions and of the checks that fired.
func writeAnswers(jw *output.JSONWriter, answers []answer) {
	var questions, checks []*answer
	for i := range answers {
		if answers[i].check {
			checks = append(checks, &answers[i])
		} else {
			questions = append(questions, &answers[i])
		}
	}
	array := func(as []*answer, withExpr bool) {
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
	if len(checks) == 0 {
		array(questions, false)
		return
	}
	var fired []*answer
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
	jw.EndObject()
}

// reportFired writes the checks that fired to stderr, for people: the
// expression and its series.
func reportFired(w io.Writer, answers []answer) {
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
