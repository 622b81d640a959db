//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	"github.com/monctl/monctl/pkg/exposition"
)

// crossServer serves an exposition (delimited protobuf, with classic and
// native histograms) that depends on how many times the client asking
// has asked (Prometheus and monctl each count on their
// own, by User-Agent), so that the two see the same bodies in the same
// order: the n-th scrape of either is the same. cross_clock_total grows
// by 10 a second, for rates. It listens on 127.0.0.1.
func crossServer(t *testing.T) string {
	t.Helper()
	start := time.Now()
	var mu sync.Mutex
	asked := map[string]int{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := "other"
		if strings.HasPrefix(r.UserAgent(), "Prometheus/") {
			client = "prometheus"
		}
		mu.Lock()
		asked[client]++
		n := float64(asked[client])
		mu.Unlock()
		text := fmt.Sprintf(`# TYPE cross_requests_total counter
cross_requests_total{code="200"} %[1]v
cross_requests_total{code="500"} %[2]v
# TYPE cross_clock_total counter
cross_clock_total %[3]v
# TYPE cross_temp gauge
cross_temp{room="a"} 20
cross_temp{room="b"} 25
cross_temp{room="c"} 25
# TYPE cross_info gauge
cross_info{version="1.2.3"} 1
# TYPE cross_latency_seconds histogram
cross_latency_seconds_bucket{le="0.1"} %[4]v
cross_latency_seconds_bucket{le="0.5"} %[5]v
cross_latency_seconds_bucket{le="1"} %[6]v
cross_latency_seconds_bucket{le="+Inf"} %[7]v
cross_latency_seconds_sum %[8]v
cross_latency_seconds_count %[7]v
# TYPE cross_rpc_seconds summary
cross_rpc_seconds{quantile="0.5"} 0.2
cross_rpc_seconds{quantile="0.9"} 0.7
cross_rpc_seconds_sum %[8]v
cross_rpc_seconds_count %[7]v
`, 100*n, 3*n, 1000+10*time.Since(start).Seconds(), 10*n, 30*n*n, 40*n*n, 50*n*n, 20*n)
		// The same as delimited protobuf, with a native histogram of
		// 10n observations, which only protobuf carries.
		res, err := exposition.Parse([]byte(text), exposition.FormatText)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		native := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cross_native_seconds", Help: "native",
			NativeHistogramBucketFactor: 1.1, NativeHistogramZeroThreshold: 1e-6})
		for i := range int(10 * n) {
			native.Observe(float64(i%20+1) * 0.05)
		}
		var m dto.Metric
		native.Write(&m)
		mfs := []*dto.MetricFamily{{Name: proto.String("cross_native_seconds"), Help: proto.String("native"),
			Type: dto.MetricType_HISTOGRAM.Enum(), Metric: []*dto.Metric{&m}}}
		for i := range res.Families {
			mfs = append(mfs, res.Families[i].DTO())
		}
		w.Header().Set("Content-Type", "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited")
		for _, mf := range mfs {
			protodelim.MarshalTo(w, mf)
		}
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String() + "/metrics"
}

// crossExprs are the expressions both answer; approx are those whose
// values depend on when each scraped (rates of the clock), compared
// within 3%.
var crossExprs = []struct {
	expr   string
	approx bool
}{
	{`cross_temp`, false},
	{`cross_temp{room="b"}`, false},
	{`cross_temp > 21`, false},
	{`cross_temp > bool 21`, false},
	{`cross_temp * 2 + 1`, false},
	{`cross_requests_total{code="500"} / ignoring(code) cross_requests_total{code="200"}`, false},
	{`sum(cross_requests_total)`, false},
	{`sum by (code) (cross_requests_total)`, false},
	{`avg(cross_temp)`, false},
	{`max(cross_temp) - min(cross_temp)`, false},
	{`topk(1, cross_temp{room="a"})`, false},
	{`bottomk(1, cross_temp)`, false},
	{`count(cross_temp)`, false},
	{`count_values("v", cross_temp)`, false},
	{`label_replace(cross_temp, "place", "room-$1", "room", "(.*)")`, false},
	{`cross_temp and cross_temp > 21`, false},
	{`cross_temp or cross_info`, false},
	{`cross_temp unless cross_temp > 21`, false},
	{`absent(cross_nonexistent{job="x"})`, false},
	{`absent(cross_temp)`, false},
	{`cross_info`, false},
	{`cross_latency_seconds_bucket`, false},
	{`cross_latency_seconds_sum / cross_latency_seconds_count`, false},
	{`cross_rpc_seconds{quantile="0.9"}`, false},
	{`histogram_quantile(0.5, cross_latency_seconds_bucket)`, false},
	{`histogram_quantile(0.9, rate(cross_latency_seconds_bucket[3s]))`, false},
	{`idelta(cross_requests_total[3s])`, false},
	{`changes(cross_requests_total[3s])`, false},
	{`resets(cross_requests_total[3s])`, false},
	{`max_over_time(cross_requests_total[3s])`, false},
	{`count_over_time(cross_requests_total[3s])`, false},
	{`clamp_max(cross_temp, 22)`, false},
	{`scalar(count(cross_temp)) * 2`, false},
	{`up`, false},
	{`histogram_count(cross_native_seconds)`, false},
	{`histogram_sum(cross_native_seconds)`, false},
	{`histogram_quantile(0.5, cross_native_seconds)`, false},
	{`histogram_fraction(0, 0.5, cross_native_seconds)`, false},
	{`histogram_quantile(0.9, rate(cross_native_seconds[3s]))`, false},
	{`rate(cross_clock_total[3s])`, true},
	{`deriv(cross_clock_total[3s])`, true},
}

// promResult is the data object of /api/v1/query, for comparing.
type promResult struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// canonical turns a result into series text → value, without the job
// and instance labels Prometheus adds to what it scrapes.
func canonical(t *testing.T, r promResult) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	value := func(v [2]any) float64 {
		f, _ := strconv.ParseFloat(fmt.Sprint(v[1]), 64)
		return f
	}
	switch r.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(r.Result, &vec); err != nil {
			t.Fatal(err)
		}
		for _, s := range vec {
			delete(s.Metric, "job")
			delete(s.Metric, "instance")
			var parts []string
			for k, v := range s.Metric {
				parts = append(parts, k+"="+v)
			}
			slices.Sort(parts)
			out["{"+strings.Join(parts, ",")+"}"] = value(s.Value)
		}
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(r.Result, &v); err != nil {
			t.Fatal(err)
		}
		out["scalar"] = value(v)
	}
	return out
}

// TestQueryAgreesWithPrometheus: the same expressions over the same
// samples give the same answers from a real Prometheus (its HTTP API, at
// the time of its third scrape) and from monctl scrape --query (three
// gatherings a second apart, answered at the third).
func TestQueryAgreesWithPrometheus(t *testing.T) {
	target := crossServer(t)
	u, _ := url.Parse(target)
	promURL := startPrometheus(t, u.Host)

	args := []string{"scrape", target, "--window", "2s", "--samples", "3", "-o", "json"}
	for _, c := range crossExprs {
		args = append(args, "--query", c.expr)
	}
	out, errOut, code := monctl(t, args...)
	var mine []promResult
	if err := json.Unmarshal([]byte(out), &mine); err != nil || code != 0 || len(mine) != len(crossExprs) {
		t.Fatalf("monctl: exit %d, %v: %s\n%s", code, err, errOut, out)
	}

	// The time of Prometheus's third scrape: where its counter says 300.
	var at string
	waitFor(t, "Prometheus's third scrape", 60*time.Second, func() bool {
		var r struct {
			Data struct {
				Result []struct {
					Values [][2]any `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		getJSON(t, promURL+"/api/v1/query?query="+url.QueryEscape(`cross_requests_total{code="200"}[1m]`), &r)
		for _, s := range r.Data.Result {
			for _, v := range s.Values {
				if v[1] == "300" {
					at = strconv.FormatFloat(v[0].(float64), 'f', -1, 64)
					return true
				}
			}
		}
		return false
	})

	for i, c := range crossExprs {
		var theirs struct {
			Status string     `json:"status"`
			Error  string     `json:"error"`
			Data   promResult `json:"data"`
		}
		getJSON(t, promURL+"/api/v1/query?time="+at+"&query="+url.QueryEscape(c.expr), &theirs)
		if theirs.Status != "success" || theirs.Data.ResultType != mine[i].ResultType {
			t.Errorf("%s: Prometheus %s %s %s, monctl %s", c.expr, theirs.Status, theirs.Error, theirs.Data.ResultType, mine[i].ResultType)
			continue
		}
		want, got := canonical(t, theirs.Data), canonical(t, mine[i])
		if len(want) == 0 && c.expr != `absent(cross_temp)` {
			t.Errorf("%s: Prometheus answers nothing; the comparison would prove nothing", c.expr)
		}
		if !slices.Equal(slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got))) {
			t.Errorf("%s: series differ:\nPrometheus %v\nmonctl     %v", c.expr, want, got)
			continue
		}
		for k, w := range want {
			g := got[k]
			tol := 1e-9 * math.Max(1, math.Abs(w))
			if c.approx {
				tol = 0.03 * math.Abs(w)
			}
			if math.Abs(g-w) > tol && !(math.IsNaN(g) && math.IsNaN(w)) {
				t.Errorf("%s %s: Prometheus %v, monctl %v", c.expr, k, w, g)
			}
		}
	}
}

// TestLintAgreesWithPromtool: monctl scrape --lint finds the problems
// promtool check metrics finds, on a real node_exporter and on a fixture
// with known problems.
func TestLintAgreesWithPromtool(t *testing.T) {
	port := freePort(t)
	nodeURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	start(t, nodeURL, tool(t, "node_exporter"), "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", port))
	resp, err := http.Get(nodeURL)
	if err != nil {
		t.Fatal(err)
	}
	nodeBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fixture := `# TYPE foo_seconds counter
foo_seconds 1
# HELP x_milliseconds latency
# TYPE x_milliseconds gauge
x_milliseconds 3
# HELP RequestCount camel case
# TYPE RequestCount counter
RequestCount 1
# HELP ok_total fine
# TYPE ok_total counter
ok_total{Path="/"} 1
`
	for _, c := range []struct {
		what, arg string
		body      []byte
	}{
		{"node_exporter", nodeURL, nodeBody},
		{"a fixture with problems", writeTemp(t, "lint.prom", fixture), []byte(fixture)},
	} {
		lint := exec.Command(tool(t, "promtool"), "check", "metrics")
		lint.Stdin = strings.NewReader(string(c.body))
		var promtoolOut strings.Builder
		lint.Stderr = &promtoolOut
		lint.Run() // exit 3 when it finds problems
		var want []string
		for line := range strings.Lines(promtoolOut.String()) {
			if line = strings.TrimSpace(line); line != "" {
				want = append(want, line)
			}
		}
		out, errOut, code := monctl(t, "scrape", "--lint", "-o", "json", c.arg)
		var recs []struct{ Metric, Problem string }
		if err := json.Unmarshal([]byte(out), &recs); err != nil {
			t.Fatalf("%s: exit %d, %v: %s %s", c.what, code, err, out, errOut)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Metric+" "+r.Problem)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Errorf("%s: promtool found\n%s\nmonctl found\n%s", c.what, strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
		if wantCode := map[bool]int{true: 4, false: 0}[len(want) > 0]; code != wantCode {
			t.Errorf("%s: exit %d, want %d", c.what, code, wantCode)
		}
		if c.what == "a fixture with problems" && len(want) < 4 {
			t.Errorf("the fixture's problems were not all found: %v", want)
		}
	}
}

const crossRules = `groups:
  - name: cross
    labels: {team: ops}
    rules:
      - record: cross:requests:sum
        expr: sum by (code) (cross_requests_total)
      - alert: HotRoom
        expr: cross_temp > 21
        labels: {severity: warning}
        annotations: {summary: "room {{ $labels.room }} at {{ $value }} degrees"}
      - alert: Errors
        expr: cross:requests:sum{code="500"} > 0
        labels: {severity: critical, code: "{{ $labels.code }}xx"}
        annotations:
          summary: "errors on code {{ $labels.code }}"
          rooms: '{{ with query "count(cross_temp)" }}{{ . | first | value }}{{ end }} rooms'
      - alert: Cold
        expr: cross_temp < 0
      - alert: Slow
        expr: up == 1
        for: 1h
        annotations: {summary: "up for a while"}
`

// TestRulesAgreeWithPrometheus: the same rule file loaded into a real
// Prometheus and given to monctl scrape --rules gives the same active
// alerts, with the same state, labels (but Prometheus's job and
// instance) and templated annotations; monctl exits 4 for the firing
// ones.
func TestRulesAgreeWithPrometheus(t *testing.T) {
	target := crossServer(t)
	rules := writeTemp(t, "rules.yml", crossRules)
	u, _ := url.Parse(target)
	promURL := startPrometheus(t, u.Host, rules)

	out, errOut, code := monctl(t, "scrape", target, "--rules", rules, "-o", "json")
	var mine struct {
		Alerts []alertJSON `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(out), &mine); err != nil || code != 4 {
		t.Fatalf("monctl: exit %d, %v: %s\n%s", code, err, errOut, out)
	}
	var theirs []alertJSON
	waitFor(t, "Prometheus's alerts", 60*time.Second, func() bool {
		var r struct {
			Data struct {
				Alerts []alertJSON `json:"alerts"`
			} `json:"data"`
		}
		getJSON(t, promURL+"/api/v1/alerts", &r)
		theirs = r.Data.Alerts
		return len(theirs) == len(mine.Alerts)
	})
	want, got := describeAlerts(theirs), describeAlerts(mine.Alerts)
	if !slices.Equal(want, got) || len(got) != 4 {
		t.Errorf("Prometheus's alerts:\n%s\nmonctl's:\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	_, errOut, code = monctl(t, "scrape", target, "--rules", rules)
	if code != 4 || !strings.Contains(errOut, `monctl: alert firing: HotRoom{room="b", severity="warning", team="ops"} value 25`) ||
		!strings.Contains(errOut, "summary: room b at 25 degrees") || !strings.Contains(errOut, "monctl: alert pending: Slow") {
		t.Errorf("table: exit %d, stderr:\n%s", code, errOut)
	}
}

type alertJSON struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	Value       string            `json:"value"`
}

// describeAlerts is each alert as one comparable line, without the job
// and instance labels Prometheus adds, sorted.
func describeAlerts(as []alertJSON) []string {
	var out []string
	for _, a := range as {
		delete(a.Labels, "job")
		delete(a.Labels, "instance")
		out = append(out, fmt.Sprintf("%s %v %v", a.State, a.Labels, a.Annotations))
	}
	slices.Sort(out)
	return out
}

// TestQueryBounds: an expression that would run without end is refused
// at once (exit 2); the costliest one allowed, 100,000 subquery steps over
// 2,000 series, ends at --query-timeout (exit 1) and at SIGTERM (143)
// instead of running its course; a rule template out of bounds is
// refused naming the rule.
func TestQueryBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString("# TYPE foo gauge\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "foo{i=\"%d\"} %d\n", i, i)
	}
	file := writeTemp(t, "m.prom", b.String())
	for _, q := range []string{"foo[100y:1ms]", "foo[10d:1ms]", strings.Repeat("(", 20000) + "foo" + strings.Repeat(")", 20000)} {
		if _, errOut, code := monctl(t, "scrape", file, "--query", q, "--query-timeout", "3s"); code != 2 || !strings.Contains(errOut, "more than the") {
			t.Errorf("%.30s: exit %d, %.300s", q, code, errOut)
		}
	}
	costly := "max_over_time(foo[69d:1m])"
	if _, errOut, code := monctl(t, "scrape", file, "--query", costly, "--query-timeout", "1s"); code != 1 || !strings.Contains(errOut, "timed out") {
		t.Errorf("%s with --query-timeout 1s: exit %d, %s", costly, code, errOut)
	}
	cmd := exec.Command(monctlBin, "scrape", file, "--query", costly, "--query-timeout", "10m")
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "MONCTL_CONFIG=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	select {
	case <-exited:
		if code := cmd.ProcessState.ExitCode(); code != 143 {
			t.Errorf("SIGTERM during an evaluation: exit %d, want 143", code)
		}
	case <-time.After(10 * time.Second): // the evaluation alone takes over half a minute
		cmd.Process.Kill()
		t.Error("SIGTERM did not end an evaluation in 10 seconds")
	}
	rules := writeTemp(t, "rules.yml", "groups:\n  - name: g\n    rules:\n      - alert: Loop\n        expr: foo > 0\n        annotations:\n          summary: '{{ range 200000000 }}{{ end }}'\n")
	if _, errOut, code := monctl(t, "scrape", file, "--rules", rules); code != 2 || !strings.Contains(errOut, `rule 1 (Loop): summary`) {
		t.Errorf("a template of 200,000,000 iterations: exit %d, %s", code, errOut)
	}
}
