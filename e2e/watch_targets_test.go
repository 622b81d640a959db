//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/testengine"
)

type targetRecord struct {
	Time         time.Time `json:"time"`
	Target       string    `json:"target"`
	Up           bool      `json:"up"`
	Error        *string   `json:"error"`
	Series       int       `json:"series"`
	SeriesChange int       `json:"series_change"`
	Bytes        int64     `json:"bytes"`
	Matched      []struct {
		Name      string             `json:"name"`
		Type      string             `json:"type"`
		Labels    map[string]string  `json:"labels"`
		Value     float64            `json:"value"`
		Rate      *float64           `json:"rate"`
		Quantiles map[string]float64 `json:"quantiles"`
	} `json:"matched"`
}

// startNodeExporter runs node_exporter on addr with a textfile of series
// that do not change.
func startNodeExporter(t *testing.T, addr string) (stop func()) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "e2e.prom"), []byte(textfile), 0o644); err != nil {
		t.Fatal(err)
	}
	return start(t, "http://"+addr+"/metrics", tool(t, "node_exporter"), "--web.listen-address="+addr, "--collector.textfile.directory="+dir)
}

// TestWatchTargetsDownAndBack watches two node_exporters, one of which
// goes down and comes back: the records say so interval by interval, and
// stderr tells the outage once and the return once.
func TestWatchTargetsDownAndBack(t *testing.T) {
	steady := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	flaky := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startNodeExporter(t, steady)
	stopFlaky := startNodeExporter(t, flaky)

	cmd := exec.Command(monctlBin, "watch", "targets", "-o", "jsonl", "--interval", "0.3", "--count", "60",
		"--match", "monctl_e2e_jobs_total", steady, flaky)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "MONCTL_CONFIG=")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	records := make(chan targetRecord)
	go func() {
		defer close(records)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r targetRecord
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Errorf("not a JSON record: %q: %v", sc.Text(), err)
				continue
			}
			records <- r
		}
	}()
	// next waits for the flaky target's record with up == want, and
	// checks the steady one's on the way.
	next := func(want bool) targetRecord {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case r, ok := <-records:
				if !ok {
					t.Fatalf("monctl ended before %s was up=%v; stderr:\n%s", flaky, want, errOut.String())
				}
				if strings.Contains(r.Target, steady) {
					if !r.Up || r.Series < 100 || len(r.Matched) != 2 || r.Matched[0].Rate == nil || *r.Matched[0].Rate != 0 {
						t.Errorf("the steady target: %+v", r)
					}
					continue
				}
				if r.Up == want {
					return r
				}
			case <-timeout:
				t.Fatalf("%s never up=%v; stderr:\n%s", flaky, want, errOut.String())
			}
		}
	}
	up := next(true)
	if up.Error != nil || up.Series < 100 || up.Bytes == 0 || up.SeriesChange != 0 {
		t.Errorf("a target that is up: %+v", up)
	}
	stopFlaky()
	down := next(false)
	if down.Error == nil || !strings.Contains(*down.Error, "connection refused") || down.Series != 0 {
		t.Errorf("a target that is down: %+v", down)
	}
	startNodeExporter(t, flaky)
	back := next(true)
	if back.Series < 100 || back.SeriesChange != 0 { // the change is only known between two good scrapes
		t.Errorf("a target that is back: %+v", back)
	}
	for range records { // the rest, to the end of --count
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("exit: %v, want 3 (a target was down)", err)
	}
	e := errOut.String()
	if strings.Count(e, "connection refused") != 1 || strings.Count(e, flaky+"/metrics is back") != 1 {
		t.Errorf("stderr should tell the outage and the return once each:\n%s", e)
	}
}

// TestWatchTargetsHistogramOfTheInterval: the quantiles of a real
// Prometheus's request histogram are those of the interval just past, in
// which monctl's own scrape of /metrics was observed.
func TestWatchTargetsHistogramOfTheInterval(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "http://"+addr+"/-/ready", tool(t, "prometheus"), "--config.file", cfg,
		"--storage.tsdb.path", filepath.Join(dir, "data"), "--web.listen-address", addr)
	// Three scrapes: by the third, the series exists at both ends of the
	// interval, with the second scrape observed in it.
	out, errOut, code := monctl(t, "watch", "targets", "-o", "jsonl", "--count", "2", "--interval", "0.5",
		"--match", `prometheus_http_request_duration_seconds{handler="/metrics"}`, addr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ls := strings.Split(strings.TrimSpace(out), "\n")
	var last targetRecord
	if err := json.Unmarshal([]byte(ls[len(ls)-1]), &last); err != nil || len(ls) != 2 {
		t.Fatalf("want 2 records (%v):\n%s", err, out)
	}
	if len(last.Matched) != 1 {
		t.Fatalf("want one histogram:\n%s", out)
	}
	h := last.Matched[0]
	if h.Type != "histogram" || h.Rate == nil || *h.Rate <= 0 || h.Value < 2 {
		t.Errorf("the histogram's count and its rate over the interval: %+v", h)
	}
	p50, p99 := h.Quantiles["0.5"], h.Quantiles["0.99"]
	if len(h.Quantiles) != 3 || !(p50 > 0 && p50 <= p99 && p99 <= 10) {
		t.Errorf("p50/p90/p99 of the interval: %v", h.Quantiles)
	}
}

// TestWatchTargetsLiveView drives the live view in a real terminal: the
// rows, sort keys, a resize and q.
func TestWatchTargetsLiveView(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startNodeExporter(t, addr)
	dead := "127.0.0.1:1"
	term := newTerminal(t, 200, 30, nil, "watch", "targets", "--interval", "300ms", "--match", "monctl_e2e_temperature", addr, dead)
	row := func(screen, target string) int {
		for i, l := range lines(screen) {
			if strings.HasPrefix(l, "http://"+target) {
				return i
			}
		}
		return -1
	}
	s := term.waitScreen("both targets and the matched series", func(s string) bool {
		return strings.Contains(s, "DOWN") && strings.Contains(s, "monctl_e2e_temperature{sensor=\"x\"}") && strings.Contains(s, "-3.25")
	})
	if !strings.Contains(s, "2 targets · 1 up") || !strings.Contains(s, "sort: name ↑") || !strings.Contains(s, "connection refused — retrying every 300ms") {
		t.Errorf("head, sort line and banner:\n%s", s)
	}
	if row(s, dead) > row(s, addr) {
		t.Errorf("by name, 127.0.0.1:1 comes first:\n%s", s)
	}
	term.keys("s")
	s = term.waitScreen("the sort by series", func(s string) bool { return strings.Contains(s, "sort: series ↓") })
	if row(s, addr) > row(s, dead) {
		t.Errorf("by series, node_exporter comes first:\n%s", s)
	}
	term.keys("r")
	s = term.waitScreen("the reversed sort", func(s string) bool { return strings.Contains(s, "sort: series ↑") })
	if row(s, dead) > row(s, addr) {
		t.Errorf("reversed, 127.0.0.1:1 comes first:\n%s", s)
	}
	term.resize(70, 30)
	s = term.waitScreen("the narrow table", func(s string) bool {
		return strings.Contains(s, "TARGET") && !strings.Contains(s, "BYTES")
	})
	term.fitsWidth(s, 70)
	term.keys("q")
	if code := term.exitCode(); code != 0 {
		t.Errorf("q: exit %d", code)
	}
}

// TestWatchContainersLiveViewInTerminal drives 'watch containers' in a
// real terminal: sort keys, a resize that drops columns, and q.
func TestWatchContainersLiveViewInTerminal(t *testing.T) {
	e := engines[0]
	runContainer(t, e, "term-burn", nil, testengine.WorkloadImage, "-burn", "1")
	runContainer(t, e, "term-hold", nil, testengine.WorkloadImage, "-hold", "64")
	waitReady(t, e, "term-burn")
	waitReady(t, e, "term-hold")
	term := newTerminal(t, 200, 30, []string{"DOCKER_HOST=" + e.Host}, "watch", "containers", "--interval", "0.3", "--filter", "name=^term-")
	first := func(s string) string {
		for _, l := range lines(s) {
			if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[1], "term-") {
				return f[1]
			}
		}
		return ""
	}
	term.waitScreen("both containers", func(s string) bool {
		return strings.Contains(s, "term-burn") && strings.Contains(s, "term-hold") && strings.Contains(s, "Up ")
	})
	term.keys("c")
	s := term.waitScreen("the sort by CPU", func(s string) bool { return strings.Contains(s, "sort: cpu ↓") })
	if first(s) != "term-burn" {
		t.Errorf("by CPU, the burner comes first:\n%s", s)
	}
	term.keys("m")
	s = term.waitScreen("the sort by memory", func(s string) bool { return strings.Contains(s, "sort: mem ↓") })
	if first(s) != "term-hold" {
		t.Errorf("by memory, the holder comes first:\n%s", s)
	}
	term.resize(80, 30)
	s = term.waitScreen("the narrow table", func(s string) bool {
		return strings.Contains(s, "NAME") && !strings.Contains(s, "BLOCK I/O")
	})
	term.fitsWidth(s, 80)
	if !strings.Contains(s, "CPU %") || !strings.Contains(s, "term-burn") {
		t.Errorf("the narrow table keeps NAME and CPU %%:\n%s", s)
	}
	term.keys("q")
	if code := term.exitCode(); code != 0 {
		t.Errorf("q: exit %d", code)
	}
}

// TestWatchHostLiveView drives 'watch host' in a real terminal: the
// head says the host and its CPUs, the row its numbers; a narrow
// terminal drops columns; q quits.
func TestWatchHostLiveView(t *testing.T) {
	name, _ := os.Hostname()
	term := newTerminal(t, 160, 20, nil, "watch", "host", "--interval", "300ms")
	s := term.waitScreen("the host's row", func(s string) bool {
		return strings.Contains(s, "LOAD AVERAGE") && strings.Contains(s, " CPUs · load ")
	})
	if !strings.HasPrefix(s, name+" · ") || !strings.Contains(s, "MEM USED / TOTAL") || !strings.Contains(s, "Up ") {
		t.Errorf("head and row:\n%s", s)
	}
	term.resize(60, 20)
	s = term.waitScreen("the narrow table", func(s string) bool { return !strings.Contains(s, "STEAL %") && strings.Contains(s, "CPU %") })
	term.fitsWidth(s, 60)
	term.keys("q")
	if code := term.exitCode(); code != 0 {
		t.Errorf("q: exit %d", code)
	}
}

// TestWatchContainersGroupedInTerminal drives 'watch containers
// --group-by compose' in a real terminal: one row per compose project
// with its totals; e shows its containers under it, e again hides them.
func TestWatchContainersGroupedInTerminal(t *testing.T) {
	e := engines[0]
	for _, name := range []string{"grp-a", "grp-b"} {
		runContainer(t, e, name, []string{"--label", "com.docker.compose.project=grp-shop"}, testengine.WorkloadImage, "-hold", "16")
	}
	runContainer(t, e, "grp-solo", nil, testengine.WorkloadImage, "-hold", "16")
	for _, name := range []string{"grp-a", "grp-b", "grp-solo"} {
		waitReady(t, e, name)
	}
	term := newTerminal(t, 200, 30, []string{"DOCKER_HOST=" + e.Host}, "watch", "containers", "--interval", "0.3", "--filter", "name=^grp-", "--group-by", "compose")
	s := term.waitScreen("the groups", func(s string) bool {
		return strings.Contains(s, "grp-shop") && strings.Contains(s, "(no compose project)")
	})
	if !strings.Contains(s, "3 containers in 2 groups") || !strings.Contains(s, "e expand") || strings.Contains(s, "grp-a") {
		t.Errorf("collapsed: the head counts 3 containers in 2 groups, the keys offer e, no container row shows:\n%s", s)
	}
	var shop string
	for _, l := range lines(s) {
		if strings.Contains(l, "grp-shop") {
			shop = l
		}
	}
	if !strings.HasPrefix(strings.TrimSpace(shop), "2 containers") || !strings.Contains(shop, "2 running") {
		t.Errorf("the project's row: %q", shop)
	}
	term.keys("e")
	s = term.waitScreen("the containers under their groups", func(s string) bool {
		return strings.Contains(s, "grp-a") && strings.Contains(s, "grp-b") && strings.Contains(s, "grp-solo") && strings.Contains(s, "e collapse")
	})
	order := func(name string) int { return strings.Index(s, name) }
	if !(order("grp-shop") < order("grp-a") && order("grp-shop") < order("grp-b")) {
		t.Errorf("the project's containers come under its row:\n%s", s)
	}
	term.keys("e")
	term.waitScreen("collapsed again", func(s string) bool { return !strings.Contains(s, "grp-a") && strings.Contains(s, "e expand") })
	term.keys("q")
	if code := term.exitCode(); code != 0 {
		t.Errorf("q: exit %d", code)
	}
}
