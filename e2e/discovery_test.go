//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/testengine"
	"github.com/monctl/monctl/pkg/discovery"
)

// runLabelled starts a container of e on the host network that serves
// an exposition at 127.0.0.1:port/path, with the labels given.
func runLabelled(t *testing.T, e *testengine.Engine, name string, port int, path string, labels ...string) {
	t.Helper()
	args := []string{"run", "-d", "--network", "host", "--name", name}
	for _, l := range labels {
		args = append(args, "--label", l)
	}
	args = append(args, testengine.WorkloadImage, "-http", fmt.Sprintf("127.0.0.1:%d", port), "-path", path)
	if _, err := e.Docker(args...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Docker("rm", "-f", name) })
}

// explained is one record of 'monctl targets -o json'.
type explained struct {
	State            string            `json:"state"`
	URL              string            `json:"url"`
	DiscoveredLabels map[string]string `json:"discoveredLabels"`
	Labels           map[string]string `json:"labels"`
	DroppedBy        *struct {
		Number  int    `json:"number"`
		Action  string `json:"action"`
		Default bool   `json:"default"`
	} `json:"droppedBy"`
}

// promTargets is Prometheus's /api/v1/targets.
type promTargets struct {
	Data struct {
		Active  []explained `json:"activeTargets"`
		Dropped []explained `json:"droppedTargets"`
	} `json:"data"`
}

// promTargetsOf asks Prometheus at promURL for its targets of state
// (active, dropped, any); none when it does not answer.
func promTargetsOf(promURL, state string) promTargets {
	var api promTargets
	resp, err := http.Get(promURL + "/api/v1/targets?state=" + state)
	if err != nil {
		return api
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	json.Unmarshal(body, &api)
	return api
}

// byContainer finds the record of a container by its name.
func byContainer(recs []explained, name string) *explained {
	for i := range recs {
		if recs[i].DiscoveredLabels["__meta_docker_container_name"] == "/"+name {
			return &recs[i]
		}
	}
	return nil
}

// TestDiscoverDocker: monctl finds the containers of the sandboxed engine
// by their prometheus.io labels, explains what its default rules made of
// each exactly as a real Prometheus with the same docker_sd_configs and
// relabel_configs does, and serve follows the containers as they start
// and stop.
func TestDiscoverDocker(t *testing.T) {
	e := engines[len(engines)-1]
	webPort, offPort, latePort := freePort(t), freePort(t), freePort(t)
	runLabelled(t, e, "sd-web", webPort, "/custom", "prometheus.io/scrape=true",
		fmt.Sprintf("prometheus.io/port=%d", webPort), "prometheus.io/path=/custom",
		"com.docker.compose.project=shop", "com.docker.compose.service=web")
	runLabelled(t, e, "sd-off", offPort, "/metrics", fmt.Sprintf("prometheus.io/port=%d", offPort))

	out, errOut, code := monctl(t, "targets", "--discover", "docker", "-H", e.Host, "-o", "json")
	if code != 0 {
		t.Fatalf("monctl targets: exit %d: %s", code, errOut)
	}
	var recs []explained
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	web, off := byContainer(recs, "sd-web"), byContainer(recs, "sd-off")
	if web == nil || off == nil {
		t.Fatalf("monctl targets lacks a container:\n%s", out)
	}
	if want := fmt.Sprintf("http://localhost:%d/custom", webPort); web.State != "kept" || web.URL != want {
		t.Errorf("sd-web: %s at %q, want kept at %s", web.State, web.URL, want)
	}
	if web.Labels["container"] != "sd-web" || web.Labels["compose_project"] != "shop" || web.Labels["job"] != "docker" {
		t.Errorf("sd-web's labels: %v", web.Labels)
	}
	if off.State != "dropped" || off.DroppedBy == nil || off.DroppedBy.Number != 1 || off.DroppedBy.Action != "keep" || !off.DroppedBy.Default {
		t.Errorf("sd-off (no prometheus.io/scrape): %s, dropped by %+v; want rule 1 (keep), a default rule", off.State, off.DroppedBy)
	}

	// A real Prometheus, same engine, same rules, same interval and
	// timeout as 'monctl targets' (its --timeout, 10s).
	dir := t.TempDir()
	rules := strings.ReplaceAll("\n"+discovery.DockerRulesYAML(), "\n", "\n      ")
	cfg := fmt.Sprintf(`global:
  scrape_interval: 10s
  scrape_timeout: 10s
scrape_configs:
  - job_name: docker
    docker_sd_configs:
      - host: %s
        refresh_interval: 1s
    relabel_configs:%s
`, e.Host, rules)
	promCfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(promCfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	promURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	start(t, promURL+"/-/ready", tool(t, "prometheus"), "--config.file", promCfg,
		"--storage.tsdb.path", filepath.Join(dir, "data"), "--web.listen-address", strings.TrimPrefix(promURL, "http://"))
	var api promTargets
	waitFor(t, "Prometheus to discover both containers", 30*time.Second, func() bool {
		api = promTargetsOf(promURL, "any")
		return byContainer(api.Data.Active, "sd-web") != nil && byContainer(api.Data.Dropped, "sd-off") != nil
	})
	pWeb, pOff := byContainer(api.Data.Active, "sd-web"), byContainer(api.Data.Dropped, "sd-off")
	if !maps.Equal(pWeb.Labels, web.Labels) {
		t.Errorf("sd-web's labels:\nmonctl:     %v\nPrometheus: %v", web.Labels, pWeb.Labels)
	}
	if !maps.Equal(pWeb.DiscoveredLabels, web.DiscoveredLabels) {
		t.Errorf("sd-web's discovered labels:\nmonctl:     %v\nPrometheus: %v", web.DiscoveredLabels, pWeb.DiscoveredLabels)
	}
	if !maps.Equal(pOff.DiscoveredLabels, off.DiscoveredLabels) {
		t.Errorf("sd-off's discovered labels:\nmonctl:     %v\nPrometheus: %v", off.DiscoveredLabels, pOff.DiscoveredLabels)
	}

	// serve follows the containers: a new labelled one is served, a
	// stopped one is gone at the next collection. Discovery looks again
	// on the engine's events: with its periodic refresh an hour apart,
	// both are seen within seconds.
	srv := startServe(t, nil, "--containers=false", "--discover", "docker", "-H", e.Host, "--discover-interval", "1h")
	metrics := srv.metricsText
	series := func(container string) string {
		return fmt.Sprintf(`container="%s"`, container)
	}
	waitFor(t, "serve to serve sd-web's series", 30*time.Second, func() bool {
		m := metrics()
		return strings.Contains(m, "workload_scrapes_total{") && strings.Contains(m, series("sd-web"))
	})
	if m := metrics(); strings.Contains(m, series("sd-off")) || !strings.Contains(m, `monctl_discovery_targets{job="docker",state="dropped"}`) {
		t.Errorf("serve's answer has sd-off's series, or no discovery series:\n%s", m)
	}
	runLabelled(t, e, "sd-late", latePort, "/metrics", "prometheus.io/scrape=true", fmt.Sprintf("prometheus.io/port=%d", latePort))
	waitFor(t, "serve to serve sd-late, started after it", 15*time.Second, func() bool { return strings.Contains(metrics(), series("sd-late")) })
	if _, err := e.Docker("stop", "-t", "1", "sd-web"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sd-web's series to go once it stopped", 15*time.Second, func() bool {
		m := metrics()
		return !strings.Contains(m, series("sd-web")) && strings.Contains(m, series("sd-late"))
	})
	if logs := srv.log(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("monctl logged errors:\n%s", logs)
	}
}

// TestPushDiscoveredContainers: push --discover docker sends the series
// of a labelled container of the sandboxed engine to a real Prometheus
// (remote write) with the labels discovery gave, and marks them stale
// once the container stops, so that Prometheus stops returning them at
// once rather than for 5 minutes.
func TestPushDiscoveredContainers(t *testing.T) {
	e := engines[len(engines)-1]
	port := freePort(t)
	runLabelled(t, e, "sd-push", port, "/metrics", "prometheus.io/scrape=true", fmt.Sprintf("prometheus.io/port=%d", port),
		"com.docker.compose.project=pushed")
	prom := startPrometheusReceiver(t)
	stop, errOut := startPushAgent(t, "--every", "0.5", "--queue-dir", "", "--discover", "docker", "-H", e.Host,
		"--discover-interval", "0.5s", "--remote-write", "http://"+prom+"/api/v1/write")
	sel := `workload_scrapes_total{job="docker",container="sd-push",compose_project="pushed"}`
	waitFor(t, "the container's series at Prometheus", 30*time.Second, func() bool { return len(query(t, prom, sel)) == 1 })
	if got := query(t, prom, `up{job="docker",container="sd-push"}`); len(got) != 1 {
		t.Errorf("up of the discovered target: %v", got)
	}
	// -H names the engine of --discover docker: its containers' own
	// numbers are not pushed unless --containers asks.
	if got := query(t, prom, "monctl_container_pids"); len(got) != 0 {
		t.Errorf("-H with --discover docker pushed the containers' numbers: %v", got)
	}
	if _, err := e.Docker("stop", "-t", "1", "sd-push"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "its series to be stale once it stopped", 30*time.Second, func() bool { return len(query(t, prom, sel)) == 0 })
	stop()
	if strings.Contains(errOut.String(), "HTTP 400") {
		t.Errorf("Prometheus refused a batch:\n%s", errOut.String())
	}
}

// TestPushFileSDTargetRemoved: a target that leaves a file_sd file while
// it still answers is gone for push: its series get stale markers at a
// real Prometheus. (A stopped container also fails its scrape; this one
// does not.)
func TestPushFileSDTargetRemoved(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "# TYPE kept_serving gauge\nkept_serving 1")
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	file := filepath.Join(dir, "targets.json")
	write := func(s string) {
		if err := os.WriteFile(file+".new", []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".new", file); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf(`[{"targets": [%q], "labels": {"team": "blue"}}]`, l.Addr().String()))
	prom := startPrometheusReceiver(t)
	stop, errOut := startPushAgent(t, "--every", "0.5", "--queue-dir", "", "--discover", "file:"+filepath.Join(dir, "*.json"),
		"--remote-write", "http://"+prom+"/api/v1/write")
	sel := `kept_serving{job="file",team="blue"}`
	waitFor(t, "the file's target's series at Prometheus", 30*time.Second, func() bool { return len(query(t, prom, sel)) == 1 })
	write(`[]`)
	waitFor(t, "its series to be stale once it left the file", 30*time.Second, func() bool { return len(query(t, prom, sel)) == 0 })
	stop()
	if strings.Contains(errOut.String(), "HTTP 4") || !strings.Contains(errOut.String(), "0 dropped") {
		t.Errorf("Prometheus refused a batch, or push dropped some:\n%s", errOut.String())
	}
}

// TestDiscoverPodman: --discover docker finds a labelled container of a
// real Podman on the host network through its Docker-compatible API,
// which lists such a container with no networks (Prometheus's discovery
// alone finds nothing there), and scrape reads it with the labels
// discovery gave; an unlabelled one on no network is dropped.
func TestDiscoverPodman(t *testing.T) {
	p := startPodman(t)
	port := freePort(t)
	p.podman(t, "run", "-d", "--network", "host", "--name", "pod-sd", "--label", "prometheus.io/scrape=true",
		"--label", fmt.Sprintf("prometheus.io/port=%d", port), testengine.WorkloadImage, "-http", fmt.Sprintf("127.0.0.1:%d", port), "-path", "/metrics")
	p.podman(t, "run", "-d", "--network", "none", "--name", "pod-plain", testengine.WorkloadImage, "-hold", "1")
	host := "unix://" + p.socket
	var out, errOut string
	defer func() {
		if t.Failed() {
			js, e, _ := monctlEnv(t, noEngineEnv(t.TempDir()), "targets", "--discover", "docker", "-H", host, "-o", "json")
			t.Logf("last scrape: %s\n%s\ntargets: %s\n%s", out, errOut, js, e)
		}
	}()
	waitFor(t, "scrape to find the Podman container's series", 30*time.Second, func() bool {
		var code int
		out, errOut, code = monctlEnv(t, noEngineEnv(t.TempDir()), "scrape", "--discover", "docker", "-H", host, "-o", "prom")
		return code == 0 && strings.Contains(out, "workload_scrapes_total")
	})
	if !strings.Contains(out, `container="pod-sd"`) {
		t.Errorf("the series lack the container label:\n%s\n%s", out, errOut)
	}
	js, errOut, code := monctlEnv(t, noEngineEnv(t.TempDir()), "targets", "--discover", "docker", "-H", host, "-o", "json")
	if code != 0 {
		t.Fatalf("monctl targets: exit %d: %s", code, errOut)
	}
	var recs []explained
	if err := json.Unmarshal([]byte(js), &recs); err != nil {
		t.Fatal(err)
	}
	if r := byContainer(recs, "pod-plain"); r == nil || r.State != "dropped" {
		t.Errorf("the unlabelled Podman container is not dropped:\n%s", js)
	}
}

// TestWatchTargetsDiscovery: watch targets follows a file_sd file as it
// is rewritten (a target leaves, another comes, and stderr says so), and
// says when an http_sd endpoint fails and when it works again.
func TestWatchTargetsDiscovery(t *testing.T) {
	a, c := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startNodeExporter(t, a)
	startNodeExporter(t, c)
	dir := t.TempDir()
	file := filepath.Join(dir, "targets.json")
	write := func(target string) {
		if err := os.WriteFile(file+".new", []byte(fmt.Sprintf(`[{"targets": [%q], "labels": {"team": "x"}}]`, target)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".new", file); err != nil {
			t.Fatal(err)
		}
	}
	write(a)
	var failing atomic.Bool // the http_sd endpoint answers 503
	sd := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			http.Error(w, "down for the test", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "[]")
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go sd.Serve(l)
	t.Cleanup(func() { sd.Close() })

	cmd := exec.Command(monctlBin, "watch", "targets", "-o", "jsonl", "--interval", "0.3", "--count", "200",
		"--discover", "file:"+filepath.Join(dir, "*.json"), "--discover", "http://"+l.Addr().String()+"/sd", "--discover-interval", "0.3s")
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "MONCTL_CONFIG=")
	var errOut syncBuffer
	cmd.Stderr = &errOut
	var out syncBuffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "a record of the file's target", 20*time.Second, func() bool { return strings.Contains(out.String(), `"target":"`+a+`"`) })
	write(c)
	waitFor(t, "the rewritten file's target, and stderr saying so", 20*time.Second, func() bool {
		return strings.Contains(out.String(), `"target":"`+c+`"`) && strings.Contains(errOut.String(), a+": gone (no longer discovered)") &&
			strings.Contains(errOut.String(), c+": discovered")
	})
	failing.Store(true)
	waitFor(t, "stderr to say http_sd fails", 20*time.Second, func() bool {
		return strings.Contains(errOut.String(), "discovery failing (last good targets kept): http http: ") && strings.Contains(errOut.String(), "503")
	})
	failing.Store(false)
	waitFor(t, "stderr to say discovery works again", 20*time.Second, func() bool { return strings.Contains(errOut.String(), "discovery works again") })
}

// syncBuffer is a buffer a process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDiscoverOverSSH: --discover docker -H ssh://... finds the labelled
// container of the engine on the far side of ssh: Prometheus's client
// reaches it through monctl's own connection (a socket of monctl's that
// the ssh connection carries). The container on the host network is
// reached at the ssh host's name.
func TestDiscoverOverSSH(t *testing.T) {
	e := engines[len(engines)-1]
	port := freePort(t)
	runLabelled(t, e, "sd-ssh", port, "/metrics", "prometheus.io/scrape=true", fmt.Sprintf("prometheus.io/port=%d", port))
	sshPort, bin := sshServer(t, e)
	url := fmt.Sprintf("ssh://root@127.0.0.1:%d", sshPort)
	env := append(noEngineEnv(t.TempDir()), "PATH="+bin+":"+os.Getenv("PATH"))
	out, errOut, code := monctlEnv(t, env, "targets", "--discover", "docker", "-H", url, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var recs []explained
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	r := byContainer(recs, "sd-ssh")
	if want := fmt.Sprintf("http://127.0.0.1:%d/metrics", port); r == nil || r.State != "kept" || r.URL != want {
		t.Fatalf("sd-ssh over ssh: %+v; want kept at %s:\n%s", r, want, out)
	}
	prom, errOut, code := monctlEnv(t, env, "scrape", "--discover", "docker", "-H", url, "-o", "prom")
	if code != 0 || !strings.Contains(prom, `workload_scrapes_total{container="sd-ssh"`) {
		t.Errorf("scrape over ssh: exit %d: %s\n%s", code, errOut, prom)
	}
}
