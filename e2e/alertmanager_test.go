//go:build e2e

package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/testengine"
)

// startAlertmanager runs Debian's Alertmanager on loopback, alone (no
// cluster), its alerts routed nowhere, and returns its URL.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin := "/usr/bin/prometheus-alertmanager"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: 'make e2e' installs Debian's prometheus-alertmanager", bin)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: none\nreceivers:\n  - name: none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := loopback(t)
	start(t, "http://"+addr+"/-/ready", bin, "--config.file", cfg, "--storage.path", filepath.Join(dir, "data"),
		"--web.listen-address", addr, "--cluster.listen-address=")
	return "http://" + addr
}

// amAlert is an alert as Alertmanager's API v2 lists it.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

// amAlerts are the alerts Alertmanager has now, of one alertname.
func amAlerts(t *testing.T, am, name string) []amAlert {
	t.Helper()
	resp, err := http.Get(am + "/api/v2/alerts?filter=alertname%3D%22" + name + "%22")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out []amAlert
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return out
}

// TestAlertsReachAlertmanager: watch containers evaluates a rule over
// the sandboxed engine's containers and delivers its alert to a real
// Alertmanager, with its labels, annotations and the external label;
// once the container stops, the alert is delivered resolved and
// Alertmanager no longer lists it.
func TestAlertsReachAlertmanager(t *testing.T) {
	e := engines[len(engines)-1]
	am := startAlertmanager(t)
	rules := writeTemp(t, "rules.yml", `groups:
  - name: containers
    rules:
      - alert: ContainerUp
        expr: monctl_container_pids{name="am-hot"} > 0
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.name }} runs {{ $value }} processes"
`)
	cmd := exec.Command(monctlBin, "watch", "containers", "--interval", "0.5", "--count", "200", "--filter", "name=^am-",
		"--rules", rules, "--alertmanager", am, "--external-label", "monitor=e2e", "-o", "json")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host, "XDG_CONFIG_HOME="+t.TempDir(), "XDG_STATE_HOME="+t.TempDir(), "MONCTL_CONFIG=")
	var errOut syncBuffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(time.Second) // watching
	started := time.Now()
	runContainer(t, e, "am-hot", nil, testengine.WorkloadImage, "-hold", "1")
	var got []amAlert
	waitFor(t, "the alert at Alertmanager", 30*time.Second, func() bool {
		got = amAlerts(t, am, "ContainerUp")
		return len(got) == 1
	})
	t.Logf("from the container's start to Alertmanager listing its alert: %.1f s", time.Since(started).Seconds())
	a := got[0]
	if a.Labels["name"] != "am-hot" || a.Labels["severity"] != "page" || a.Labels["monitor"] != "e2e" || a.Labels["host"] != e.Host ||
		!strings.HasPrefix(a.Annotations["summary"], "am-hot runs ") || a.Status.State != "active" {
		t.Errorf("the alert at Alertmanager: %+v", a)
	}
	if !a.EndsAt.After(time.Now()) {
		t.Errorf("a firing alert ends at %v, already past", a.EndsAt)
	}
	if _, err := e.Docker("stop", "-t", "1", "am-hot"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the alert to be resolved at Alertmanager", 30*time.Second, func() bool { return len(amAlerts(t, am, "ContainerUp")) == 0 })
	if s := errOut.String(); strings.Contains(s, "delivering alerts") {
		t.Errorf("delivery errors: %s", s)
	}
}

// TestRulesStateAcrossCronRuns: three runs of watch containers --once a
// few seconds apart, as cron would run them, with a rule whose for: is
// shorter than the span: pending (exit 0, nothing delivered), then firing
// (exit 4, at Alertmanager), then, the container gone, resolved there.
// Rule files that changed start afresh, with a warning. The Alertmanager
// is the one the config file's alerting section names.
func TestRulesStateAcrossCronRuns(t *testing.T) {
	e := engines[len(engines)-1]
	am := startAlertmanager(t)
	rule := `groups:
  - name: cron
    rules:
      - alert: CronUp
        expr: monctl_container_pids{name="cron-hot"} > 0
        for: 2s
`
	rules := writeTemp(t, "rules.yml", rule)
	state := t.TempDir()
	runContainer(t, e, "cron-hot", nil, testengine.WorkloadImage, "-hold", "1")
	waitReady(t, e, "cron-hot")
	// The Alertmanager is the config file's, with Prometheus's keys.
	cfg := writeTemp(t, "monctl.yaml", "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['"+strings.TrimPrefix(am, "http://")+"']\n")
	cron := func() (string, int) {
		t.Helper()
		_, errOut, code := monctlEnv(t, []string{"DOCKER_HOST=" + e.Host}, "watch", "containers", "--once", "--filter", "name=^cron-",
			"--rules", rules, "--state-dir", state, "--config", cfg, "-o", "json")
		return errOut, code
	}
	if errOut, code := cron(); code != 0 || len(amAlerts(t, am, "CronUp")) != 0 {
		t.Fatalf("run 1: exit %d (want 0: pending), %d alerts at Alertmanager: %s", code, len(amAlerts(t, am, "CronUp")), errOut)
	}
	time.Sleep(2500 * time.Millisecond)
	if errOut, code := cron(); code != 4 {
		t.Fatalf("run 2: exit %d, want 4 (firing: for: counted across the runs): %s", code, errOut)
	}
	if got := amAlerts(t, am, "CronUp"); len(got) != 1 || got[0].Labels["name"] != "cron-hot" {
		t.Fatalf("run 2: Alertmanager has %+v, want the firing alert", got)
	}
	if _, err := e.Docker("stop", "-t", "1", "cron-hot"); err != nil {
		t.Fatal(err)
	}
	if errOut, code := cron(); code != 0 {
		t.Fatalf("run 3: exit %d, want 0 (resolved): %s", code, errOut)
	}
	if got := amAlerts(t, am, "CronUp"); len(got) != 0 {
		t.Errorf("run 3: the alert resolved between the runs is still at Alertmanager: %+v", got)
	}
	if err := os.WriteFile(rules, []byte(strings.Replace(rule, "for: 2s", "for: 3s", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if errOut, _ := cron(); !strings.Contains(errOut, "was left by other rules (their files changed): starting afresh") {
		t.Errorf("run 4, the rule file changed: stderr %q", errOut)
	}
}

// webhookPayloads is a test server that keeps the webhook payloads
// posted to it.
type webhookPayloads struct {
	mu   sync.Mutex
	body []map[string]any
}

func (w *webhookPayloads) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var p map[string]any
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.body = append(w.body, p)
	w.mu.Unlock()
}

func (w *webhookPayloads) first() map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.body) == 0 {
		return nil
	}
	return w.body[0]
}

// TestWebhookLikeAlertmanagers: one rule's alert goes to a real
// Alertmanager, whose webhook receiver posts it to one test server, and
// through monctl's own --notify-webhook to another: the two payloads are
// the same, field for field, but for the external URL (Alertmanager's
// own) and endsAt (Alertmanager's view of a firing alert's end).
func TestWebhookLikeAlertmanagers(t *testing.T) {
	e := engines[len(engines)-1]
	serve := func(h http.Handler) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		return "http://" + l.Addr().String() + "/"
	}
	fromAM, fromMonctl := &webhookPayloads{}, &webhookPayloads{}
	amHook, monctlHook := serve(fromAM), serve(fromMonctl)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(`route:
  receiver: monctl
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: monctl
    webhook_configs:
      - url: `+amHook+`
        send_resolved: true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := loopback(t)
	start(t, "http://"+addr+"/-/ready", "/usr/bin/prometheus-alertmanager", "--config.file", cfg, "--storage.path", filepath.Join(dir, "data"),
		"--web.listen-address", addr, "--cluster.listen-address=")
	rules := writeTemp(t, "rules.yml", `groups:
  - name: containers
    rules:
      - alert: HookUp
        expr: monctl_container_pids{name="hook-hot"} > 0
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.name }} runs"
`)
	runContainer(t, e, "hook-hot", nil, testengine.WorkloadImage, "-hold", "1")
	waitReady(t, e, "hook-hot")
	cmd := exec.Command(monctlBin, "watch", "containers", "--interval", "0.5", "--count", "200", "--filter", "name=^hook-",
		"--rules", rules, "--alertmanager", "http://"+addr, "--notify-webhook", monctlHook, "--group-wait", "1s", "--group-interval", "1s", "-o", "json")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host, "XDG_CONFIG_HOME="+t.TempDir(), "XDG_STATE_HOME="+t.TempDir(), "MONCTL_CONFIG=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "both webhook payloads", 30*time.Second, func() bool { return fromAM.first() != nil && fromMonctl.first() != nil })
	am, mine := fromAM.first(), fromMonctl.first()
	for _, k := range []string{"receiver", "status", "groupLabels", "commonLabels", "commonAnnotations", "version", "groupKey", "truncatedAlerts"} {
		if !reflect.DeepEqual(am[k], mine[k]) {
			t.Errorf("%s: Alertmanager's %v, monctl's %v", k, am[k], mine[k])
		}
	}
	amAlerts, myAlerts := am["alerts"].([]any), mine["alerts"].([]any)
	if len(amAlerts) != 1 || len(myAlerts) != 1 {
		t.Fatalf("alerts: Alertmanager's %v, monctl's %v", amAlerts, myAlerts)
	}
	a, m := amAlerts[0].(map[string]any), myAlerts[0].(map[string]any)
	for _, k := range []string{"status", "labels", "annotations", "generatorURL", "fingerprint"} {
		if !reflect.DeepEqual(a[k], m[k]) {
			t.Errorf("alert %s: Alertmanager's %v, monctl's %v", k, a[k], m[k])
		}
	}
	as, _ := time.Parse(time.RFC3339Nano, a["startsAt"].(string))
	ms, _ := time.Parse(time.RFC3339Nano, m["startsAt"].(string))
	if !as.Equal(ms) || as.IsZero() {
		t.Errorf("startsAt: Alertmanager's %v, monctl's %v", a["startsAt"], m["startsAt"])
	}
}

// TestServeAlertsOnContainerTroubles: serve evaluates rules over the
// sandboxed engine's containers at every collection and a real
// Alertmanager gets an alert for each trouble the issue names: memory
// over a threshold, an unhealthy container, an OOM kill of a container
// with a small memory limit, a crash loop; each with its labels and
// annotations and a generatorURL at serve's web view. /metrics serves
// ALERTS, the web view's API lists them; once the containers are gone
// the alerts are resolved at Alertmanager.
func TestServeAlertsOnContainerTroubles(t *testing.T) {
	e := engines[len(engines)-1]
	am := startAlertmanager(t)
	rules := writeTemp(t, "rules.yml", `groups:
  - name: troubles
    rules:
      - alert: MemoryHigh
        expr: monctl_container_memory_working_set_bytes{name="trouble-mem"} / monctl_container_memory_limit_bytes > 0.5
        labels: {severity: warning}
        annotations:
          summary: "{{ $labels.name }} uses {{ $value | humanizePercentage }} of its memory limit"
      - alert: Unhealthy
        expr: monctl_container_health_status{health="unhealthy"} == 1
        annotations:
          summary: "{{ $labels.name }} is unhealthy"
      - alert: OOMKilled
        expr: monctl_container_oom_kills_total > 0
        annotations:
          summary: "{{ $labels.name }} was killed for want of memory"
      - alert: CrashLooping
        expr: increase(monctl_container_restarts_total[1m]) >= 1
        annotations:
          summary: "{{ $labels.name }} restarts"
`)
	p := startServe(t, []string{"DOCKER_HOST=" + e.Host}, "--all", "--filter", "name=^trouble-", "--web.ui.interval", "1s",
		"--rules", rules, "--alertmanager", am, "--alert-resend-delay", "2s")
	started := time.Now()
	runContainer(t, e, "trouble-mem", []string{"-m", "80m"}, testengine.WorkloadImage, "-hold", "64")
	waitFor(t, "MemoryHigh at Alertmanager", 30*time.Second, func() bool { return len(amAlerts(t, am, "MemoryHigh")) == 1 })
	t.Logf("from the container's start to Alertmanager listing its alert, through serve: %.1f s", time.Since(started).Seconds())
	// A health check the image cannot run (it has no shell); a container
	// that needs 64 MiB within 16; one that exits 1 and is restarted.
	runContainer(t, e, "trouble-sick", []string{"--health-cmd", "true", "--health-interval", "1s", "--health-retries", "1"}, testengine.WorkloadImage)
	runContainer(t, e, "trouble-oom", []string{"-m", "16m", "--memory-swap", "16m"}, testengine.WorkloadImage, "-hold", "64")
	runContainer(t, e, "trouble-loop", []string{"--restart", "always"}, testengine.WorkloadImage, "-exit-after", "300ms")
	want := map[string]string{
		"MemoryHigh":   "trouble-mem uses ",
		"Unhealthy":    "trouble-sick is unhealthy",
		"OOMKilled":    "trouble-oom was killed for want of memory",
		"CrashLooping": "trouble-loop restarts",
	}
	web := "http://" + p.addr + "/#alerts-section"
	for name, summary := range want {
		var got []amAlert
		waitFor(t, name+" at Alertmanager", 60*time.Second, func() bool {
			got = amAlerts(t, am, name)
			return len(got) == 1
		})
		a := got[0]
		if !strings.HasPrefix(a.Annotations["summary"], summary) || a.Labels["host"] != e.Host || a.GeneratorURL != web || a.Status.State != "active" {
			t.Errorf("%s at Alertmanager: %+v (want summary %q, generatorURL %s)", name, a, summary, web)
		}
	}
	if a := amAlerts(t, am, "MemoryHigh")[0]; a.Labels["severity"] != "warning" || a.Labels["name"] != "trouble-mem" {
		t.Errorf("MemoryHigh's labels: %v", a.Labels)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	alerts := metricsOf(t, client, "http://"+p.addr+"/metrics")["ALERTS"]
	firing := map[string]bool{}
	for _, m := range alerts.Metrics {
		if m.Labels.Get("alertstate") == "firing" {
			firing[m.Labels.Get("alertname")] = true
		}
	}
	for name := range want {
		if !firing[name] {
			t.Errorf("ALERTS on /metrics lacks %s firing: %+v", name, alerts.Metrics)
		}
	}
	if sent := metricsOf(t, client, "http://"+p.addr+"/metrics")["monctl_notifications_sent_total"]; len(sent.Metrics) != 1 || sent.Metrics[0].Value < 4 {
		t.Errorf("monctl_notifications_sent_total: %+v", sent.Metrics)
	}
	resp, err := client.Get("http://" + p.addr + "/api/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	var listed struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	json.NewDecoder(resp.Body).Decode(&listed)
	resp.Body.Close()
	if len(listed.Alerts) < len(want) {
		t.Errorf("/api/v1/alerts lists %+v", listed.Alerts)
	}
	if _, err := e.Docker("rm", "-f", "trouble-mem", "trouble-sick", "trouble-oom", "trouble-loop"); err != nil {
		t.Fatal(err)
	}
	for name := range want {
		waitFor(t, name+" resolved at Alertmanager", 60*time.Second, func() bool { return len(amAlerts(t, am, name)) == 0 })
	}
	if log := p.log(); strings.Contains(log, "delivering alerts") || !strings.Contains(log, `msg="alert firing: OOMKilled{`) {
		t.Errorf("serve's log: the alerts' changes, no delivery errors:\n%s", log)
	}
}

// TestLogPatternsReachAlertmanager: logs -f counts a container's lines
// that match a --pattern, a rule over the counter's increase fires, and
// a real Alertmanager lists the alert with the container and the
// pattern; for cron, a check over the counters of the lines read so far
// exits 4 and says what failed.
func TestLogPatternsReachAlertmanager(t *testing.T) {
	e := engines[len(engines)-1]
	am := startAlertmanager(t)
	rules := writeTemp(t, "rules.yml", `groups:
  - name: logs
    rules:
      - alert: LogErrors
        expr: increase(monctl_log_lines_total{pattern="errs"}[1m]) > 0
        annotations:
          summary: "{{ $labels.name }} logged lines on stderr"
`)
	runContainer(t, e, "log-alarm", nil, testengine.WorkloadImage, "-log-lines", "20", "-log-rate", "1000", "-log-on-usr1")
	waitReady(t, e, "log-alarm")
	cmd := exec.Command(monctlBin, "logs", "-f", "--tail", "0", "log-alarm", "--pattern", "errs= err$", "--evaluation-interval", "500ms",
		"--rules", rules, "--alertmanager", am)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host, "XDG_CONFIG_HOME="+t.TempDir(), "XDG_STATE_HOME="+t.TempDir(), "MONCTL_CONFIG=")
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(1500 * time.Millisecond) // following, the counters at 0 evaluated
	started := time.Now()
	if _, err := e.Docker("kill", "-s", "USR1", "log-alarm"); err != nil {
		t.Fatal(err)
	}
	var got []amAlert
	waitFor(t, "LogErrors at Alertmanager", 30*time.Second, func() bool {
		got = amAlerts(t, am, "LogErrors")
		return len(got) == 1
	})
	t.Logf("from the lines written to Alertmanager listing the alert: %.1f s", time.Since(started).Seconds())
	if a := got[0]; a.Labels["name"] != "log-alarm" || a.Labels["pattern"] != "errs" || a.Annotations["summary"] != "log-alarm logged lines on stderr" {
		t.Errorf("the alert at Alertmanager: %+v", a)
	}
	if s := errOut.String(); !strings.Contains(s, `monctl: alert firing: LogErrors{host="`+e.Host+`"`) || !strings.Contains(out.String(), "line 19 out") {
		t.Errorf("stderr says the alert, stdout has the lines:\n%s\n%s", s, out.String())
	}

	_, cronErr, code := monctlOn(t, e, "logs", "log-alarm", "--pattern", "errs= err$", "--fail-if", `monctl_log_lines_total{pattern="errs"} >= 10`)
	if code != 4 || !strings.Contains(cronErr, `monctl: check failed: monctl_log_lines_total{pattern="errs"} >= 10 (1 series)`) {
		t.Errorf("cron: exit %d, stderr:\n%s", code, cronErr)
	}
	_, cronErr, code = monctlOn(t, e, "logs", "log-alarm", "--pattern", "errs= err$", "--pattern", "none=^nothing")
	if code != 0 || !strings.Contains(cronErr, "monctl: log-alarm: 10 lines matched errs") || !strings.Contains(cronErr, "monctl: log-alarm: 0 lines matched none") {
		t.Errorf("--pattern alone says the counts: exit %d, stderr:\n%s", code, cronErr)
	}
}
