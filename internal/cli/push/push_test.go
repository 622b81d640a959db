package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/monctl/monctl/internal/cli/cmdtest"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exposition"
)

func execute(t *testing.T, f *cmdutil.Factory, args ...string) (string, string, int) {
	t.Helper()
	out, errOut := f.IO.Out.(*bytes.Buffer), f.IO.ErrOut.(*bytes.Buffer)
	err := cmdtest.Execute(NewCmd(f), args...)
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), cmdutil.CodeOf(err)
}

func factory(asked *[]string) *cmdutil.Factory {
	f := cmdutil.NewFactory(cmdutil.IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	f.Engines = func(_ context.Context, hosts []string, _ string, _ int) ([]*containers.Engine, []error) {
		*asked = append([]string{}, hosts...)
		return nil, []error{errors.New("engine down")}
	}
	return f
}

func TestFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "in.prom")
	os.WriteFile(file, []byte("up 1\n"), 0o600)
	rw := []string{"--queue-dir", "", "--remote-write", "http://127.0.0.1:1/api/v1/write"}
	for _, c := range []struct {
		args  []string
		code  int
		want  string
		hosts []string
	}{
		{[]string{file}, cmdutil.ExitUsage, "push where?", nil},
		{rw, cmdutil.ExitUsage, "push what?", nil},
		{[]string{"--pushgateway", "ftp://x", file}, cmdutil.ExitUsage, "--pushgateway: pushgateway URL", nil},
		{[]string{"--pushgateway", "http://x", "--grouping", "nokey", file}, cmdutil.ExitUsage, `--grouping "nokey"`, nil},
		{append([]string{"--grouping", "a=b", file}, rw...), cmdutil.ExitUsage, "--grouping goes with --pushgateway", nil},
		{[]string{"--pushgateway", "http://x", "--method", "get", file}, cmdutil.ExitUsage, `method "GET"`, nil},
		{[]string{"--influx", "http://x/write?db=a&precision=s", file}, cmdutil.ExitUsage, "precision=s", nil},
		{append([]string{"--every", "10ms", file}, rw...), cmdutil.ExitUsage, "too short", nil},
		{append([]string{"--every", "1", "-"}, rw...), cmdutil.ExitUsage, "standard input can be read only once", nil},
		{append([]string{"--queue-size", "lots", file}, rw...), cmdutil.ExitUsage, "--queue-size", nil},
		{[]string{"--queue-size", "0", "--remote-write", "http://127.0.0.1:1/api/v1/write", file}, cmdutil.ExitUsage, "--queue-size 0 would keep every batch", nil},
		{append([]string{"-o", "prom", file}, rw...), cmdutil.ExitUsage, `output format "prom" is not available here`, nil},
		// Its engines' concurrency has a name of its own: --concurrency
		// is the targets'.
		{append([]string{"--containers", "--engine-concurrency", "0"}, rw...), cmdutil.ExitUsage, "--engine-concurrency must be at least 1", nil},
		{append([]string{"--concurrency", "0", file}, rw...), cmdutil.ExitUsage, "--concurrency must be at least 1", nil},
		// -H is --host and implies the containers.
		{append([]string{"-H", "tcp://a:2375"}, rw...), cmdutil.ExitFailure, "engine down", []string{"tcp://a:2375"}},
	} {
		var asked []string
		_, errOut, code := execute(t, factory(&asked), c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want exit %d about %s", c.args, code, errOut, c.code, c.want)
		}
		if c.hosts != nil && !slices.Equal(asked, c.hosts) {
			t.Errorf("%v: asked engines %q, want %q", c.args, asked, c.hosts)
		}
	}
}

// TestPushFromStdin: an exposition on stdin reaches a remote-write
// receiver, and -o json reports it.
func TestPushFromStdin(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Encoding") != "snappy" || r.Header.Get("X-Prometheus-Remote-Write-Version") != "0.1.0" {
			http.Error(w, "not remote write", http.StatusBadRequest)
			return
		}
		got.Add(int64(len(b)))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	var asked []string
	f := factory(&asked)
	f.IO.In = strings.NewReader("# TYPE a_total counter\na_total{x=\"1\"} 3\nb 2\n")
	out, errOut, code := execute(t, f, "--queue-dir", t.TempDir(), "--remote-write", srv.URL+"/api/v1/write", "-o", "json", "-")
	if code != 0 || got.Load() == 0 {
		t.Fatalf("exit %d, %d bytes taken: %s", code, got.Load(), errOut)
	}
	var st []struct {
		Sink string `json:"sink"`
		Sent int    `json:"sent_samples"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 1 || st[0].Sent != 6 || !strings.HasPrefix(st[0].Sink, "remote-write http://127.0.0.1:") {
		t.Errorf("report %q (%v)", out, err)
	}
	if !strings.Contains(errOut, "sent 6 samples in 1 request ") { // 2, and the scrape's 4
		t.Errorf("the stderr summary: %q", errOut)
	}
	if asked != nil {
		t.Error("no engine is asked without --containers or -H")
	}
}

// received is a remote-write receiver that keeps every series it is
// sent, as name{labels} -> value.
func received(t *testing.T) (*httptest.Server, func() map[string]float64) {
	var mu sync.Mutex
	got := map[string]float64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		raw, err := snappy.Decode(nil, b)
		var req prompb.WriteRequest
		if err == nil {
			err = req.Unmarshal(raw)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, ts := range req.Timeseries {
			var parts []string
			for _, l := range ts.Labels {
				parts = append(parts, l.Name+"="+l.Value)
			}
			got[strings.Join(parts, ",")] = ts.Samples[0].Value
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, func() map[string]float64 {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(got)
	}
}

// TestScrapeSeriesAndLabels: every series of a scraped target gets job
// and instance as a Prometheus scrape gives them (the target's own
// renamed exported_*, or kept with --honor-labels), and the target gets
// up, scrape_duration_seconds, scrape_samples_scraped and
// scrape_series_added; a target that cannot be read is up 0.
func TestScrapeSeriesAndLabels(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "# TYPE a gauge\na{job=\"theirs\",x=\"1\"} 1\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\n")
	}))
	defer target.Close()
	instance := strings.TrimPrefix(target.URL, "http://")
	bad := filepath.Join(t.TempDir(), "bad.prom")
	os.WriteFile(bad, []byte("bad{ 1\n"), 0o600)
	for _, honor := range []bool{false, true} {
		srv, got := received(t)
		var asked []string
		args := []string{"--queue-dir", "", "--job", "node", "--remote-write", srv.URL + "/api/v1/write", target.URL + "/metrics", bad}
		if honor {
			args = append(args, "--honor-labels")
		}
		_, errOut, code := execute(t, factory(&asked), args...)
		if code != cmdutil.ExitPartial {
			t.Errorf("honor %v: exit %d, want 3 (one target failed): %s", honor, code, errOut)
		}
		series := got()
		own := "__name__=a,exported_job=theirs,instance=" + instance + ",job=node,target=" + target.URL + "/metrics,x=1"
		if honor {
			own = "__name__=a,instance=" + instance + ",job=theirs,target=" + target.URL + "/metrics,x=1"
		}
		for key, want := range map[string]float64{
			own: 1,
			"__name__=h_count,instance=" + instance + ",job=node,target=" + target.URL + "/metrics":                2,
			"__name__=up,instance=" + instance + ",job=node,target=" + target.URL + "/metrics":                     1,
			"__name__=scrape_samples_scraped,instance=" + instance + ",job=node,target=" + target.URL + "/metrics": 4,
			"__name__=scrape_series_added,instance=" + instance + ",job=node,target=" + target.URL + "/metrics":    4,
			"__name__=up,instance=" + bad + ",job=node,target=" + bad:                                              0,
			"__name__=scrape_samples_scraped,instance=" + bad + ",job=node,target=" + bad:                          0,
		} {
			if v, ok := series[key]; !ok || v != want {
				t.Errorf("honor %v: %s = %v (sent %v), want %v", honor, key, v, ok, want)
			}
		}
		if _, ok := series["__name__=scrape_duration_seconds,instance="+instance+",job=node,target="+target.URL+"/metrics"]; !ok || len(series) != 12 { // 4 exposed, 4 and 4 of the scrapes
			t.Errorf("honor %v: %d series: %v", honor, len(series), series)
		}
	}
}

// TestStreamingAndBufferingSinksTogether: a remote-write sink streams
// beside an InfluxDB sink that buffers, and each gets the whole round.
func TestStreamingAndBufferingSinksTogether(t *testing.T) {
	rw, got := received(t)
	var lines atomic.Value
	influx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		lines.Store(string(b))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer influx.Close()
	var asked []string
	f := factory(&asked)
	f.IO.In = strings.NewReader("# TYPE a_total counter\na_total{x=\"1\"} 3\nb 2\n")
	_, errOut, code := execute(t, f, "--queue-dir", "", "--remote-write", rw.URL+"/api/v1/write", "--influx", influx.URL+"/write?db=x", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if s := got(); len(s) != 6 || s["__name__=a_total,instance=stdin,job=monctl,x=1"] != 3 {
		t.Errorf("remote write got %v", s)
	}
	if l, _ := lines.Load().(string); !strings.Contains(l, "a_total,") || !strings.Contains(l, "b,") || !strings.Contains(l, "up,") {
		t.Errorf("InfluxDB got %q", l)
	}
}

// TestAgentMetricsOnEveryAddress: --web.listen-address is repeatable, as
// serve's, and each address serves the agent's metrics.
func TestAgentMetricsOnEveryAddress(t *testing.T) {
	rw, _ := received(t)
	file := filepath.Join(t.TempDir(), "in.prom")
	os.WriteFile(file, []byte("a 1\n"), 0o600)
	var addrs []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, l.Addr().String())
		l.Close()
	}
	var asked []string
	cmd := NewCmd(factory(&asked))
	cmd.SetArgs([]string{"--every", "0.2", "--queue-dir", "", "--remote-write", rw.URL + "/api/v1/write",
		"--web.listen-address", addrs[0], "--web.listen-address", addrs[1], file})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	defer func() { cancel(); <-done }()
	for _, addr := range addrs {
		var body []byte
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !strings.Contains(string(body), "monctl_push_rounds_total"); time.Sleep(50 * time.Millisecond) {
			if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
				body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		}
		if !strings.Contains(string(body), "monctl_push_rounds_total") {
			t.Errorf("%s serves no agent metrics: %.200s", addr, body)
		}
	}
}

// TestMatch: --match keeps the series that match, as the target exposes
// them; up and the scrape series, which count everything scraped, go
// whatever it says.
func TestMatch(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "# TYPE cpu counter\ncpu_total{mode=\"idle\"} 5\ncpu_total{mode=\"user\"} 3\n# TYPE mem gauge\nmem 7\n")
	}))
	defer target.Close()
	srv, got := received(t)
	var asked []string
	_, errOut, code := execute(t, factory(&asked), "--queue-dir", "", "--remote-write", srv.URL+"/api/v1/write", "--match", `cpu_total{mode="idle"}`, target.URL+"/metrics")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	names := map[string]float64{}
	for key, v := range got() {
		name, _, _ := strings.Cut(strings.TrimPrefix(key, "__name__="), ",")
		if name == "cpu_total" && !strings.Contains(key, "mode=idle") {
			t.Errorf("a series --match does not keep: %s", key)
		}
		names[name] = v
	}
	if names["cpu_total"] != 5 || names["up"] != 1 || names["scrape_samples_scraped"] != 3 {
		t.Errorf("series sent: %v", names)
	}
	if _, ok := names["mem"]; ok {
		t.Errorf("mem was sent: %v", names)
	}
	if _, errOut, code := execute(t, factory(&asked), "--remote-write", srv.URL, "--match", "cpu{", target.URL); code != cmdutil.ExitUsage || !strings.Contains(errOut, "cpu{") {
		t.Errorf("a bad selector: exit %d, %s", code, errOut)
	}
}

// A discovery mechanism that never answers (an http_sd endpoint that
// hangs) holds push for --timeout, not for ever: it says so and pushes
// what was found.
func TestPushDoesNotWaitForAHungDiscovery(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()
	defer close(release)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer sink.Close()
	f := factory(nil)
	_, errOut, code := execute(t, f, "--discover", hung.URL+"/sd", "--timeout", "500ms", "--queue-dir", "", "--remote-write", sink.URL)
	if !strings.Contains(errOut, "not every mechanism answered within 500ms") {
		t.Errorf("exit %d; stderr does not say discovery was not waited for: %s", code, errOut)
	}
}

// TestQuestionsOverWhatWasPushed: --query and --fail-if see what the
// round pushed as the receiver stores it (job, instance, the scrape's
// series); the answers replace the sinks' lines, and a check that fired
// is exit 4 though everything was delivered.
func TestQuestionsOverWhatWasPushed(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "# TYPE queue gauge\nqueue 12\n")
	}))
	defer target.Close()
	instance := strings.TrimPrefix(target.URL, "http://")
	srv, got := received(t)
	var asked []string
	out, errOut, code := execute(t, factory(&asked), "--queue-dir", "", "--job", "app", "--remote-write", srv.URL+"/api/v1/write",
		"-o", "json", "--query", "queue", "--fail-if", "queue > 10", "--fail-if", "up == 0", target.URL+"/metrics")
	if code != cmdutil.ExitCheck {
		t.Errorf("exit %d, want %d: %s", code, cmdutil.ExitCheck, errOut)
	}
	var answers struct {
		Queries []struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"queries"`
		Firing []struct {
			Expr string `json:"expr"`
		} `json:"firing"`
	}
	if err := json.Unmarshal([]byte(out), &answers); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(answers.Queries) != 1 || len(answers.Queries[0].Result) != 1 || answers.Queries[0].Result[0].Metric["job"] != "app" ||
		answers.Queries[0].Result[0].Metric["instance"] != instance {
		t.Errorf("queue with the job and instance pushed: %s", out)
	}
	if len(answers.Firing) != 1 || answers.Firing[0].Expr != "queue > 10" {
		t.Errorf("want only queue > 10 firing: %s", out)
	}
	if got()["__name__=queue,instance="+instance+",job=app"] != 12 {
		t.Errorf("the round was still pushed: %v", got())
	}
}

// TestAgentRules: push --every evaluates --rules every round, for: counts
// across rounds, the agent's /metrics serves ALERTS once it fires, and an
// agent stopped while the alert fires exits 4.
func TestAgentRules(t *testing.T) {
	rw, _ := received(t)
	file := filepath.Join(t.TempDir(), "in.prom")
	os.WriteFile(file, []byte("a 1\n"), 0o600)
	rules := filepath.Join(t.TempDir(), "rules.yml")
	os.WriteFile(rules, []byte("groups:\n- name: t\n  rules:\n  - alert: AUp\n    expr: a > 0\n    for: 300ms\n"), 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var asked []string
	cmd := NewCmd(factory(&asked))
	cmd.SetArgs([]string{"--every", "0.2", "--queue-dir", "", "--state-dir", "", "--remote-write", rw.URL + "/api/v1/write",
		"--web.listen-address", addr, "--rules", rules, "-o", "json", file})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	want := `ALERTS{alertname="AUp",alertstate="firing",instance="` + file + `",job="monctl"} 1`
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !strings.Contains(string(body), want); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	}
	cancel()
	err = <-done
	if !strings.Contains(string(body), want) || !strings.Contains(string(body), "ALERTS_FOR_STATE{") {
		t.Errorf("the agent's metrics lack %s:\n%s", want, body)
	}
	if code := cmdutil.CodeOf(err); code != cmdutil.ExitCheck {
		t.Errorf("stopped while the alert fires: exit %d (%v), want %d", code, err, cmdutil.ExitCheck)
	}
}

// TestRelabel: job and instance go in their places, an empty one counts
// as absent, a target's own become exported_ (or stay, honored), and the
// label sets of a family do not share room.
func TestRelabel(t *testing.T) {
	fam := func(sets ...exposition.Labels) *exposition.Family {
		f := &exposition.Family{Name: "a", Type: exposition.Gauge}
		for _, ls := range sets {
			f.Metrics = append(f.Metrics, exposition.Metric{Labels: ls})
		}
		return f
	}
	in := []exposition.Labels{
		nil,
		{{Name: "a", Value: "1"}, {Name: "j", Value: "2"}, {Name: "z", Value: "3"}},
		{{Name: "instance", Value: ""}, {Name: "job", Value: ""}, {Name: "x", Value: "1"}},
		{{Name: "job", Value: "theirs"}},
	}
	for _, c := range []struct {
		honor bool
		want  []string
	}{
		{false, []string{`{instance="i", job="n"}`, `{a="1", instance="i", j="2", job="n", z="3"}`, `{instance="i", job="n", x="1"}`, `{exported_job="theirs", instance="i", job="n"}`}},
		{true, []string{`{instance="i", job="n"}`, `{a="1", instance="i", j="2", job="n", z="3"}`, `{instance="i", job="n", x="1"}`, `{instance="i", job="theirs"}`}},
	} {
		f := fam(in...)
		newScrapeLabeler(c.honor).relabel(f, "n", "i")
		for i, m := range f.Metrics {
			if got := m.Labels.String(); got != c.want[i] {
				t.Errorf("honor %v: %s became %s, want %s", c.honor, in[i], got, c.want[i])
			}
		}
		f.Metrics[0].Labels = append(f.Metrics[0].Labels, exposition.Label{Name: "zz", Value: "x"})
		if got := f.Metrics[1].Labels.String(); got != c.want[1] {
			t.Errorf("appending to one label set changed the next: %s", got)
		}
	}
}
