//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/testengine"
	"github.com/monctl/monctl/pkg/exposition"
)

// serveProc is a running 'monctl serve'.
type serveProc struct {
	cmd  *exec.Cmd
	addr string // host:port it listens on
	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
	err  error // of Wait, once done is closed
}

var listeningRe = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

// startServe runs 'monctl serve' on a free loopback port with env added to
// the environment, and waits until it listens. The test's end stops it.
func startServe(t *testing.T, env []string, args ...string) *serveProc {
	t.Helper()
	args = append([]string{"serve", "--web.listen-address", "127.0.0.1:0"}, args...)
	p := &serveProc{cmd: exec.Command(monctlBin, args...), done: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "XDG_STATE_HOME="+t.TempDir(), "MONCTL_CONFIG="), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := listeningRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case p.addr = <-found:
	case <-p.done:
		t.Fatalf("monctl serve exited at start: %v\n%s", p.err, p.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("monctl serve did not listen within 60s:\n%s", p.log())
	}
	return p
}

// metricsText is serve's /metrics now, "" when it does not answer.
func (p *serveProc) metricsText() string {
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func (p *serveProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// wait waits for the process to exit on its own and returns its exit code.
func (p *serveProc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("monctl serve still runs after %v:\n%s", limit, p.log())
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// metrics fetches and parses the served metrics.
func metricsOf(t *testing.T, client *http.Client, u string) map[string]exposition.Family {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, body)
	}
	res, err := exposition.Parse(body, exposition.FormatText)
	if err != nil {
		t.Fatalf("parsing %s: %v", u, err)
	}
	fams := map[string]exposition.Family{}
	for _, f := range res.Families {
		fams[f.Name] = f
	}
	return fams
}

// sample returns the value of the series of name whose labels include
// these, and whether there is one.
func sample(fams map[string]exposition.Family, name string, labels ...string) (float64, bool) {
	for _, m := range fams[name].Metrics {
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			ok = ok && m.Labels.Get(labels[i]) == labels[i+1]
		}
		if ok {
			return m.Value, true
		}
	}
	return 0, false
}

// promQuery asks Prometheus' HTTP API for an instant vector and returns
// its values.
func promQuery(t *testing.T, base, query string) []float64 {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %v (status %q)", query, err, r.Status)
	}
	var out []float64
	for _, s := range r.Data.Result {
		v, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
		out = append(out, v)
	}
	return out
}

// startPrometheus runs a real Prometheus that scrapes target (host:port)
// every second as job monctl, evaluating the rule files every second,
// with native histograms, and returns its URL.
func startPrometheus(t *testing.T, target string, ruleFiles ...string) string {
	t.Helper()
	return startPrometheusJob(t, "monctl", target, ruleFiles...)
}

// startPrometheusJob is startPrometheus with the scrape job named job.
func startPrometheusJob(t *testing.T, job, target string, ruleFiles ...string) string {
	t.Helper()
	dir := t.TempDir()
	promPort := freePort(t)
	promCfg := filepath.Join(dir, "prometheus.yml")
	rules := ""
	if len(ruleFiles) > 0 {
		rules = "rule_files: ['" + strings.Join(ruleFiles, "', '") + "']\n"
	}
	os.WriteFile(promCfg, []byte(rules+fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: %s
    static_configs:
      - targets: ['%s']
`, job, target)), 0o600)
	promURL := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	// Native histograms are stored (and protobuf asked for first).
	start(t, promURL+"/-/ready", tool(t, "prometheus"), "--config.file", promCfg, "--enable-feature=native-histograms",
		"--storage.tsdb.path", filepath.Join(dir, "data"), "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", promPort))
	return promURL
}

// TestServeWithPrometheus: a real Prometheus scrapes monctl serve, which
// watches the sandboxed Engine 29 and re-exposes a real node_exporter and a
// dead target.
func TestServeWithPrometheus(t *testing.T) {
	e := engines[len(engines)-1]
	runContainer(t, e, "burner", nil, testengine.WorkloadImage, "-burn", "1")
	waitReady(t, e, "burner")

	nodePort, deadPort := freePort(t), freePort(t)
	nodeURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", nodePort)
	start(t, nodeURL, tool(t, "node_exporter"), "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", nodePort))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "monctl.yaml")
	os.WriteFile(cfg, []byte("targets:\n  - name: node\n    url: "+nodeURL+"\n"), 0o600)
	deadTarget := fmt.Sprintf("127.0.0.1:%d", deadPort)
	srv := startServe(t, []string{"DOCKER_HOST=" + e.Host}, "--config", cfg, "--target", deadTarget)

	promURL := startPrometheus(t, srv.addr)
	checks := []struct{ what, query string }{
		{"monctl is up", `up{job="monctl"} == 1`},
		{"burner burns a CPU", `rate(monctl_container_cpu_usage_seconds_total{name="burner"}[30s]) > 0.05`},
		{"a node_exporter family carries its target", `count(node_cpu_seconds_total{target="node"}) > 0`},
		{"the dead target is down", fmt.Sprintf(`monctl_target_up{target="http://%s/metrics"} == 0`, deadTarget)},
		{"the engine's collector succeeds from the cgroup files", `monctl_collector_success{collector="containers",stats_source=~"cgroup-v[12]"} == 1`},
	}
	for _, c := range checks {
		waitFor(t, c.what+" ("+c.query+")", 60*time.Second, func() bool { return len(promQuery(t, promURL, c.query)) > 0 })
	}
	if logs := srv.log(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("monctl logged errors:\n%s", logs)
	}

	// promtool lints monctl's own families; node_exporter's keep their
	// authors' names and are left to their authors.
	resp, err := http.Get("http://" + srv.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var own bytes.Buffer
	keep := true
	for _, line := range strings.SplitAfter(string(body), "\n") {
		if strings.HasPrefix(line, "# HELP ") {
			keep = !strings.HasPrefix(line, "# HELP node_")
		}
		if keep {
			own.WriteString(line)
		}
	}
	if !strings.Contains(own.String(), "monctl_container_cpu_usage_seconds_total") {
		t.Fatalf("no container families in the output:\n%s", own.String())
	}
	lint := exec.Command(tool(t, "promtool"), "check", "metrics")
	lint.Stdin = &own
	if out, err := lint.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestServeOnce: --once exits 0 after one scrape, with the containers of
// either engine in it.
func TestServeOnce(t *testing.T) { forEachEngine(t, testServeOnce) }

func testServeOnce(t *testing.T, e *testengine.Engine) {
	runContainer(t, e, "once-burner", nil, testengine.WorkloadImage, "-burn", "1")
	waitReady(t, e, "once-burner")
	srv := startServe(t, []string{"DOCKER_HOST=" + e.Host}, "--once", "--once-timeout", "60s")
	fams := metricsOf(t, http.DefaultClient, "http://"+srv.addr+"/metrics")
	if v, ok := sample(fams, "monctl_container_cpu_usage_seconds_total", "name", "once-burner"); !ok || v <= 0 {
		t.Errorf("once-burner's CPU seconds: %v (found %v)", v, ok)
	}
	if v, ok := sample(fams, "monctl_container_state", "name", "once-burner", "state", "running"); !ok || v != 1 {
		t.Errorf("once-burner is not running: %v %v", v, ok)
	}
	if code := srv.wait(t, 15*time.Second); code != 0 {
		t.Errorf("exit %d after one scrape, want 0:\n%s", code, srv.log())
	}
}

// TestServeEngineGoesAway: an engine that stops answering after the start
// only turns its collector's success to 0; when it is back, so are the
// containers.
func TestServeEngineGoesAway(t *testing.T) {
	e := engines[0]
	runContainer(t, e, "away-1", []string{"--restart", "always"}, testengine.WorkloadImage)
	waitReady(t, e, "away-1")
	srv := startServe(t, []string{"DOCKER_HOST=" + e.Host})
	u := "http://" + srv.addr + "/metrics"
	success := func() (float64, bool) {
		return sample(metricsOf(t, http.DefaultClient, u), "monctl_collector_success", "collector", "containers")
	}
	if v, _ := success(); v != 1 {
		t.Fatalf("collector success %v before the engine stops", v)
	}
	e.Stop()
	if v, ok := success(); !ok || v != 0 {
		t.Errorf("collector success %v (found %v) with the engine stopped, want 0", v, ok)
	}
	if err := e.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "away-1 served again", 60*time.Second, func() bool {
		fams := metricsOf(t, http.DefaultClient, u)
		_, ok := sample(fams, "monctl_container_state", "name", "away-1", "state", "running")
		v, _ := sample(fams, "monctl_collector_success", "collector", "containers")
		return ok && v == 1
	})
	// The log is read from the process's stderr as it comes: wait for it
	// rather than expect it the moment the scrape answered.
	waitFor(t, "the outage and the recovery to be logged", 15*time.Second, func() bool {
		return strings.Contains(srv.log(), "source failed") && strings.Contains(srv.log(), "source is back")
	})
}

// TestServeSIGTERMDuringSlowScrape: the scrape in flight gets an answer
// and the process exits 0.
func TestServeSIGTERMDuringSlowScrape(t *testing.T) {
	slow := slowServer(t, time.Minute)
	srv := startServe(t, nil, "--containers=false", "--target", slow, "--scrape-timeout", "50s")
	got := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + srv.addr + "/metrics")
		if err != nil {
			got <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	time.Sleep(500 * time.Millisecond) // the scrape is waiting on the target
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if code := srv.wait(t, 15*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0:\n%s", code, srv.log())
	}
	if code := <-got; code != http.StatusOK {
		t.Errorf("the scrape in flight got %d, want 200", code)
	}
}

// slowServer is a target on loopback that answers after d (or when the
// client goes).
func slowServer(t *testing.T, d time.Duration) string {
	t.Helper()
	port := freePort(t)
	s := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "slow_up 1\n")
	})}
	go s.ListenAndServe()
	t.Cleanup(func() { s.Close() })
	return fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
}

// TestServeLoad: thousands of scrapes, 20 at a time, against a real
// node_exporter target: none fails below --web.max-requests, and
// goroutines and heap come back to where they were. Then, above the
// limit, the surplus gets 503 and nothing else.
func TestServeLoad(t *testing.T) {
	nodePort := freePort(t)
	nodeURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", nodePort)
	start(t, nodeURL, tool(t, "node_exporter"), "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", nodePort))
	srv := startServe(t, nil, "--containers=false", "--target", nodeURL, "--web.max-requests", "40")
	u := "http://" + srv.addr + "/metrics"

	own := func() (goroutines, heap float64) {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		fams := metricsOf(t, c, u)
		for _, m := range fams["go_goroutines"].Metrics {
			if m.Labels.Get("target") == "" {
				goroutines = m.Value
			}
		}
		for _, m := range fams["go_memstats_heap_inuse_bytes"].Metrics {
			if m.Labels.Get("target") == "" {
				heap = m.Value
			}
		}
		return goroutines, heap
	}
	g0, h0 := own()

	codes := load(t, u, 20, 3000)
	if codes[http.StatusOK] != 3000 {
		t.Errorf("3000 scrapes, 20 at a time, limit 40: status codes %v, want all 200", codes)
	}
	waitFor(t, "goroutines back to their baseline", 20*time.Second, func() bool {
		g, _ := own()
		return g <= g0+2
	})
	if _, h := own(); h > h0+32<<20 {
		t.Errorf("heap in use %.0f MiB after the load, %.0f MiB before: it keeps something per scrape", h/(1<<20), h0/(1<<20))
	}

	slow := slowServer(t, 200*time.Millisecond)
	limited := startServe(t, nil, "--containers=false", "--target", slow, "--web.max-requests", "5")
	codes = load(t, "http://"+limited.addr+"/metrics", 20, 200)
	if codes[http.StatusServiceUnavailable] == 0 || codes[http.StatusOK] == 0 || codes[http.StatusOK]+codes[http.StatusServiceUnavailable] != 200 {
		t.Errorf("20 at a time, limit 5: status codes %v, want 200s and 503s only", codes)
	}
}

// load sends n scrapes from workers at once, bounded by a minute, and
// counts the status codes (0: transport errors).
func load(t *testing.T, u string, workers, n int) map[int]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		next  = make(chan struct{}, n)
		wg    sync.WaitGroup
	)
	for range n {
		next <- struct{}{}
	}
	close(next)
	for range workers {
		wg.Go(func() {
			for range next {
				code := 0
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return codes
}

// TestServeMatch: serve re-exposes only the series of a real
// node_exporter that --match keeps, and its own series as ever.
func TestServeMatch(t *testing.T) {
	addr := loopback(t)
	startNodeExporter(t, addr)
	srv := startServe(t, nil, "--containers=false", "--target", addr, "--match", "node_load1", "--match", `node_cpu_seconds_total{mode="idle"}`)
	fams := metricsOf(t, http.DefaultClient, "http://"+srv.addr+"/metrics")
	for name, f := range fams {
		switch {
		case name == "node_cpu_seconds_total":
			for _, m := range f.Metrics {
				if m.Labels.Get("mode") != "idle" {
					t.Errorf("a series --match does not keep: %s%s", name, m.Labels)
				}
			}
		case strings.HasPrefix(name, "node_") && name != "node_load1":
			t.Errorf("%s was served", name)
		}
	}
	if len(fams["node_load1"].Metrics) != 1 || len(fams["node_cpu_seconds_total"].Metrics) == 0 || len(fams["monctl_target_up"].Metrics) != 1 {
		t.Errorf("node_load1, the idle CPU series and monctl_target_up should be served: %d, %d, %d",
			len(fams["node_load1"].Metrics), len(fams["node_cpu_seconds_total"].Metrics), len(fams["monctl_target_up"].Metrics))
	}
}
