package discovery

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
)

var testScrape = Scrape{Interval: 15 * time.Second, Timeout: 10 * time.Second}

func parseOne(t *testing.T, doc string) Job {
	t.Helper()
	jobs, err := ParseJobs([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 {
		t.Fatalf("got %d jobs, want 1", len(jobs))
	}
	return jobs[0]
}

func TestParseJobsErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown key", "scrape_configs:\n- job_name: a\n  static_configs: [{targets: [x:1]}]\n  relable_configs: []\n", "line 4: field relable_configs not found"},
		{"no job name", "scrape_configs:\n- static_configs: [{targets: [x:1]}]\n", "job_name is missing"},
		{"no targets", "scrape_configs:\n- job_name: a\n", "job a: no targets"},
		{"twice", "scrape_configs:\n- job_name: a\n  static_configs: [{targets: [x:1]}]\n- job_name: a\n  static_configs: [{targets: [x:1]}]\n", `job_name "a" is used twice`},
		{"bad rule", "scrape_configs:\n- job_name: a\n  static_configs: [{targets: [x:1]}]\n  relabel_configs: [{action: hashmod, target_label: h}]\n", "job a: relabel_configs rule 1: relabel configuration for hashmod requires non-zero modulus"},
		{"bad regex", "scrape_configs:\n- job_name: a\n  static_configs: [{targets: [x:1]}]\n  relabel_configs: [{regex: '('}]\n", "error parsing regexp"},
		{"bad scheme", "scrape_configs:\n- job_name: a\n  scheme: ftp\n  static_configs: [{targets: [x:1]}]\n", `scheme must be http or https, got "ftp"`},
		{"docker without host", "scrape_configs:\n- job_name: a\n  docker_sd_configs: [{port: 80}]\n", "host missing"},
		{"kubernetes without role", "scrape_configs:\n- job_name: a\n  kubernetes_sd_configs: [{}]\n", "role missing"},
		{"kubernetes ingress", "scrape_configs:\n- job_name: a\n  kubernetes_sd_configs: [{role: ingress}]\n", "role ingress is not offered"},
		{"kubernetes selector", "scrape_configs:\n- job_name: a\n  kubernetes_sd_configs: [{role: pod, selectors: [{role: node, label: a=b}]}]\n", "pod role supports only pod selectors"},
		{"kubernetes bad label selector", "scrape_configs:\n- job_name: a\n  kubernetes_sd_configs: [{role: pod, selectors: [{role: pod, label: 'a=(b'}]}]\n", "pod selector label"},
		{"kubernetes server and file", "scrape_configs:\n- job_name: a\n  kubernetes_sd_configs: [{role: pod, api_server: 'https://127.0.0.1:6443', kubeconfig_file: k}]\n", "cannot use 'kubeconfig_file' and 'api_server' simultaneously"},
		{"kubernetes http config without server", "scrape_configs:\n- job_name: a\n  kubernetes_sd_configs: [{role: pod, bearer_token: x}]\n", "provide the 'api_server' URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJobs([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestParseJobsIgnoresOtherKeys(t *testing.T) {
	jobs, err := ParseJobs([]byte("interval: 2s\ntargets: [a:1]\n"))
	if err != nil || len(jobs) != 0 {
		t.Fatalf("got %v, %v; want no jobs and no error", jobs, err)
	}
}

// The default rules apply only to a Docker job without rules of its own,
// and do what the README says they do.
func TestDockerRules(t *testing.T) {
	j := parseOne(t, "scrape_configs:\n- job_name: docker\n  docker_sd_configs: [{host: 'unix:///run/docker.sock'}]\n")
	if !j.DefaultRules || len(j.RelabelConfigs) != len(DockerRules()) {
		t.Fatalf("a docker job without rules got %d rules (default %v)", len(j.RelabelConfigs), j.DefaultRules)
	}
	own := parseOne(t, "scrape_configs:\n- job_name: docker\n  docker_sd_configs: [{host: 'unix:///run/docker.sock'}]\n  relabel_configs: [{action: labeldrop, regex: x}]\n")
	if own.DefaultRules || len(own.RelabelConfigs) != 1 {
		t.Fatalf("a docker job with its own rule got %d rules (default %v)", len(own.RelabelConfigs), own.DefaultRules)
	}
	static := parseOne(t, "scrape_configs:\n- job_name: s\n  static_configs: [{targets: [x:1]}]\n")
	if static.DefaultRules || len(static.RelabelConfigs) != 0 {
		t.Fatalf("a static job got the docker rules")
	}
	pods := parseOne(t, "scrape_configs:\n- job_name: k\n  kubernetes_sd_configs: [{role: pod}]\n")
	if !pods.DefaultRules || len(pods.RelabelConfigs) != len(KubernetesPodRules()) {
		t.Fatalf("a pod job without rules got %d rules (default %v)", len(pods.RelabelConfigs), pods.DefaultRules)
	}
	if svc := parseOne(t, "scrape_configs:\n- job_name: k\n  kubernetes_sd_configs: [{role: service}]\n"); svc.DefaultRules {
		t.Fatalf("a service job got the pod rules")
	}

	meta := func(extra ...string) model.LabelSet {
		ls := model.LabelSet{"__address__": "localhost", "__meta_docker_container_name": "/web-1",
			"__meta_docker_container_network_mode": "host"}
		for i := 0; i+1 < len(extra); i += 2 {
			ls[model.LabelName("__meta_docker_container_label_"+extra[i])] = model.LabelValue(extra[i+1])
		}
		return ls
	}
	tg := &targetgroup.Group{Source: "Docker", Targets: []model.LabelSet{
		meta("prometheus_io_scrape", "true", "prometheus_io_port", "9100", "prometheus_io_path", "/m",
			"com_docker_compose_project", "shop", "com_docker_compose_service", "web"),
		meta("prometheus_io_scrape", "false", "prometheus_io_port", "9100"),
		meta("prometheus_io_scrape", "true", "prometheus_io_scheme", "https"),
	}}
	got := j.candidates("docker: Docker", tg, testScrape, labels.NewBuilder(labels.EmptyLabels()))
	if len(got) != 3 {
		t.Fatalf("got %d candidates, want 3", len(got))
	}
	web := got[0]
	if !web.Kept() || web.Target.URL != "http://localhost:9100/m" {
		t.Fatalf("the labelled container: kept %v, URL %q, err %v; want http://localhost:9100/m", web.Kept(), web.Target.URL, web.Err)
	}
	if want := `{compose_project="shop", compose_service="web", container="web-1", instance="localhost:9100", job="docker"}`; web.Labels.String() != want {
		t.Errorf("labels %s, want %s", web.Labels, want)
	}
	if web.Discovered.Get("__meta_docker_container_name") != "/web-1" || web.Discovered.Get("__scrape_interval__") != "15s" || web.Discovered.Get("job") != "docker" {
		t.Errorf("discovered labels %s lack the meta labels or the job's defaults", web.Discovered)
	}
	if web.Target.Job != "docker" || web.Target.Instance() != "localhost:9100" || web.Target.Labels.Get("container") != "web-1" || web.Target.Labels.Get("job") != "" {
		t.Errorf("target job %q instance %q labels %v", web.Target.Job, web.Target.Instance(), web.Target.Labels)
	}
	if got[1].Kept() || got[1].DroppedBy != 1 {
		t.Errorf("prometheus.io/scrape=false: dropped by rule %d, want rule 1 (keep)", got[1].DroppedBy)
	}
	// No port label: the address stays the engine's host, with no port,
	// and https is the scheme its label asks for.
	if !got[2].Kept() || got[2].Target.URL != "https://localhost/metrics" {
		t.Errorf("no port label: URL %q, err %v; want https://localhost/metrics", got[2].Target.URL, got[2].Err)
	}
}

func TestCandidateErrorsAndParams(t *testing.T) {
	j := parseOne(t, `scrape_configs:
- job_name: j
  params: {module: [http_2xx]}
  static_configs: [{targets: ['a:1', 'b:2', 'c:3'], labels: {team: x}}]
  relabel_configs:
  - {source_labels: [__address__], regex: 'b:2', target_label: __address__, replacement: ''}
  - {source_labels: [__address__], regex: 'c:3', target_label: __address__, replacement: 'c/3'}
`)
	tg := j.SD[0].(discovery.StaticConfig)[0]
	got := j.candidates("static: 0", tg, testScrape, labels.NewBuilder(labels.EmptyLabels()))
	if len(got) != 3 {
		t.Fatalf("got %d candidates, want 3", len(got))
	}
	if a := got[0]; !a.Kept() || a.Target.URL != "http://a:1/metrics?module=http_2xx" || a.Target.Labels.Get("team") != "x" {
		t.Errorf("a:1: URL %q, labels %v, err %v", a.Target.URL, a.Target.Labels, a.Err)
	}
	if b := got[1]; b.Kept() || b.Err == nil || !strings.Contains(b.Err.Error(), "no address") {
		t.Errorf("an emptied address: err %v, want 'no address'", b.Err)
	}
	if c := got[2]; c.Kept() || c.Err == nil || !strings.Contains(c.Err.Error(), "not a valid hostname") {
		t.Errorf("an address with a path: err %v, want 'not a valid hostname'", c.Err)
	}
}

// waitFor polls cond until it holds, failing after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startSettled runs the jobs of doc until the test ends, and waits for
// every mechanism's first answer.
func startSettled(t *testing.T, doc string) *Discovery {
	t.Helper()
	jobs, err := ParseJobs([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Start(t.Context(), jobs, Options{Scrape: testScrape})
	if err != nil {
		t.Fatal(err)
	}
	<-d.Settled()
	return d
}

func urls(d *Discovery) []string {
	var out []string
	for _, t := range d.Targets() {
		out = append(out, t.URL)
	}
	slices.Sort(out)
	return out
}

// A file_sd file is re-read when it changes; one that turns bad keeps its
// last targets and the source says it fails.
func TestFileSD(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "targets.json")
	write := func(s string) {
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write(`[{"targets": ["127.0.0.1:9100"], "labels": {"env": "a"}}]`)
	d := startSettled(t, "scrape_configs:\n- job_name: files\n  file_sd_configs: [{files: ['"+filepath.Join(dir, "*.json")+"'], refresh_interval: 1h}]\n")
	if got := urls(d); !slices.Equal(got, []string{"http://127.0.0.1:9100/metrics"}) {
		t.Fatalf("targets %v", got)
	}
	// Prometheus's file discovery sends what it read before it watches
	// the directory, so a rewrite at once may come before the watch: it
	// is written again until seen, as a later edit would be.
	waitFor(t, "the rewritten file's two targets", func() bool {
		write(`[{"targets": ["127.0.0.1:9100", "127.0.0.1:9200"]}]`)
		return len(d.Targets()) == 2
	})
	if c := d.Candidates(); c[0].Labels.Get("env") != "" {
		t.Errorf("the label the file no longer gives is still there: %s", c[0].Labels)
	}
	// Written again until seen, for the same reason: events of the
	// rewrites above may still be in flight.
	waitFor(t, "the broken file to be reported", func() bool {
		write(`[{"targets": `)
		return Failing(d.Sources()) != ""
	})
	if got := urls(d); len(got) != 2 {
		t.Errorf("a broken file dropped its last good targets: %v", got)
	}
	if msg := Failing(d.Sources()); !strings.Contains(msg, "files file: Error reading file "+file) {
		t.Errorf("failing says %q", msg)
	}
	write(`[]`)
	waitFor(t, "an emptied file to remove its targets", func() bool { return len(d.Targets()) == 0 })
	if msg := Failing(d.Sources()); msg != "" {
		t.Errorf("the file reads again, but failing says %q", msg)
	}
}

// An http_sd endpoint is asked again every refresh_interval; while it
// fails, its last targets stay.
func TestHTTPSD(t *testing.T) {
	var answer atomic.Value
	answer.Store(`[{"targets": ["127.0.0.1:1"]}]`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answer.Load().(string)
		if a == "fail" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(a))
	}))
	defer srv.Close()
	// Credentials in the URL never show in a source's name or error.
	sdURL := strings.Replace(srv.URL, "http://", "http://monitor:s3cret-pw@", 1) + "/sd?token=t0ken-value"
	d := startSettled(t, "scrape_configs:\n- job_name: h\n  http_sd_configs: [{url: '"+sdURL+"', refresh_interval: 100ms}]\n")
	if got := urls(d); !slices.Equal(got, []string{"http://127.0.0.1:1/metrics"}) {
		t.Fatalf("targets %v", got)
	}
	answer.Store("fail")
	waitFor(t, "the failing endpoint to be reported", func() bool { return Failing(d.Sources()) != "" })
	if got := urls(d); len(got) != 1 {
		t.Errorf("a failing endpoint dropped its last good targets: %v", got)
	}
	if msg := Failing(d.Sources()); !strings.Contains(msg, "503") {
		t.Errorf("failing says %q, want the status", msg)
	}
	answer.Store(`[{"targets": ["127.0.0.1:2"]}]`)
	waitFor(t, "the new answer", func() bool { return slices.Equal(urls(d), []string{"http://127.0.0.1:2/metrics"}) })
	if msg := Failing(d.Sources()); msg != "" {
		t.Errorf("the endpoint answers again, but failing says %q", msg)
	}
	srv.Close() // the error now quotes the URL
	waitFor(t, "the closed endpoint to be reported", func() bool { return strings.Contains(Failing(d.Sources()), "connection refused") })
	shown := Failing(d.Sources()) + d.Candidates()[0].Source
	if strings.Contains(shown, "s3cret-pw") || strings.Contains(shown, "t0ken-value") || !strings.Contains(shown, "xxxxx") {
		t.Errorf("a secret of the URL shows, or nothing was masked: %s", shown)
	}
}
