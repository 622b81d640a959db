package exporter

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monctl/monctl/pkg/exposition"
)

// exposer is a scrape target on loopback that counts its scrapes and can
// be made to wait.
type exposer struct {
	*httptest.Server
	hits atomic.Int32
	wait chan struct{} // when set, each scrape waits for it to close
}

func newExposer(t *testing.T, body string) *exposer {
	t.Helper()
	x := &exposer{}
	x.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x.hits.Add(1)
		if x.wait != nil {
			select {
			case <-x.wait:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, body)
	}))
	t.Cleanup(x.Close)
	return x
}

const nodeBody = `# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 100.5
node_cpu_seconds_total{cpu="0",mode="user"} 20
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 7
# HELP clash A gauge here.
# TYPE clash gauge
clash 1
# HELP req_seconds Request latency.
# TYPE req_seconds histogram
req_seconds_bucket{le="0.1"} 3
req_seconds_bucket{le="1"} 5
req_seconds_bucket{le="+Inf"} 6
req_seconds_sum 2.5
req_seconds_count 6
`

const otherBody = `# HELP clash A counter there.
# TYPE clash counter
clash 2
# HELP monctl_build_info Another monctl's build.
# TYPE monctl_build_info gauge
monctl_build_info{version="0.1"} 1
# HELP jobs Jobs by owner.
# TYPE jobs gauge
jobs{target="batch"} 4
`

// newServer runs an exporter on loopback over targets given as name, URL
// pairs, in that order.
func newServer(t *testing.T, opts Options, targets ...string) (*Exporter, *httptest.Server) {
	t.Helper()
	for i := 0; i+1 < len(targets); i += 2 {
		opts.Targets = append(opts.Targets, exposition.Target{Name: targets[i], URL: targets[i+1]})
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	h, err := e.Handler(true)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return e, srv
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no transparent gunzip
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rd io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		rd = gz
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// scrapeFamilies fetches /metrics and parses it with monctl's own parser.
func scrapeFamilies(t *testing.T, srv *httptest.Server) map[string]exposition.Family {
	t.Helper()
	resp, body := get(t, srv.URL+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	res, err := exposition.Parse([]byte(body), exposition.FormatText)
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	out := map[string]exposition.Family{}
	for _, f := range res.Families {
		out[f.Name] = f
	}
	return out
}

// value finds the series of f with exactly these labels.
func value(t *testing.T, fams map[string]exposition.Family, name string, labels ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
	want := exposition.Labels{}
	for i := 0; i+1 < len(labels); i += 2 {
		want = append(want, exposition.Label{Name: labels[i], Value: labels[i+1]})
	}
	for _, m := range f.Metrics {
		if m.Labels.String() == want.String() {
			return m.Value
		}
	}
	t.Fatalf("%s has no series %s; it has %d series", name, want, len(f.Metrics))
	return 0
}

func TestReexposedTargets(t *testing.T) {
	node, other := newExposer(t, nodeBody), newExposer(t, otherBody)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	e, srv := newServer(t, Options{ExporterMetrics: true, Static: []exposition.Family{buildInfo}}, "node", node.URL, "other", other.URL, "dead", dead.URL)
	fams := scrapeFamilies(t, srv)

	if v := value(t, fams, "node_cpu_seconds_total", "cpu", "0", "mode", "user", "target", "node"); v != 20 {
		t.Errorf("node_cpu_seconds_total = %v, want 20", v)
	}
	if f := fams["node_cpu_seconds_total"]; f.Type != exposition.Counter || f.Help != "Seconds the CPUs spent in each mode." {
		t.Errorf("node_cpu_seconds_total lost its type or help: %s %q", f.Type, f.Help)
	}
	h := fams["req_seconds"]
	if h.Type != exposition.Histogram || len(h.Metrics) != 1 || h.Metrics[0].Count != 6 || len(h.Metrics[0].Buckets) != 3 {
		t.Errorf("histogram not re-exposed whole: %+v", h)
	}
	// A label the target had under the name "target" keeps its value.
	if v := value(t, fams, "jobs", "exported_target", "batch", "target", "other"); v != 4 {
		t.Errorf("jobs = %v", v)
	}
	// clash is a gauge at node, which comes first: other's counter is left
	// out and counted, and the scrape goes on.
	if v := value(t, fams, "clash", "target", "node"); v != 1 {
		t.Errorf("clash = %v", v)
	}
	if n := len(fams["clash"].Metrics); n != 1 {
		t.Errorf("clash has %d series, want node's only", n)
	}
	// clash, and monctl_build_info: other is another monctl, and no
	// target may serve into monctl's own families.
	if v := value(t, fams, "monctl_target_dropped_families", "target", "other"); v != 2 {
		t.Errorf("dropped families of other = %v, want 2", v)
	}
	// The target's go_goroutines and monctl's own are one family.
	if v := value(t, fams, "go_goroutines", "target", "node"); v != 7 {
		t.Errorf("node's go_goroutines = %v", v)
	}
	if value(t, fams, "go_goroutines") < 1 {
		t.Error("monctl's own go_goroutines is missing")
	}
	for name, up := range map[string]float64{"node": 1, "other": 1, "dead": 0} {
		if v := value(t, fams, "monctl_target_up", "target", name); v != up {
			t.Errorf("monctl_target_up{target=%q} = %v, want %v", name, v, up)
		}
		if v := value(t, fams, "monctl_collector_success", "collector", "target", "source", name); v != up {
			t.Errorf("monctl_collector_success{source=%q} = %v, want %v", name, v, up)
		}
	}
	if v := value(t, fams, "monctl_target_samples", "target", "node"); v != 9 {
		t.Errorf("samples of node = %v, want 9 (2 + 1 + 1 + 3 buckets + sum + count)", v)
	}
	if _, ok := fams["promhttp_metric_handler_requests_total"]; !ok {
		t.Error("no promhttp_metric_handler_requests_total")
	}
	if n := len(fams["monctl_build_info"].Metrics); n != 1 || value(t, fams, "monctl_build_info", "version", "1.2.3") != 1 {
		t.Errorf("monctl_build_info should be monctl's own only, has %d series", n)
	}
	if e.lastGatherErr != "<nil>" {
		t.Errorf("client_golang refused series: %v", e.lastGatherErr)
	}
}

// TestSelect: with a selector, a target's series that do not match are
// not served; monctl's own always are, and its samples count what the
// target exposed.
func TestSelect(t *testing.T) {
	node := newExposer(t, nodeBody)
	sel, err := exposition.NewSelector([]string{`node_cpu_seconds_total{mode="user"}`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, srv := newServer(t, Options{Select: sel, Static: []exposition.Family{buildInfo}}, "node", node.URL)
	fams := scrapeFamilies(t, srv)
	for _, m := range fams["node_cpu_seconds_total"].Metrics {
		if m.Labels.Get("mode") != "user" {
			t.Errorf("a series the selector does not keep: %s", m.Labels)
		}
	}
	if len(fams["node_cpu_seconds_total"].Metrics) == 0 {
		t.Error(`node_cpu_seconds_total{mode="user"} was not served`)
	}
	if _, ok := fams["req_seconds"]; ok {
		t.Error("req_seconds was served")
	}
	if v := value(t, fams, "monctl_target_samples", "target", "node"); v != 9 {
		t.Errorf("samples of node = %v, want 9: what it exposed", v)
	}
	if value(t, fams, "monctl_build_info", "version", "1.2.3") != 1 {
		t.Error("monctl's own series were not served")
	}
}

var buildInfo = exposition.Family{Name: "monctl_build_info", Type: exposition.Gauge, Help: "Build.",
	Metrics: []exposition.Metric{{Labels: exposition.Labels{{Name: "version", Value: "1.2.3"}}, Value: 1}}}

func TestNoExporterMetrics(t *testing.T) {
	_, srv := newServer(t, Options{Static: []exposition.Family{buildInfo}})
	fams := scrapeFamilies(t, srv)
	for name := range fams {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_") {
			t.Errorf("%s served without exporter metrics", name)
		}
	}
	if v := value(t, fams, "monctl_build_info", "version", "1.2.3"); v != 1 {
		t.Errorf("build info = %v", v)
	}
}

func TestConcurrentScrapesShareOneCollection(t *testing.T) {
	slow := newExposer(t, nodeBody)
	slow.wait = make(chan struct{})
	_, srv := newServer(t, Options{}, "slow", slow.URL)
	var wg sync.WaitGroup
	codes := make([]int, 10)
	for i := range codes {
		wg.Go(func() {
			resp, _ := get(t, srv.URL+"/metrics")
			codes[i] = resp.StatusCode
		})
	}
	waitFor(t, func() bool { return slow.hits.Load() == 1 })
	time.Sleep(200 * time.Millisecond) // let the other requests join
	close(slow.wait)
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d: %d", i, c)
		}
	}
	if n := slow.hits.Load(); n != 1 {
		t.Errorf("10 concurrent scrapes scraped the target %d times, want once", n)
	}
	get(t, srv.URL+"/metrics")
	if n := slow.hits.Load(); n != 2 {
		t.Errorf("without a cache TTL a later scrape collects again: %d scrapes, want 2", n)
	}
}

func TestCacheTTL(t *testing.T) {
	x := newExposer(t, nodeBody)
	_, srv := newServer(t, Options{CacheTTL: time.Hour}, "x", x.URL)
	for range 3 {
		get(t, srv.URL+"/metrics")
	}
	if n := x.hits.Load(); n != 1 {
		t.Errorf("3 scrapes within the TTL scraped the target %d times, want once", n)
	}
}

func TestMaxRequests(t *testing.T) {
	slow := newExposer(t, nodeBody)
	slow.wait = make(chan struct{})
	_, srv := newServer(t, Options{MaxRequests: 2}, "slow", slow.URL)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if resp, body := get(t, srv.URL+"/metrics"); resp.StatusCode != http.StatusOK {
				t.Errorf("within the limit: %s %s", resp.Status, body)
			}
		})
	}
	waitFor(t, func() bool { return slow.hits.Load() == 1 })
	time.Sleep(100 * time.Millisecond) // both are in
	resp, body := get(t, srv.URL+"/metrics")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Limit of concurrent requests reached (2)") {
		t.Errorf("beyond the limit: %s %q, want 503", resp.Status, body)
	}
	close(slow.wait)
	wg.Wait()
}

func TestScrapeTimeoutHeader(t *testing.T) {
	hang := newExposer(t, nodeBody)
	hang.wait = make(chan struct{})
	t.Cleanup(func() { close(hang.wait) })
	_, srv := newServer(t, Options{ScrapeTimeout: time.Hour, TimeoutOffset: 200 * time.Millisecond}, "hang", hang.URL)
	resp, body := get(t, srv.URL+"/metrics", "X-Prometheus-Scrape-Timeout-Seconds", "0.7")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s", resp.Status, body)
	}
	if !strings.Contains(body, `monctl_target_up{target="hang"} 0`) {
		t.Errorf("a target that hangs past the scrape's deadline is not down:\n%s", body)
	}
}

func TestContentNegotiation(t *testing.T) {
	x := newExposer(t, nodeBody)
	_, srv := newServer(t, Options{}, "x", x.URL)
	for _, tc := range []struct{ accept, encoding, wantType, wantIn string }{
		{"", "", "text/plain; version=0.0.4", "# TYPE node_cpu_seconds_total counter"},
		{"application/openmetrics-text; version=1.0.0", "", "application/openmetrics-text; version=1.0.0", "# EOF"},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "", "application/vnd.google.protobuf", "node_cpu_seconds_total"},
		{"", "gzip", "text/plain", "node_cpu_seconds_total"},
		{"", "br, gzip;q=0.5", "text/plain", "node_cpu_seconds_total"},
		{"", "gzip;q=0", "text/plain", "node_cpu_seconds_total"},
	} {
		resp, body := get(t, srv.URL+"/metrics", "Accept", tc.accept, "Accept-Encoding", tc.encoding)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) {
			t.Errorf("Accept %q: Content-Type %q, want %q", tc.accept, ct, tc.wantType)
		}
		wantGzip := strings.Contains(tc.encoding, "gzip") && !strings.Contains(tc.encoding, "q=0,") && !strings.HasSuffix(tc.encoding, "q=0")
		if got := resp.Header.Get("Content-Encoding"); (got == "gzip") != wantGzip {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", tc.encoding, got)
		}
		if !strings.Contains(body, tc.wantIn) {
			t.Errorf("Accept %q: body lacks %q", tc.accept, tc.wantIn)
		}
	}
}

func TestNameFilter(t *testing.T) {
	x := newExposer(t, nodeBody)
	_, srv := newServer(t, Options{}, "x", x.URL)
	_, body := get(t, srv.URL+"/metrics?name[]=go_goroutines&name[]=monctl_target_up")
	if !strings.Contains(body, `go_goroutines{target="x"} 7`) || !strings.Contains(body, "monctl_target_up") || strings.Contains(body, "node_cpu") {
		t.Errorf("name[] filter:\n%s", body)
	}
}

func TestPagesAndServed(t *testing.T) {
	var served atomic.Int32
	_, srv := newServer(t, Options{Version: "1.2.3", TelemetryPath: "/m", Served: func() { served.Add(1) }})
	for path, want := range map[string]string{"/": "1.2.3", "/-/healthy": "Healthy", "/-/ready": "Ready"} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s: %s, body lacks %q", path, resp.Status, want)
		}
	}
	if resp, _ := get(t, srv.URL+"/nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope: %s", resp.Status)
	}
	if served.Load() != 0 {
		t.Error("Served called before any metrics were served")
	}
	if resp, _ := get(t, srv.URL+"/m"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /m: %s", resp.Status)
	}
	if n := served.Load(); n != 1 {
		t.Errorf("Served called %d times after one scrape", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}

// TestOneClientCannotChangeAnother is issue 9's item 1: the timeout
// header of one client decides only how long that client waits.
func TestOneClientCannotChangeAnother(t *testing.T) {
	ok := newExposer(t, nodeBody)
	slow := newExposer(t, otherBody)
	slow.wait = make(chan struct{})
	t.Cleanup(func() { close(slow.wait) })
	e, srv := newServer(t, Options{ScrapeTimeout: 3 * time.Second, TimeoutOffset: 100 * time.Millisecond}, "ok", ok.URL, "slow", slow.URL)

	// A client that claims an hour starts the collection; it is capped,
	// and a Prometheus-like scrape that joins gets its answer in its own
	// second, with ok up and only slow down.
	long := make(chan string, 1)
	go func() {
		_, body := get(t, srv.URL+"/metrics", "X-Prometheus-Scrape-Timeout-Seconds", "3600")
		long <- body
	}()
	waitFor(t, func() bool { return slow.hits.Load() == 1 })
	resp, body := get(t, srv.URL+"/metrics", "X-Prometheus-Scrape-Timeout-Seconds", "1")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the 1 s scrape: %s", resp.Status)
	}
	for _, want := range []string{`monctl_target_up{target="ok"} 1`, `monctl_target_up{target="slow"} 0`, `node_cpu_seconds_total{cpu="0",mode="user",target="ok"} 20`} {
		if !strings.Contains(body, want) {
			t.Errorf("the 1 s scrape lacks %s:\n%s", want, body)
		}
	}
	// The hour-long client waited no longer than --scrape-timeout.
	select {
	case body := <-long:
		if !strings.Contains(body, `monctl_target_up{target="ok"} 1`) {
			t.Errorf("the capped scrape lost the healthy target:\n%s", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a header of 3600 s held its request past --scrape-timeout")
	}

	// A tiny deadline does not cut the collection short for a client
	// that waits longer.
	inFlight := func() bool { e.mu.Lock(); defer e.mu.Unlock(); return e.flight != nil }
	for _, v := range []string{"0.000001"} {
		done := make(chan string, 1)
		go func() {
			_, body := get(t, srv.URL+"/metrics", "X-Prometheus-Scrape-Timeout-Seconds", "2")
			done <- body
		}()
		waitFor(t, inFlight) // the tiny deadline joins the 2 s scrape's collection
		resp, _ := get(t, srv.URL+"/metrics", "X-Prometheus-Scrape-Timeout-Seconds", v)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("header %q: %s, want 200", v, resp.Status)
		}
		if body := <-done; !strings.Contains(body, `monctl_target_up{target="ok"} 1`) {
			t.Errorf("after a concurrent header %q the healthy target is down:\n%s", v, body)
		}
		waitFor(t, func() bool { return !inFlight() })
	}
}

// TestNothingKeptWithoutCache: with no cache TTL, no collection outlives
// the requests that share it.
func TestNothingKeptWithoutCache(t *testing.T) {
	x := newExposer(t, nodeBody)
	e, srv := newServer(t, Options{}, "x", x.URL)
	get(t, srv.URL+"/metrics")
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.last != nil || e.flight != nil {
		t.Error("the exporter keeps a collection nothing will reuse")
	}
}

// TestTargetCannotWriteIntoOwnFamilies: a target's family named like one
// of monctl's own, with the same type, is left out, not merged.
func TestTargetCannotWriteIntoOwnFamilies(t *testing.T) {
	x := newExposer(t, "# TYPE monctl_collector_success gauge\nmonctl_collector_success{collector=\"containers\",source=\"fake\"} 1\n# TYPE fine gauge\nfine 1\n")
	_, srv := newServer(t, Options{}, "x", x.URL)
	fams := scrapeFamilies(t, srv)
	for _, m := range fams["monctl_collector_success"].Metrics {
		if m.Labels.Get("source") == "fake" {
			t.Errorf("a target wrote into monctl_collector_success: %s", m.Labels)
		}
	}
	if v := value(t, fams, "monctl_target_dropped_families", "target", "x"); v != 1 {
		t.Errorf("dropped = %v, want 1", v)
	}
	if v := value(t, fams, "fine", "target", "x"); v != 1 {
		t.Errorf("the target's other family is missing")
	}
}

func TestTooManyNames(t *testing.T) {
	x := newExposer(t, nodeBody)
	_, srv := newServer(t, Options{}, "x", x.URL)
	q := strings.Repeat("name[]=a&", 10001)
	if resp, _ := get(t, srv.URL+"/metrics?"+q); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("10,001 name[]: %s, want 400", resp.Status)
	}
	if resp, body := get(t, srv.URL+"/metrics?"+strings.Repeat("name[]=a&", 100)+"name[]=go_goroutines"); resp.StatusCode != http.StatusOK || strings.Contains(body, "node_cpu") {
		t.Errorf("101 name[]: %s", resp.Status)
	}
}

func TestTimeoutHeaderBounds(t *testing.T) {
	e := &Exporter{opts: Options{ScrapeTimeout: 10 * time.Second, TimeoutOffset: 500 * time.Millisecond}}
	for v, want := range map[string]time.Duration{
		"": 10 * time.Second, "x": 10 * time.Second, "NaN": 10 * time.Second, "Inf": 10 * time.Second,
		"-1": 10 * time.Second, "0": 10 * time.Second, "1e300": 10 * time.Second, "3600": 10 * time.Second,
		"3": 2500 * time.Millisecond, "0.2": 200 * time.Millisecond,
	} {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", v)
		if got := e.timeout(r); got != want {
			t.Errorf("header %q: %s, want %s", v, got, want)
		}
	}
}
