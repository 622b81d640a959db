package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/monctl/monctl/pkg/exposition"
)

// exposed is one scrape of a small exporter, its counters at n.
func exposed(t *testing.T, n float64) []exposition.Family {
	t.Helper()
	body := fmt.Sprintf(`# TYPE http_requests_total counter
http_requests_total{code="200",path="/"} %[1]v
http_requests_total{code="500",path="/"} %[2]v
# TYPE temp gauge
temp{room="a"} 20
temp{room="b"} 25
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} %[1]v
latency_seconds_bucket{le="1"} %[3]v
latency_seconds_bucket{le="+Inf"} %[3]v
latency_seconds_sum %[1]v
latency_seconds_count %[3]v
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.2
rpc_seconds_sum 10
rpc_seconds_count 50
`, n, n/10, 2*n)
	res, err := exposition.Parse([]byte(body), exposition.FormatText)
	if err != nil {
		t.Fatal(err)
	}
	return res.Families
}

func TestQueriesOverGatheredSamples(t *testing.T) {
	s := NewStore()
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	s.Add(t0, exposed(t, 100), exposition.Label{Name: "target", Value: "app"})
	s.Add(t0.Add(10*time.Second), exposed(t, 200), exposition.Label{Name: "target", Value: "app"})
	if !s.Latest().Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("latest %v", s.Latest())
	}
	e := NewEngine(Options{})
	for _, c := range []struct {
		expr string
		want string // the result as promql prints it
	}{
		{`temp{room="b"}`, `{__name__="temp", room="b", target="app"} => 25`},
		{`sum(temp)`, `{} => 45`},
		{`temp > 21`, `{__name__="temp", room="b", target="app"} => 25`},
		// 100 more requests in 10 s. A range of 1.5 times the samples'
		// span is extrapolated to its start, as Prometheus does: 10/s.
		{`rate(http_requests_total{code="200"}[15s])`, `{code="200", path="/", target="app"} => 10`},
		{`irate(http_requests_total{code="200"}[1m])`, `{code="200", path="/", target="app"} => 10`},
		// A range far longer than the samples' span is extrapolated by
		// half an interval only: 150 requests over a minute.
		{`rate(http_requests_total{code="200"}[1m])`, `{code="200", path="/", target="app"} => 2.5`},
		{`increase(http_requests_total{code="500"}[15s])`, `{code="500", path="/", target="app"} => 15`},
		{`histogram_quantile(0.5, rate(latency_seconds_bucket[15s]))`, `{target="app"} => 0.1`},
		{`rpc_seconds{quantile="0.5"}`, `{__name__="rpc_seconds", quantile="0.5", target="app"} => 0.2`},
		{`rpc_seconds_sum / rpc_seconds_count`, `{target="app"} => 0.2`},
		{`count(up)`, ``},
		{`absent(up)`, `{} => 1`},
		{`absent(nonexistent{job="x"})`, `{job="x"} => 1`},
	} {
		r, err := e.Instant(context.Background(), s, c.expr, s.Latest())
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		var got []string
		for _, smp := range r.Value.(promql.Vector) {
			got = append(got, fmt.Sprintf("%s => %v", smp.Metric, smp.F))
		}
		if strings.Join(got, "; ") != c.want {
			t.Errorf("%s = %q, want %q", c.expr, strings.Join(got, "; "), c.want)
		}
	}

	// A scalar, and Prometheus's JSON for it.
	r, err := e.Instant(context.Background(), s, "scalar(sum(temp)) * 2", s.Latest())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r.Value)
	if r.Len() != 1 || string(b) != fmt.Sprintf(`[%d,"90"]`, s.Latest().Unix()) {
		t.Errorf("scalar: %d values, %s", r.Len(), b)
	}
}

func TestParseErrorsSayWhere(t *testing.T) {
	_, err := NewEngine(Options{}).Instant(context.Background(), NewStore(), "sum(rate(x[5m])", time.Now())
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a ParseError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "1:16: parse error") || !strings.Contains(msg, "sum(rate(x[5m])\n  "+strings.Repeat(" ", 15)+"^") {
		t.Errorf("the error does not point at the position:\n%s", msg)
	}
}

// TestSameTimestampIsStoredOnce: an exposed timestamp that does not move
// between two gatherings is one sample, as in Prometheus.
func TestSameTimestampIsStoredOnce(t *testing.T) {
	res, _ := exposition.Parse([]byte("# TYPE g gauge\ng 1 1000\n"), exposition.FormatText)
	s := NewStore()
	s.Add(time.Now(), res.Families)
	s.Add(time.Now().Add(time.Second), res.Families)
	var n int
	s.each(func(sr *series) { n += len(sr.samples) })
	if n != 1 {
		t.Errorf("%d samples, want 1", n)
	}
}

func TestDropBefore(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	s := NewStore()
	s.Add(t0, exposed(t, 1))
	s.Add(t0.Add(time.Minute), exposed(t, 2))
	n := s.Series()
	s.DropBefore(t0.Add(time.Second))
	samples := 0
	s.each(func(sr *series) { samples += len(sr.samples) })
	if s.Series() != n || samples != n {
		t.Errorf("after dropping the first round: %d series (want %d)", s.Series(), n)
	}
	s.DropBefore(t0.Add(2 * time.Minute))
	if s.Series() != 0 {
		t.Errorf("%d series left", s.Series())
	}
}

const testRules = `groups:
  - name: cross
    labels: {team: ops}
    rules:
      - record: code:requests:sum
        expr: sum by (code) (http_requests_total)
      - alert: Errors
        expr: code:requests:sum{code="500"} > 5
        labels: {severity: critical}
        annotations: {summary: "{{ $value }} errors on {{ $labels.code }}"}
      - alert: Hot
        expr: temp > 21
        for: 15s
        keep_firing_for: 30s
        annotations: {summary: "room {{ $labels.room }} at {{ $value }}"}
`

func TestRulesRecordAndFire(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.yml")
	os.WriteFile(file, []byte(testRules), 0o600)
	rs, err := LoadRules(file)
	if err != nil {
		t.Fatal(err)
	}
	s, e := NewStore(), NewEngine(Options{})
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	eval := func(at time.Time, n float64) []Alert {
		t.Helper()
		s.Add(at, exposed(t, n))
		alerts, err := rs.Eval(context.Background(), e, s, at)
		if err != nil {
			t.Fatal(err)
		}
		return alerts
	}
	describe := func(as []Alert) string {
		var out []string
		for _, a := range as {
			out = append(out, fmt.Sprintf("%s %s %v %s", a.Labels["alertname"], a.State, a.Labels, a.Annotations["summary"]))
		}
		return strings.Join(out, "; ")
	}
	// At 100 requests: 10 errors fire at once; the hot room is pending.
	got := describe(eval(t0, 100))
	want := `Errors firing map[alertname:Errors code:500 severity:critical team:ops] 10 errors on 500; ` +
		`Hot pending map[alertname:Hot room:b team:ops] room b at 25`
	if got != want {
		t.Errorf("first evaluation:\n got %s\nwant %s", got, want)
	}
	// The recorded series are there for queries.
	r, _ := e.Instant(context.Background(), s, `code:requests:sum{code="200"}`, t0)
	if r.Len() != 1 {
		t.Errorf("the recording rule's series is not stored: %v", r.Value)
	}
	// 20 s later the room is still hot: its for: has passed.
	if got := describe(eval(t0.Add(20*time.Second), 100)); !strings.Contains(got, "Hot firing") {
		t.Errorf("after for: %s", got)
	}
	// Then it cools down, but keep_firing_for holds it firing for 30 s.
	cool := func(at time.Time) []Alert {
		res, _ := exposition.Parse([]byte("# TYPE temp gauge\ntemp{room=\"a\"} 20\n"), exposition.FormatText)
		s.Add(at, res.Families)
		alerts, _ := rs.Eval(context.Background(), e, s, at)
		return alerts
	}
	if got := describe(cool(t0.Add(6 * time.Minute))); !strings.Contains(got, "Hot firing") {
		t.Errorf("within keep_firing_for: %s", got)
	}
	if got := describe(cool(t0.Add(7 * time.Minute))); strings.Contains(got, "Hot") {
		t.Errorf("after keep_firing_for: %s", got)
	}
}

func TestRuleFileErrorsSayWhere(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ text, want string }{
		{"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum(x\n", `group "g", rule 1`},
		{"groups:\n  - name: g\n    rules:\n      - record: r\n        alert: A\n        expr: x\n", "only one of 'record' and 'alert' must be set"},
		{"groups: [", "rule file"},
	} {
		file := filepath.Join(dir, "bad.yml")
		os.WriteFile(file, []byte(c.text), 0o600)
		_, err := LoadRules(file)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), file) {
			t.Errorf("%q: %v, want the file and %q", c.text, err, c.want)
		}
	}
}

// A series that leaves a gathering is stale at once: questions stop
// seeing it at the next gathering, not 5 minutes later.
func TestStoreEndedMarksGoneSeriesStale(t *testing.T) {
	s := NewStore()
	e := NewEngine(Options{Timeout: time.Minute, MaxSamples: 1000})
	t0 := time.Unix(1_800_000_000, 0)
	both := []exposition.Family{{Name: "up_a", Type: exposition.Gauge, Metrics: []exposition.Metric{{Value: 1}}},
		{Name: "up_b", Type: exposition.Gauge, Metrics: []exposition.Metric{{Value: 1}}}}
	s.Add(t0, both)
	s.Ended(t0)
	s.Add(t0.Add(time.Second), both[:1])
	s.Ended(t0.Add(time.Second))
	count := func() string {
		r, err := e.Instant(context.Background(), s, "count({__name__=~'up_.*'})", s.Latest())
		if err != nil {
			t.Fatal(err)
		}
		return r.Value.String()
	}
	if got := count(); !strings.Contains(got, "=> 1 @") {
		t.Errorf("after up_b left: %s, want 1 series", got)
	}
	s.Ended(t0.Add(2 * time.Second)) // a gathering that found nothing
	if got := count(); got != "" {
		t.Errorf("after a gathering of nothing: %q, want no series", got)
	}
	if !s.Latest().Equal(t0.Add(2 * time.Second)) {
		t.Errorf("Latest %v: a gathering of nothing still moves it", s.Latest())
	}
}
