//go:build e2e

package e2e

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/monctl/monctl/internal/testengine"
)

// pushTextfile has what round trips must survive: counters, gauges, a
// classic histogram, a summary, NaN and ±Inf, UTF-8 and escaped label
// values.
const pushTextfile = `# TYPE monctl_push_jobs_total counter
monctl_push_jobs_total{queue="a b",result="ok"} 1234
monctl_push_jobs_total{queue="ünï \"q\" \\ x",result="fail"} 5
# TYPE monctl_push_temperature gauge
monctl_push_temperature{sensor="x"} -3.25
# TYPE monctl_push_special gauge
monctl_push_special{kind="nan"} NaN
monctl_push_special{kind="pinf"} +Inf
monctl_push_special{kind="minf"} -Inf
# TYPE monctl_push_latency_seconds histogram
monctl_push_latency_seconds_bucket{le="0.1"} 3
monctl_push_latency_seconds_bucket{le="1"} 7
monctl_push_latency_seconds_bucket{le="+Inf"} 8
monctl_push_latency_seconds_sum 4.5
monctl_push_latency_seconds_count 8
# TYPE monctl_push_size_bytes summary
monctl_push_size_bytes{quantile="0.5"} 100
monctl_push_size_bytes{quantile="0.99"} 900
monctl_push_size_bytes_sum 12000
monctl_push_size_bytes_count 60
`

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func loopback(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }

// startPushgateway runs Debian's Pushgateway, whose persistence file
// would otherwise be one under /var/lib shared by every run.
func startPushgateway(t *testing.T) string {
	addr := loopback(t)
	start(t, "http://"+addr+"/-/ready", "prometheus-pushgateway", "--web.listen-address="+addr,
		"--persistence.file="+filepath.Join(t.TempDir(), "pushgateway.data"))
	return addr
}

// startVictoria runs VictoriaMetrics on addr with its data in dir;
// queries see samples at once (no latency offset, no cache).
func startVictoria(t *testing.T, addr, dir string) (stop func()) {
	return start(t, "http://"+addr+"/health", "victoria-metrics", "-httpListenAddr="+addr, "-storageDataPath="+dir,
		"-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR")
}

func startInflux(t *testing.T) string {
	dir := t.TempDir()
	addr := loopback(t)
	cfg := writeTemp(t, "influxdb.conf", fmt.Sprintf(`reporting-disabled = true
bind-address = %q
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
[http]
  bind-address = %q
  log-enabled = false
[monitor]
  store-enabled = false
`, loopback(t), filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), addr))
	start(t, "http://"+addr+"/query?q=SHOW+DATABASES", "influxd", "-config", cfg)
	influxQuery(t, addr, "", "CREATE DATABASE monctl")
	return addr
}

func startPrometheusReceiver(t *testing.T) string {
	dir := t.TempDir()
	addr := loopback(t)
	cfg := writeTemp(t, "prometheus.yml", "global: {}\n")
	start(t, "http://"+addr+"/-/ready", tool(t, "prometheus"), "--config.file", cfg, "--web.enable-remote-write-receiver",
		"--storage.tsdb.path", filepath.Join(dir, "data"), "--web.listen-address", addr)
	return addr
}

func getJSON(t *testing.T, u string, into any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("%s: %v: %s", u, err, body)
	}
}

type promVector struct {
	Data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

// query asks a Prometheus-API server (Prometheus, VictoriaMetrics) and
// returns each series' labels (without __name__) and value.
func query(t *testing.T, addr, q string) map[string]string {
	t.Helper()
	var v promVector
	getJSON(t, "http://"+addr+"/api/v1/query?query="+url.QueryEscape(q), &v)
	out := map[string]string{}
	for _, r := range v.Data.Result {
		delete(r.Metric, "__name__")
		out[labelKey(r.Metric)] = fmt.Sprint(r.Value[1])
	}
	return out
}

func labelKey(ls map[string]string) string {
	var parts []string
	for k, v := range ls {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func influxQuery(t *testing.T, addr, db, q string) string {
	t.Helper()
	v := url.Values{"q": {q}}
	if db != "" {
		v.Set("db", db)
	}
	resp, err := http.PostForm("http://"+addr+"/query", v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// pushStats is a sink's line of 'monctl push -o json'.
type pushStats struct {
	Sink     string   `json:"sink"`
	Sent     int      `json:"sent_samples"`
	Requests int      `json:"requests"`
	Spooled  int      `json:"spooled_samples"`
	Dropped  int      `json:"dropped_samples"`
	FromPool int      `json:"sent_from_spool_samples"`
	Errors   []string `json:"errors"`
}

func pushJSON(t *testing.T, args ...string) ([]pushStats, string, int) {
	t.Helper()
	out, errOut, code := monctl(t, append([]string{"push", "-o", "json"}, args...)...)
	var st []pushStats
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("push -o json: %v:\n%s\nstderr: %s", err, out, errOut)
	}
	return st, errOut, code
}

// TestPushRoundTrip pushes a real node_exporter (with the textfile above)
// and the containers of the sandboxed Engine 29 to every sink at once,
// then reads them back through each server's own API.
func TestPushRoundTrip(t *testing.T) {
	e := engines[len(engines)-1]
	runContainer(t, e, "push-rt", nil, testengine.WorkloadImage)
	waitReady(t, e, "push-rt")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "push.prom"), []byte(pushTextfile), 0o644)
	ne := loopback(t)
	start(t, "http://"+ne+"/metrics", tool(t, "node_exporter"), "--web.listen-address="+ne, "--collector.textfile.directory="+dir)
	pgw, prom, influx := startPushgateway(t), startPrometheusReceiver(t), startInflux(t)
	vm := loopback(t)
	startVictoria(t, vm, t.TempDir())

	t.Setenv("DOCKER_HOST", e.Host)
	st, errOut, code := pushJSON(t, "--queue-dir", t.TempDir(), "--containers", "--filter", "name=^push-rt$",
		"--pushgateway", "http://"+pgw, "--job", "rt", "--grouping", "path=/a/b",
		"--remote-write", "http://"+prom+"/api/v1/write", "--remote-write", "http://"+vm+"/api/v1/write",
		"--influx", "http://"+influx+"/write?db=monctl", ne)
	if code != 0 || len(st) != 4 {
		t.Fatalf("exit %d, %+v: %s", code, st, errOut)
	}
	for _, s := range st {
		if s.Sent < 100 || s.Spooled != 0 || s.Dropped != 0 || len(s.Errors) != 0 {
			t.Errorf("%s: %+v", s.Sink, s)
		}
	}
	// VictoriaMetrics makes what it took searchable within seconds.
	// VictoriaMetrics does not store NaN samples (it reads them as
	// staleness markers): it holds one series less.
	series := map[string]string{prom: "16", vm: "15"}
	for _, rw := range []string{prom, vm} {
		var got map[string]string
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			http.Get("http://" + rw + "/internal/force_flush")
			got = query(t, rw, `count({__name__=~"monctl_push_.*|monctl_container_pids"})`)
			if got[""] == series[rw] {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if got[""] != series[rw] {
			t.Fatalf("%s holds %v series, want %s (those of the textfile, the container's pids)\n%s", rw, got, series[rw], errOut)
		}
	}

	// What monctl scrape sees is what every sink must hold.
	want := map[string]string{
		`queue=a b,result=ok`:           "1234",
		`queue=ünï "q" \ x,result=fail`: "5",
	}
	withTarget := func(m map[string]string, extra string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[labelKey(parseKey(k+","+extra))] = v
		}
		return out
	}
	// Every series has the job and instance a Prometheus scrape gives.
	target := "instance=" + ne + ",job=rt,target=http://" + ne + "/metrics"
	for _, rw := range []string{prom, vm} {
		if got := query(t, rw, "up"); fmt.Sprint(got) != fmt.Sprint(withTarget(map[string]string{"": "1"}, target)) {
			t.Errorf("%s: up %v, want the node_exporter's, 1", rw, got)
		}
		got := query(t, rw, "monctl_push_jobs_total")
		if fmt.Sprint(got) != fmt.Sprint(withTarget(want, target)) {
			t.Errorf("%s: counters %v, want %v", rw, got, withTarget(want, target))
		}
		if got := query(t, rw, `monctl_container_pids{name="push-rt"} > 0`); len(got) != 1 {
			t.Errorf("%s: the container's pids: %v", rw, got)
		}
		if rw == prom {
			if got := query(t, prom, `monctl_push_special{kind="nan"}`); len(got) != 1 || fmt.Sprint(got) != fmt.Sprint(withTarget(map[string]string{"kind=nan": "NaN"}, target)) {
				t.Errorf("NaN at Prometheus: %v", got)
			}
		}
		for q, want := range map[string]string{
			`monctl_push_temperature`:                                  "-3.25",
			`monctl_push_special{kind="pinf"}`:                         "+Inf",
			`monctl_push_special{kind="minf"}`:                         "-Inf",
			`monctl_push_latency_seconds_bucket{le=~"0.1|1.0|\\+Inf"}`: "3,7,8",
			`monctl_push_latency_seconds_count`:                        "8",
			`monctl_push_latency_seconds_sum`:                          "4.5",
			`monctl_push_size_bytes{quantile="0.99"}`:                  "900",
			`monctl_push_size_bytes_count`:                             "60",
		} {
			got := query(t, rw, q)
			var vals []string
			for _, v := range got {
				vals = append(vals, v)
			}
			slices.SortFunc(vals, func(a, b string) int { return cmp.Compare(numeric(a), numeric(b)) })
			if strings.Join(vals, ",") != want {
				t.Errorf("%s: %s = %v, want %s", rw, q, got, want)
			}
		}
	}

	var pg struct {
		Data []map[string]any `json:"data"`
	}
	getJSON(t, "http://"+pgw+"/api/v1/metrics", &pg)
	if len(pg.Data) != 1 {
		t.Fatalf("pushgateway groups: %v", pg.Data)
	}
	group := pg.Data[0]
	labels, _ := json.Marshal(group["labels"])
	if !strings.Contains(string(labels), `"job":"rt"`) || !strings.Contains(string(labels), `"path":"/a/b"`) {
		t.Errorf("the group's labels: %s", labels)
	}
	jobs, _ := json.Marshal(group["monctl_push_jobs_total"])
	if !strings.Contains(string(jobs), `"value":"1234"`) || !strings.Contains(string(jobs), `ünï \"q\" \\ x`) || !strings.Contains(string(jobs), `"type":"COUNTER"`) {
		t.Errorf("the counter at the Pushgateway: %s", jobs)
	}
	hist, _ := json.Marshal(group["monctl_push_latency_seconds"])
	if !strings.Contains(string(hist), `"type":"HISTOGRAM"`) || !strings.Contains(string(hist), `"count":"8"`) {
		t.Errorf("the histogram at the Pushgateway: %s", hist)
	}
	if _, ok := group["push_time_seconds"]; !ok {
		t.Error("push_time_seconds is not there after the push")
	}

	res := influxQuery(t, influx, "monctl", `SELECT * FROM monctl_push_jobs_total; SELECT * FROM monctl_push_latency_seconds; SELECT * FROM monctl_push_size_bytes`)
	for _, w := range []string{`"ünï \"q\" \\ x"`, `1234`, `"+Inf","0.1","1","count","instance","job","sum"`, `8,3,7,8,"` + ne + `","rt",4.5`, `"0.5","0.99","count","instance","job","sum"`} {
		if !strings.Contains(res, w) {
			t.Errorf("InfluxDB lacks %s:\n%s", w, res)
		}
	}
}

func parseKey(k string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(k, ",") {
		if name, value, ok := strings.Cut(part, "="); ok {
			out[name] = value
		}
	}
	return out
}

func numeric(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) {
		return math.Inf(-1)
	}
	return v
}

// TestPushgatewaySemantics: PUT replaces the group, POST the families of
// the same name, DELETE removes the group.
func TestPushgatewaySemantics(t *testing.T) {
	pgw := startPushgateway(t)
	a := writeTemp(t, "a.prom", "# TYPE fam_a gauge\nfam_a 1\n# TYPE fam_b gauge\nfam_b 1\n")
	b := writeTemp(t, "b.prom", "# TYPE fam_b gauge\nfam_b 2\n")
	c := writeTemp(t, "c.prom", "# TYPE fam_c gauge\nfam_c 3\n")
	families := func() map[string]string {
		var pg struct {
			Data []map[string]any `json:"data"`
		}
		getJSON(t, "http://"+pgw+"/api/v1/metrics", &pg)
		out := map[string]string{}
		for _, g := range pg.Data {
			for name, f := range g {
				if strings.HasPrefix(name, "fam_") {
					m := f.(map[string]any)["metrics"].([]any)[0].(map[string]any)
					out[name] = fmt.Sprint(m["value"])
				}
			}
		}
		return out
	}
	step := func(method, file string, want string) {
		t.Helper()
		args := []string{"push", "--queue-dir", "", "--pushgateway", "http://" + pgw, "--job", "sem", "--grouping", "instance=", "--method", method}
		if file != "" {
			args = append(args, file)
		}
		if _, errOut, code := monctl(t, args...); code != 0 {
			t.Fatalf("%s: exit %d: %s", method, code, errOut)
		}
		if got := fmt.Sprint(families()); got != want {
			t.Errorf("after %s %s: %s, want %s", method, filepath.Base(file), got, want)
		}
	}
	step("put", a, "map[fam_a:1 fam_b:1]")
	step("post", b, "map[fam_a:1 fam_b:2]")
	step("put", c, "map[fam_c:3]")
	step("delete", "", "map[]")
}

// TestPushSpoolsWhileDown: a sink down at the start gets what was spooled
// once it is up, before the new samples, with the exact counts; a full
// spool drops the oldest and says how many; a refused batch is not retried.
func TestPushSpoolsWhileDown(t *testing.T) {
	vm, data, queue := loopback(t), t.TempDir(), t.TempDir()
	rw := "http://" + vm + "/api/v1/write"
	file := writeTemp(t, "in.prom", "# TYPE spooled_total counter\nspooled_total 1\n")
	const perPush = 5 // spooled_total, and the scrape's up, duration, samples and series added
	for i := range 3 {
		st, errOut, code := pushJSON(t, "--queue-dir", queue, "--retries", "0", "--remote-write", rw, file)
		if code != 3 || st[0].Spooled != perPush || st[0].Sent != 0 || !strings.Contains(errOut, "connection refused") {
			t.Fatalf("push %d while down: exit %d, %+v: %s", i, code, st, errOut)
		}
		time.Sleep(20 * time.Millisecond) // distinct scrape times
	}
	startVictoria(t, vm, data)
	st, errOut, code := pushJSON(t, "--queue-dir", queue, "--remote-write", rw, file)
	if code != 0 || st[0].FromPool != 3*perPush || st[0].Sent != 4*perPush {
		t.Fatalf("once up: exit %d, %+v: %s", code, st, errOut)
	}
	waitFor(t, "the 4 samples at VictoriaMetrics", 30*time.Second, func() bool {
		http.Get("http://" + vm + "/internal/force_flush")
		return query(t, vm, "sum(count_over_time(spooled_total[10m]))")[""] == "4"
	})

	// A spool of 600 bytes holds two of these batches (233 bytes): the oldest go.
	dead := "http://" + loopback(t) + "/api/v1/write"
	dropped := 0
	for range 10 {
		st, _, _ := pushJSON(t, "--queue-dir", queue, "--queue-size", "600", "--retries", "0", "--remote-write", dead, file)
		dropped += st[0].Dropped
	}
	if dropped == 0 || dropped >= 10*perPush {
		t.Errorf("a full spool dropped %d of %d samples", dropped, 10*perPush)
	}

	influx := startInflux(t)
	st, errOut, code = pushJSON(t, "--queue-dir", queue, "--influx", "http://"+influx+"/write?db=nope", file)
	if code != 1 || st[0].Requests != 1 || st[0].Spooled != 0 || !strings.Contains(errOut, "database not found") {
		t.Errorf("a refused batch: exit %d, %+v: %s", code, st, errOut)
	}
}

// TestPushAgentSurvivesARestart: the agent loop keeps pushing while
// VictoriaMetrics is killed and started again, spools meanwhile, and
// flushes on SIGTERM: every round's sample arrives.
func TestPushAgentSurvivesARestart(t *testing.T) {
	vm, data := loopback(t), t.TempDir()
	stopVM := startVictoria(t, vm, data)
	file := writeTemp(t, "in.prom", "# TYPE agent_total counter\nagent_total 1\n")
	metricsAddr := loopback(t)
	cmd := exec.Command(monctlBin, "push", "--every", "0.3", "--retries", "0", "--push-timeout", "1s", "-o", "jsonl",
		"--web.listen-address", metricsAddr, "--queue-dir", t.TempDir(), "--remote-write", "http://"+vm+"/api/v1/write", file)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "MONCTL_CONFIG=")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	stopVM()
	time.Sleep(1500 * time.Millisecond)
	startVictoria(t, vm, data)
	time.Sleep(2 * time.Second)
	// The agent's own metrics tell the outage, and pass promtool's lint.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"monctl_push_rounds_total ", "monctl_push_spooled_samples_total{sink=", "monctl_push_sent_from_spool_samples_total{sink="} {
		if !strings.Contains(string(self), want) {
			t.Errorf("the agent's metrics lack %s", want)
		}
	}
	lint := exec.Command(tool(t, "promtool"), "check", "metrics")
	lint.Stdin = strings.NewReader(string(self))
	if out, err := lint.CombinedOutput(); err != nil && strings.Contains(string(out), "monctl_push") {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	// The sink was down for some rounds, whose batches were spooled: 3,
	// as for a single push that spooled.
	if err := cmd.Wait(); cmd.ProcessState.ExitCode() != 3 {
		t.Fatalf("SIGTERM: %v, want exit 3; stderr:\n%s", err, errOut.String())
	}
	rounds, spooled := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var s pushStats
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		rounds++
		spooled += s.Spooled
	}
	if rounds < 10 || spooled == 0 {
		t.Fatalf("%d rounds, %d spooled: the outage should have spooled some\n%s", rounds, spooled, errOut.String())
	}
	// The last round may have been spooled at SIGTERM, to go out next
	// time; every other round must be there, none twice.
	n := 0
	waitFor(t, fmt.Sprintf("%d of %d rounds at VictoriaMetrics", rounds-1, rounds), 30*time.Second, func() bool {
		http.Get("http://" + vm + "/internal/force_flush")
		n, _ = strconv.Atoi(query(t, vm, "sum(count_over_time(agent_total[10m]))")[""])
		return n >= rounds-1
	})
	time.Sleep(2 * time.Second) // anything more would show by now
	if n, _ = strconv.Atoi(query(t, vm, "sum(count_over_time(agent_total[10m]))")[""]); n > rounds {
		t.Errorf("VictoriaMetrics holds %d samples of %d rounds: some twice\n%s", n, rounds, errOut.String())
	}
}

// TestPushAgentExitCodes: after SIGTERM, the agent's exit code is its
// rounds' as the README gives it: 1 when no round gathered anything (a
// target that never parses), 3 when some round fell short, 0 when every
// round was delivered.
func TestPushAgentExitCodes(t *testing.T) {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	good := writeTemp(t, "good.prom", "good 1\n")
	bad := writeTemp(t, "bad.prom", "bad{ 1\n")
	for _, c := range []struct {
		name    string
		targets []string
		want    int
	}{
		{"never parses", []string{bad}, 1},
		{"one of two never parses", []string{good, bad}, 3},
		{"all delivered", []string{good}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"push", "--every", "0.2", "--queue-dir", t.TempDir(), "--remote-write", receiver.URL + "/api/v1/write"}, c.targets...)
			cmd := exec.Command(monctlBin, args...)
			cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "MONCTL_CONFIG=")
			var errOut strings.Builder
			cmd.Stderr = &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != c.want {
				t.Errorf("exit %d after SIGTERM, want %d; stderr:\n%s", code, c.want, errOut.String())
			}
		})
	}
}

// TestPushStaleMarkers: a series that leaves the exposition is marked
// stale at a real Prometheus receiver, which then stops returning it at
// once instead of for 5 minutes; so is every series of a target that
// fails; and an empty label value does not make it refuse the batch.
func TestPushStaleMarkers(t *testing.T) {
	prom := startPrometheusReceiver(t)
	file := writeTemp(t, "in.prom", "stay 1\ngo{e=\"\"} 1\n")
	stop, errOut := startPushAgent(t, "--every", "0.3", "--queue-dir", "", "--remote-write", "http://"+prom+"/api/v1/write", file)
	waitFor(t, "both series at Prometheus", 20*time.Second, func() bool {
		return len(query(t, prom, "stay")) == 1 && len(query(t, prom, "go")) == 1
	})
	os.WriteFile(file+".new", []byte("stay 1\n"), 0o644)
	os.Rename(file+".new", file)
	waitFor(t, "go to be stale", 20*time.Second, func() bool { return len(query(t, prom, "go")) == 0 })
	if len(query(t, prom, "stay")) != 1 {
		t.Errorf("the series that stayed is gone too")
	}
	os.WriteFile(file+".new", []byte("stay{ 1\n"), 0o644) // no longer parses
	os.Rename(file+".new", file)
	waitFor(t, "stay to be stale once its target fails", 20*time.Second, func() bool { return len(query(t, prom, "stay")) == 0 })
	stop() // its stderr is read once it has ended
	if strings.Contains(errOut.String(), "HTTP 400") {
		t.Errorf("Prometheus refused a batch:\n%s", errOut.String())
	}
}

// startPushAgent runs 'monctl push ARGS' (an agent: --every) until stop,
// which the test's end calls too; its stderr is read once it has ended.
func startPushAgent(t *testing.T, args ...string) (stop func(), errOut *strings.Builder) {
	t.Helper()
	cmd := exec.Command(monctlBin, append([]string{"push"}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "MONCTL_CONFIG=")
	errOut = &strings.Builder{}
	cmd.Stderr = errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }) }
	t.Cleanup(stop)
	return stop, errOut
}

// TestPushSpoolKeepsTenantsApart: two cron jobs push to the same URL as
// different users while the sink is down, with the default spool shared
// by all of a user's jobs; once it is back, each batch arrives once, with
// the credentials it was spooled for, and no spool directory names a
// password.
func TestPushSpoolKeepsTenantsApart(t *testing.T) {
	addr := loopback(t)
	queue := t.TempDir()
	for _, tenant := range []string{"alice", "bob"} {
		file := writeTemp(t, tenant+".prom", "tenant_"+tenant+"_total 1\n")
		cfg := writeTemp(t, tenant+".yml", "push:\n  remote-write:\n    - url: http://"+addr+"/api/v1/write\n      http_config:\n        basic_auth: {username: "+tenant+", password: SECRET-"+tenant+"}\n")
		if st, errOut, code := pushJSON(t, "--config", cfg, "--queue-dir", queue, "--retries", "0", file); code != 3 || st[0].Spooled == 0 {
			t.Fatalf("%s while down: exit %d, %+v: %s", tenant, code, st, errOut)
		}
	}
	filepath.WalkDir(queue, func(p string, d os.DirEntry, err error) error {
		if strings.Contains(p, "SECRET") {
			t.Errorf("a spool path names a password: %s", p)
		}
		return nil
	})
	var mu sync.Mutex
	got := map[string][]string{} // user -> the series names they delivered
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		body, _ := io.ReadAll(r.Body)
		raw, _ := snappy.Decode(nil, body)
		var req prompb.WriteRequest
		req.Unmarshal(raw)
		mu.Lock()
		defer mu.Unlock()
		for _, ts := range req.Timeseries {
			for _, lb := range ts.Labels {
				if lb.Name == "__name__" && strings.HasPrefix(lb.Value, "tenant_") {
					got[user+":"+pass] = append(got[user+":"+pass], lb.Value)
				}
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(l)
	defer srv.Close()
	for _, tenant := range []string{"bob", "alice"} { // bob first: alice's batch must not go with his credentials
		cfg := writeTemp(t, tenant+"2.yml", "push:\n  remote-write:\n    - url: http://"+addr+"/api/v1/write\n      http_config:\n        basic_auth: {username: "+tenant+", password: SECRET-"+tenant+"}\n")
		if _, errOut, code := pushJSON(t, "--config", cfg, "--queue-dir", queue, writeTemp(t, "empty.prom", "")); code != 0 {
			t.Fatalf("%s once up: exit %d: %s", tenant, code, errOut)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != "map[alice:SECRET-alice:[tenant_alice_total] bob:SECRET-bob:[tenant_bob_total]]" {
		t.Errorf("delivered as: %v", got)
	}
}

// TestPushGraphite pushes an exposition in a file to VictoriaMetrics'
// Graphite listener and reads it back through its query API: every
// sample a line, its labels tags, its job and instance as a scrape gives
// them; a value with a space keeps its words.
func TestPushGraphite(t *testing.T) {
	vm, graphite := loopback(t), loopback(t)
	start(t, "http://"+vm+"/health", "victoria-metrics", "-httpListenAddr="+vm, "-graphiteListenAddr="+graphite,
		"-storageDataPath="+t.TempDir(), "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR")
	file := writeTemp(t, "push.prom", pushTextfile)
	st, errOut, code := pushJSON(t, "--queue-dir", t.TempDir(), "--job", "gr", "--graphite", "tcp://"+graphite, file)
	if code != 0 || len(st) != 1 || st[0].Sent < 10 || st[0].Dropped != 0 {
		t.Fatalf("exit %d, %+v: %s", code, st, errOut)
	}
	if !strings.Contains(errOut, "samples left out: NaN, ±Inf") {
		t.Errorf("the NaN and infinities are said to be left out:\n%s", errOut)
	}
	want := map[string]string{
		"instance=" + file + ",job=gr,queue=a_b,result=ok": "1234",
	}
	var got map[string]string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		http.Get("http://" + vm + "/internal/force_flush")
		if got = query(t, vm, `monctl_push_jobs_total{result="ok"}`); fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("VictoriaMetrics holds %v, want %v", got, want)
	}
	if got := query(t, vm, `monctl_push_latency_seconds_bucket{le="+Inf"}`); len(got) != 1 {
		t.Errorf("the histogram's +Inf bucket: %v", got)
	}
}
