package scrape

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

const queryFixture = `# TYPE http_requests_total counter
http_requests_total{code="200"} 100
http_requests_total{code="500"} 3
# TYPE temp gauge
temp{room="a"} 20
temp{room="b"} 25
`

// promData is the data object of Prometheus's /api/v1/query.
type promData struct {
	ResultType string `json:"resultType"`
	Result     []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	} `json:"result"`
}

func TestQueryPrintsPrometheusAPIData(t *testing.T) {
	file := writeFile(t, t.TempDir(), "fx.prom", queryFixture)
	out, errOut, code := execute(t, nil, file, "--query", `temp > 21`, "--query", `sum(http_requests_total)`, "--query", "up", "-o", "json")
	var data []promData
	if err := json.Unmarshal([]byte(out), &data); err != nil || code != 0 || len(data) != 3 {
		t.Fatalf("exit %d, %v: %s %s", code, err, out, errOut)
	}
	if d := data[0]; d.ResultType != "vector" || len(d.Result) != 1 || d.Result[0].Metric["room"] != "b" || d.Result[0].Metric["__name__"] != "temp" || d.Result[0].Value[1] != "25" {
		t.Errorf("temp > 21: %+v", d)
	}
	if d := data[1]; len(d.Result) != 1 || d.Result[0].Value[1] != "103" || len(d.Result[0].Metric) != 0 {
		t.Errorf("sum: %+v", d)
	}
	// Every gathering records up, as Prometheus does.
	if d := data[2]; len(d.Result) != 1 || d.Result[0].Value[1] != "1" {
		t.Errorf("up: %+v", d)
	}
	if strings.Contains(out, `\u003e`) {
		t.Errorf("PromQL in JSON is HTML-escaped: %s", out)
	}

	table, _, code := execute(t, nil, file, "--query", `temp`)
	if code != 0 || !strings.Contains(table, "# temp\n") || !strings.Contains(table, `temp{room="a"}`) {
		t.Errorf("table: exit %d:\n%s", code, table)
	}
}

// TestFailIfExitsFour: a check that returns series exits 4 and prints
// them (stderr for tables, "firing" in JSON); one that returns nothing
// exits 0.
func TestFailIfExitsFour(t *testing.T) {
	file := writeFile(t, t.TempDir(), "fx.prom", queryFixture)
	out, errOut, code := execute(t, nil, file, "--fail-if", `http_requests_total{code="500"} > 2`, "--fail-if", `temp > 100`)
	if code != 4 || !strings.Contains(errOut, `check failed: http_requests_total{code="500"} > 2`) ||
		!strings.Contains(errOut, `http_requests_total{code="500"}  3`) || strings.Contains(errOut, "temp > 100") || out != "" {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	out, _, code = execute(t, nil, file, "--fail-if", `http_requests_total{code="500"} > 2`, "--fail-if", `temp > 100`, "--query", "count(temp)", "-o", "json")
	var doc struct {
		Queries []promData `json:"queries"`
		Firing  []struct {
			Expr string `json:"expr"`
			promData
		} `json:"firing"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 4 {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	if len(doc.Queries) != 1 || len(doc.Firing) != 1 || doc.Firing[0].Expr != `http_requests_total{code="500"} > 2` || len(doc.Firing[0].Result) != 1 {
		t.Errorf("json: %+v", doc)
	}
	if _, errOut, code := execute(t, nil, file, "--fail-if", `temp > 100`); code != 0 || errOut != "" {
		t.Errorf("a check that does not fire: exit %d, %s", code, errOut)
	}
	// A target that is down is a check like any other.
	if _, errOut, code := execute(t, nil, file, "127.0.0.1:1", "--fail-if", `up == 0`); code != 4 || !strings.Contains(errOut, `up{target="http://127.0.0.1:1/metrics"}  0`) {
		t.Errorf("up == 0: exit %d, %s", code, errOut)
	}
}

func TestQueryRefusesBadQuestions(t *testing.T) {
	file := writeFile(t, t.TempDir(), "fx.prom", queryFixture)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{file, "--query", "sum(rate(x[5m])"}, "1:16: parse error: unclosed left parenthesis"},
		{[]string{file, "--fail-if", "up =="}, "parse error"},
		{[]string{file, "--query", "up", "-o", "prom"}, `query results: output format "prom" is not available here`},
		{[]string{file, "--query", "up", "--rate", "1s"}, "use rate() over a --window"},
		{[]string{"-", "--query", "up", "--window", "1s"}, "standard input can be read only once"},
		{[]string{file, "--query", "up", "--window", "1s", "--samples", "1"}, "--samples must be at least 2"},
	} {
		_, errOut, code := execute(t, nil, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %s; want exit 2 about %q", c.args, code, errOut, c.want)
		}
	}
}

// TestWindowGivesRanges: --window gathers at its start and end, so that
// rate() has two samples: a counter that grows by 10 a second reads 10/s
// (well above zero, so that rate() extrapolates to the range's start).
func TestWindowGivesRanges(t *testing.T) {
	start := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# TYPE ticks_total counter\nticks_total %s\n", strconv.FormatFloat(1000+time.Since(start).Seconds()*10, 'f', -1, 64))
	})) // on 127.0.0.1
	defer srv.Close()
	out, errOut, code := execute(t, nil, srv.URL, "--window", "0.5", "--query", "rate(ticks_total[1s])", "-o", "json")
	var data []promData
	if err := json.Unmarshal([]byte(out), &data); err != nil || code != 0 || len(data) != 1 || len(data[0].Result) != 1 {
		t.Fatalf("exit %d, %v: %s %s", code, err, out, errOut)
	}
	rate, _ := strconv.ParseFloat(data[0].Result[0].Value[1].(string), 64)
	if math.Abs(rate-10) > 0.5 {
		t.Errorf("rate %v, want 10 ± 5%%", rate)
	}
}

// TestLintFindsPromtoolsProblems: --lint reports promlint's problems, one
// record per problem, and exits 4; a clean exposition exits 0.
func TestLintFindsPromtoolsProblems(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.prom", "# TYPE foo_seconds counter\nfoo_seconds 1\n# HELP x_milliseconds m\n# TYPE x_milliseconds gauge\nx_milliseconds 3\n")
	out, _, code := execute(t, nil, bad, "--lint", "-o", "json")
	var recs []lintRecord
	if err := json.Unmarshal([]byte(out), &recs); err != nil || code != 4 {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	want := []lintRecord{
		{bad, "foo_seconds", `counter metrics should have "_total" suffix`},
		{bad, "foo_seconds", "no help text"},
		{bad, "x_milliseconds", `use base unit "seconds" instead of "milliseconds"`},
	}
	if fmt.Sprint(recs) != fmt.Sprint(want) {
		t.Errorf("got  %v\nwant %v", recs, want)
	}
	good := writeFile(t, dir, "good.prom", "# HELP up_total fine\n# TYPE up_total counter\nup_total 1\n")
	if out, errOut, code := execute(t, nil, good, "--lint"); code != 0 || strings.Contains(out, "up_total") {
		t.Errorf("clean: exit %d: %s %s", code, out, errOut)
	}
	if _, errOut, code := execute(t, nil, good, "--lint", "--query", "up"); code != 2 || !strings.Contains(errOut, "lint") {
		t.Errorf("--lint with --query: exit %d, %s", code, errOut)
	}
}

// TestAnalyzeWeighsTheExposition: series as Prometheus stores them
// (a histogram's buckets, _sum and _count each), the labels with the most
// values first, --top bounding the lists but not the totals.
func TestAnalyzeWeighsTheExposition(t *testing.T) {
	file := writeFile(t, t.TempDir(), "fx.prom", queryFixture+`# TYPE lat_seconds histogram
lat_seconds_bucket{path="/a",le="1"} 1
lat_seconds_bucket{path="/a",le="+Inf"} 2
lat_seconds_sum{path="/a"} 3
lat_seconds_count{path="/a"} 2
# TYPE hits_total counter
hits_total{user="1"} 1
hits_total{user="2"} 1
hits_total{user="3"} 1
`)
	out, errOut, code := execute(t, nil, file, "--analyze", "--top", "2", "-o", "json")
	var as []analysis
	if err := json.Unmarshal([]byte(out), &as); err != nil || code != 0 || len(as) != 1 {
		t.Fatalf("exit %d, %v: %s %s", code, err, out, errOut)
	}
	a := as[0]
	// 2 requests + 2 temps + 4 histogram series + 3 hits.
	if a.Families != 4 || a.Series != 11 || a.Bytes <= 0 {
		t.Errorf("totals: %+v", a)
	}
	if len(a.Metrics) != 2 || a.Metrics[0].Name != "lat_seconds" || a.Metrics[0].Series != 4 || a.Metrics[1].Name != "hits_total" {
		t.Errorf("heaviest metrics: %+v", a.Metrics)
	}
	if len(a.Labels) != 2 || a.Labels[0].Name != "user" || a.Labels[0].Values != 3 || a.Labels[0].Series != 3 {
		t.Errorf("labels with the most values: %+v", a.Labels)
	}
	table, _, code := execute(t, nil, file, "--analyze")
	if code != 0 || !strings.Contains(table, "11 series in 4 metrics") || !strings.Contains(table, "LABEL") {
		t.Errorf("table: exit %d:\n%s", code, table)
	}
}

// TestNagiosPlugin: --nagios answers as a Nagios plugin: one status line
// with performance data, a line per problem, exit 0 OK, 1 WARNING (a
// firing alert whose severity is warning), 2 CRITICAL (a check, or any
// other firing alert), 3 UNKNOWN (bad input, nothing gathered).
func TestNagiosPlugin(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "fx.prom", queryFixture)
	rules := writeFile(t, dir, "rules.yml", `groups:
  - name: g
    rules:
      - alert: Warm
        expr: temp > 21
        labels: {severity: warning}
        annotations: {summary: "room {{ $labels.room }} is warm"}
`)
	for _, c := range []struct {
		args  []string
		code  int
		lines []string
	}{
		{[]string{file, "--nagios", "--query", "sum(temp)"}, 0,
			[]string{"MONCTL OK - all checks pass | 'checks_failed'=0 'alerts_firing'=0 'sum(temp)'=45"}},
		{[]string{file, "--nagios", "--rules", rules}, 1,
			[]string{"MONCTL WARNING - Warm | 'checks_failed'=0 'alerts_firing'=1", "WARNING: Warm: room b is warm"}},
		{[]string{file, "--nagios", "--rules", rules, "--fail-if", `http_requests_total{code="500"} > 2`}, 2,
			[]string{`MONCTL CRITICAL - http_requests_total{code="500"} > 2, Warm | 'checks_failed'=1 'alerts_firing'=1`,
				`CRITICAL: http_requests_total{code="500"} > 2: http_requests_total{code="500"} 3`, "WARNING: Warm: room b is warm"}},
		{[]string{"127.0.0.1:1", "--nagios", "--query", "up"}, 3,
			[]string{"MONCTL UNKNOWN - nothing could be gathered | 'checks_failed'=0 'alerts_firing'=0 'up'=0"}},
		{[]string{file, "--nagios", "--query", "sum(("}, 3, []string{`MONCTL UNKNOWN - bad PromQL "sum((": 1:6: parse error: unclosed left parenthesis`}},
	} {
		out, errOut, code := execute(t, nil, c.args...)
		if code != c.code || strings.TrimSpace(out) != strings.Join(c.lines, "\n") {
			t.Errorf("%v: exit %d (want %d), stdout:\n%s\nwant:\n%s\nstderr: %s", c.args, code, c.code, out, strings.Join(c.lines, "\n"), errOut)
		}
	}
}

// TestQueryLimitsSaySo: an expression over --query-max-samples fails
// (exit 1) saying so.
func TestQueryLimitsSaySo(t *testing.T) {
	file := writeFile(t, t.TempDir(), "fx.prom", queryFixture)
	_, errOut, code := execute(t, nil, file, "--query", "sum(temp)", "--query-max-samples", "1")
	if code != 1 || !strings.Contains(errOut, "too many samples") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}
