//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/testengine"
)

// forEachEngine runs a test on every sandboxed engine: Debian's 20.10
// (API 1.41, whose stats calls wait for a 1 s tick) and Engine 29.
func forEachEngine(t *testing.T, test func(*testing.T, *testengine.Engine)) {
	for _, e := range engines {
		t.Run("engine-"+e.Name, func(t *testing.T) { test(t, e) })
	}
}

// monctlOn runs monctl with DOCKER_HOST set to the engine, as a user's
// shell would have it.
func monctlOn(t *testing.T, e *testengine.Engine, args ...string) (string, string, int) {
	t.Helper()
	t.Setenv("DOCKER_HOST", e.Host)
	return monctl(t, args...)
}

// ctr is the part of monctl's JSON record that the tests check.
type ctr struct {
	Host        string         `json:"host"`
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Image       string         `json:"image"`
	State       string         `json:"state"`
	Health      string         `json:"health"`
	Restarts    int            `json:"restarts"`
	OOMKilled   bool           `json:"oom_killed"`
	OOMKills    int            `json:"oom_kills"`
	Exits       map[string]int `json:"exits"`
	CPUPercent  float64        `json:"cpu_percent"`
	MemoryUsed  float64        `json:"memory_used_bytes"`
	MemoryLimit float64        `json:"memory_limit_bytes"`
	NetRx       float64        `json:"network_rx_bytes"`
	BlkRead     float64        `json:"block_read_bytes"`
	BlkWrite    float64        `json:"block_write_bytes"`
	PIDs        float64        `json:"pids"`
	Uptime      float64        `json:"uptime_seconds"`
}

// runContainer starts the workload in a container without a network and
// removes it when the test ends. dockerArgs go before the image.
func runContainer(t *testing.T, e *testengine.Engine, name string, dockerArgs []string, image string, args ...string) {
	t.Helper()
	runArgs := append([]string{"run", "-d", "--network", "none", "--name", name}, dockerArgs...)
	runArgs = append(runArgs, image)
	if _, err := e.Docker(append(runArgs, args...)...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Docker("rm", "-f", name) })
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func waitReady(t *testing.T, e *testengine.Engine, name string) {
	t.Helper()
	waitFor(t, name+" to be ready", 60*time.Second, func() bool {
		out, _ := e.Docker("logs", name)
		return strings.Contains(out, "workload ready")
	})
}

func byName(cs []ctr) map[string]ctr {
	m := map[string]ctr{}
	for _, c := range cs {
		m[c.Name] = c
	}
	return m
}

// dockerStats is one line of docker stats --format '{{json .}}'.
type dockerStats struct {
	Name, CPUPerc, MemUsage, NetIO, BlockIO, PIDs string
}

var sizeRe = regexp.MustCompile(`^([0-9.]+)\s*([kKMGT]?i?B)$`)

// parseSize reads docker's human sizes: binary (MiB) for memory, decimal
// (MB) for I/O.
func parseSize(t *testing.T, s string) float64 {
	t.Helper()
	m := sizeRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		t.Fatalf("cannot read docker's size %q", s)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	mult := map[string]float64{"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[m[2]]
	return v * mult
}

// pair splits docker's "a / b" cells.
func pair(s string) (string, string) {
	a, b, _ := strings.Cut(s, "/")
	return a, b
}

// TestWatchNumbersAgreeWithDockerStats runs known workloads and checks
// monctl's numbers against what they do and against docker stats, taken
// at the same time.
func TestWatchNumbersAgreeWithDockerStats(t *testing.T) {
	forEachEngine(t, testWatchNumbersAgreeWithDockerStats)
}

func testWatchNumbersAgreeWithDockerStats(t *testing.T, e *testengine.Engine) {
	dev, err := e.DataDevice()
	if err != nil {
		t.Fatal(err)
	}
	runContainer(t, e, "nums-burner", nil, testengine.WorkloadImage, "-burn", "1")
	runContainer(t, e, "nums-sleeper", nil, testengine.WorkloadImage)
	runContainer(t, e, "nums-holder", nil, testengine.WorkloadImage, "-hold", "64")
	runContainer(t, e, "nums-writer", []string{"--device-write-bps", dev + ":1gb"}, testengine.WorkloadImage, "-write", "32", "-children", "3")
	runContainer(t, e, "nums-health", nil, testengine.HealthImage)
	for _, n := range []string{"nums-burner", "nums-sleeper", "nums-holder", "nums-writer", "nums-health"} {
		waitReady(t, e, n)
	}
	waitFor(t, "the health check to pass", 30*time.Second, func() bool {
		out, _ := e.Docker("inspect", "-f", "{{.State.Health.Status}}", "nums-health")
		return strings.TrimSpace(out) == "healthy"
	})
	time.Sleep(time.Second) // let the burner's CPU settle over a whole interval

	// Both ways of reading the numbers, each against docker stats, then
	// against each other.
	bySource := map[string]map[string]ctr{}
	for _, source := range []string{"cgroup", "api"} {
		t.Run("stats-source-"+source, func(t *testing.T) { bySource[source] = agreeWithDockerStats(t, e, source) })
	}
	files, api := bySource["cgroup"], bySource["api"]
	for _, name := range []string{"nums-sleeper", "nums-holder", "nums-writer"} {
		f, a := files[name], api[name]
		if f.MemoryLimit != a.MemoryLimit || f.BlkWrite != a.BlkWrite || f.NetRx != a.NetRx || f.PIDs != a.PIDs ||
			math.Abs(f.MemoryUsed-a.MemoryUsed) > max(0.05*a.MemoryUsed, 512<<10) {
			t.Errorf("%s: cgroup files and stats API disagree:\n%+v\n%+v", name, f, a)
		}
	}
	if out, errOut, code := monctlOn(t, e, "watch", "containers", "--once", "-o", "wide", "--stats-source", "cgroup", "--filter", "name=^nums-s"); code != 0 ||
		!regexp.MustCompile(`1 container · stats from cgroup-v[12]\n`).MatchString(out) {
		t.Errorf("-o wide does not say the numbers come from the cgroup files (exit %d, %s):\n%s", code, errOut, out)
	}
}

// agreeWithDockerStats checks the nums- containers' numbers, read with
// --stats-source source, against what they do and against docker stats,
// and returns them.
func agreeWithDockerStats(t *testing.T, e *testengine.Engine, source string) map[string]ctr {
	// Both at once: monctl over its intervals, docker stats over its own.
	// The burner's CPU is judged against its process's CPU time over
	// exactly the window of monctl's last record: on a busy machine it
	// gets less than a core, and any other window another share.
	pid, err := e.Docker("inspect", "-f", "{{.State.Pid}}", "nums-burner")
	if err != nil {
		t.Fatal(err)
	}
	track := trackCPU(t, strings.TrimSpace(pid))
	var wg sync.WaitGroup
	var dockerOut string
	var dockerErr error
	wg.Go(func() {
		dockerOut, dockerErr = e.Docker("stats", "--no-stream", "--format", "{{json .}}")
	})
	out, errOut, code := monctlOn(t, e, "watch", "containers", "--count", "2", "--interval", "1s", "-o", "jsonl", "--filter", "name=^nums-", "--stats-source", source)
	wg.Wait()
	if code != 0 || dockerErr != nil {
		t.Fatalf("monctl exit %d: %s\ndocker stats: %v", code, errOut, dockerErr)
	}
	last := lastWindow(t, out)
	var got []ctr
	for _, r := range last {
		got = append(got, r.ctr)
	}
	m := byName(got)
	if len(m) != 5 {
		t.Fatalf("want the 5 nums- containers, got %v", slices.Sorted(maps.Keys(m)))
	}

	if ref, ok := agreesWithTrack(t, track, last["nums-burner"], overHostCPU); !ok || ref < 5 {
		t.Errorf("burner CPU %.1f%%; its CPU time over the same window says %.1f%%", m["nums-burner"].CPUPercent, ref)
	}
	if c := m["nums-sleeper"]; c.CPUPercent >= 5 {
		t.Errorf("sleeper CPU %.1f%%, want under 5%%", c.CPUPercent)
	}
	if c := m["nums-holder"]; math.Abs(c.MemoryUsed-64<<20) > 0.1*(64<<20) {
		t.Errorf("holder memory %.0f bytes, want 64 MiB ± 10%%", c.MemoryUsed)
	}
	w := m["nums-writer"]
	// Some of the file system's own writes (journal, metadata) are the
	// kernel's, not the container's: allow 10% either way.
	if math.Abs(w.BlkWrite-32<<20) > 0.1*(32<<20) {
		t.Errorf("writer wrote %.0f bytes to disk, want 32 MiB ± 10%%", w.BlkWrite)
	}
	if w.PIDs < 4 {
		t.Errorf("writer has %.0f PIDs, want at least 4 (itself and 3 children)", w.PIDs)
	}
	if h := m["nums-health"]; h.Health != "healthy" {
		t.Errorf("health %q, want healthy", h.Health)
	}
	for _, c := range got {
		if c.State != "running" || c.Uptime <= 0 || c.MemoryLimit <= 0 || c.Image == "" || len(c.ID) != 64 {
			t.Errorf("%s: state %q, uptime %v, limit %v, image %q, id %q", c.Name, c.State, c.Uptime, c.MemoryLimit, c.Image, c.ID)
		}
	}

	// The same numbers as docker stats.
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(dockerOut), "\n") {
		var d dockerStats
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		c, ok := m[d.Name]
		if !ok {
			continue
		}
		seen++
		if d.Name == "nums-health" {
			// Its probe runs every second as an extra process: whether one
			// is alive when each tool looks decides PIDs and a few hundred
			// KiB of memory, so the two cannot agree reliably. It is
			// checked for its health above.
			continue
		}
		cpu, _ := strconv.ParseFloat(strings.TrimSuffix(d.CPUPerc, "%"), 64)
		used, limitText := pair(d.MemUsage)
		_, written := pair(d.BlockIO)
		received, _ := pair(d.NetIO)
		// CPU only where it cannot move between two windows: the busy
		// burner is judged against its own counter above.
		if d.Name != "nums-burner" && math.Abs(cpu-c.CPUPercent) > 10 {
			t.Errorf("%s: CPU monctl %.2f%%, docker stats %.2f%%", d.Name, c.CPUPercent, cpu)
		}
		// A container of a few MiB moves by a few hundred KiB between two
		// reads (its Go runtime, the page cache), so small ones get an
		// absolute allowance.
		if mem := parseSize(t, used); math.Abs(mem-c.MemoryUsed) > max(0.05*mem, 512<<10) {
			t.Errorf("%s: memory monctl %.0f, docker stats %s", d.Name, c.MemoryUsed, d.MemUsage)
		}
		if limit := parseSize(t, limitText); math.Abs(limit-c.MemoryLimit) > 0.01*limit {
			t.Errorf("%s: limit monctl %.0f, docker stats %s", d.Name, c.MemoryLimit, d.MemUsage)
		}
		// docker prints 3 significant digits.
		if bw := parseSize(t, written); math.Abs(bw-c.BlkWrite) > 0.01*bw+1 {
			t.Errorf("%s: block writes monctl %.0f, docker stats %s", d.Name, c.BlkWrite, d.BlockIO)
		}
		if rx := parseSize(t, received); rx != c.NetRx {
			t.Errorf("%s: received monctl %.0f, docker stats %s", d.Name, c.NetRx, d.NetIO)
		}
		// The two read at slightly different moments, and a Go program
		// (the burner) may start a thread of its runtime in between.
		if pids, _ := strconv.ParseFloat(d.PIDs, 64); math.Abs(pids-c.PIDs) > 1 {
			t.Errorf("%s: PIDs monctl %.0f, docker stats %s", d.Name, c.PIDs, d.PIDs)
		}
	}
	if seen != 5 {
		t.Errorf("docker stats showed %d of the 5 containers:\n%s", seen, dockerOut)
	}
	return m
}

// watchProc is a running 'monctl watch' whose JSON arrays are read as they
// come.
type watchProc struct {
	cmd    *exec.Cmd
	frames chan []ctr
	mu     sync.Mutex
	stderr bytes.Buffer
}

func startWatch(t *testing.T, e *testengine.Engine, args ...string) *watchProc {
	t.Helper()
	p := &watchProc{frames: make(chan []ctr, 100)}
	p.cmd = exec.Command(monctlBin, append([]string{"watch", "containers", "-o", "json"}, args...)...)
	p.cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "DOCKER_HOST="+e.Host)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stderr.Write(b)
	})
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.frames)
		dec := json.NewDecoder(bufio.NewReader(stdout))
		for {
			var fr []ctr
			if err := dec.Decode(&fr); err != nil {
				if err != io.EOF {
					p.frames <- nil // a frame that does not parse fails the test
				}
				return
			}
			p.frames <- fr
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (p *watchProc) errors() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// next waits for the next frame.
func (p *watchProc) next(t *testing.T, limit time.Duration) ([]ctr, bool) {
	t.Helper()
	select {
	case fr, ok := <-p.frames:
		if ok && fr == nil {
			t.Fatalf("monctl printed something that is not a JSON array; stderr:\n%s", p.errors())
		}
		return fr, ok
	case <-time.After(limit):
		t.Fatalf("no frame within %v; stderr:\n%s", limit, p.errors())
	}
	return nil, false
}

// until reads frames until one satisfies cond.
func (p *watchProc) until(t *testing.T, what string, limit time.Duration, cond func([]ctr) bool) []ctr {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		fr, ok := p.next(t, time.Until(deadline))
		if !ok {
			t.Fatalf("monctl ended before %s; stderr:\n%s", what, p.errors())
		}
		if cond(fr) {
			return fr
		}
	}
	t.Fatalf("no frame with %s within %v; stderr:\n%s", what, limit, p.errors())
	return nil
}

func has(name string) func([]ctr) bool {
	return func(fr []ctr) bool { _, ok := byName(fr)[name]; return ok }
}

// TestWatchFollowsContainers starts and removes containers during a
// --count run: the new one appears, the removed one goes, and the run
// ends by itself with exit 0.
func TestWatchFollowsContainers(t *testing.T) { forEachEngine(t, testWatchFollowsContainers) }

func testWatchFollowsContainers(t *testing.T, e *testengine.Engine) {
	runContainer(t, e, "ev-early", nil, testengine.WorkloadImage)
	waitReady(t, e, "ev-early")
	p := startWatch(t, e, "--interval", "500ms", "--count", "12", "--filter", "name=^ev-")
	p.until(t, "ev-early", 30*time.Second, has("ev-early"))

	runContainer(t, e, "ev-late", nil, testengine.WorkloadImage, "-burn", "1")
	if _, err := e.Docker("rm", "-f", "ev-early"); err != nil {
		t.Fatal(err)
	}
	fr := p.until(t, "ev-late without ev-early", 30*time.Second, func(fr []ctr) bool {
		return has("ev-late")(fr) && !has("ev-early")(fr)
	})
	// Busy, not idle (an idle container shows under 1%): how busy a
	// loaded machine lets it be is TestWatchNumbersAgreeWithDockerStats's
	// question, against the container's own counter.
	if c := byName(fr)["ev-late"]; c.CPUPercent < 5 {
		t.Errorf("ev-late burns a CPU but shows %.1f%%", c.CPUPercent)
	}
	for {
		fr, ok := p.next(t, 30*time.Second)
		if !ok {
			break
		}
		if has("ev-early")(fr) {
			t.Error("ev-early came back after it was removed")
		}
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("monctl: %v; stderr:\n%s", err, p.errors())
	}
}

// TestWatchSurvivesVanishingContainers runs containers that remove
// themselves (--rm) while monctl samples them: some go between the list
// or an event and their stats call. No snapshot may break.
func TestWatchSurvivesVanishingContainers(t *testing.T) {
	forEachEngine(t, testWatchSurvivesVanishingContainers)
}

func testWatchSurvivesVanishingContainers(t *testing.T, e *testengine.Engine) {
	for i := range 8 {
		name := fmt.Sprintf("vx-%d", i)
		if _, err := e.Docker("run", "-d", "--rm", "--network", "none", "--name", name, testengine.WorkloadImage,
			"-exit-after", fmt.Sprintf("%dms", 1500+i*400)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Docker("rm", "-f", name) })
	}
	out, errOut, code := monctlOn(t, e, "watch", "containers", "--interval", "300ms", "--count", "10", "-o", "jsonl", "--filter", "name=^vx-")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var c ctr
		if err := dec.Decode(&c); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%v in:\n%s", err, out)
		}
		if !strings.HasPrefix(c.Name, "vx-") || c.State != "running" {
			t.Errorf("unexpected record %+v", c)
		}
	}
}

// TestWatchEngineRestart stops the engine mid-watch: monctl says so, keeps
// trying, and carries on when the engine is back.
func TestWatchEngineRestart(t *testing.T) { forEachEngine(t, testWatchEngineRestart) }

func testWatchEngineRestart(t *testing.T, e *testengine.Engine) {
	runContainer(t, e, "rs-1", []string{"--restart", "always"}, testengine.WorkloadImage, "-burn", "1")
	waitReady(t, e, "rs-1")
	p := startWatch(t, e, "--interval", "500ms", "--filter", "name=^rs-")
	p.until(t, "rs-1", 30*time.Second, has("rs-1"))

	e.Stop()
	waitFor(t, "monctl to report the engine gone", 20*time.Second, func() bool {
		return strings.Contains(p.errors(), "is not answering") && strings.Contains(p.errors(), "retrying")
	})
	if err := e.Restart(); err != nil {
		t.Fatal(err)
	}
	p.until(t, "rs-1 after the restart", 60*time.Second, func(fr []ctr) bool {
		c, ok := byName(fr)["rs-1"]
		return ok && c.State == "running" && c.CPUPercent > 5
	})
	waitFor(t, "monctl to report the engine back", 10*time.Second, func() bool { return strings.Contains(p.errors(), "is back") })

	p.cmd.Process.Signal(syscall.SIGINT)
	err := p.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("after SIGINT: %v, want exit 130", err)
	}
}

// TestWatchUnreachableEngine: exit 1, with the address, the cause and a
// hint.
func TestWatchUnreachableEngine(t *testing.T) {
	port := freePort(t)
	for _, tc := range []struct {
		host string
		want []string
	}{
		{"unix:///nonexistent/docker.sock", []string{"unix:///nonexistent/docker.sock", "no such socket", "is dockerd running?"}},
		{fmt.Sprintf("tcp://127.0.0.1:%d", port), []string{fmt.Sprintf("127.0.0.1:%d", port), "connection refused"}},
	} {
		_, errOut, code := monctl(t, "watch", "containers", "--once", "--host", tc.host)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", tc.host, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr %q lacks %q", tc.host, errOut, w)
			}
		}
	}
}

// TestWatchSeveralEngines: a HOST column, and an engine that fails does
// not hide the other (exit 3).
func TestWatchSeveralEngines(t *testing.T) { forEachEngine(t, testWatchSeveralEngines) }

func testWatchSeveralEngines(t *testing.T, e *testengine.Engine) {
	runContainer(t, e, "multi-1", nil, testengine.WorkloadImage)
	waitReady(t, e, "multi-1")
	out, errOut, code := monctlOn(t, e, "watch", "containers", "--once", "--host", e.Host, "--host", "unix:///nonexistent/docker.sock", "--filter", "name=^multi-")
	if code != 3 {
		t.Errorf("exit %d, want 3; stderr:\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "unix:///nonexistent/docker.sock") {
		t.Errorf("stderr does not name the failed engine: %s", errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "HOST") || !strings.HasPrefix(lines[2], e.Host) || !strings.Contains(lines[2], "multi-1") {
		t.Errorf("want a time line, a header with HOST and multi-1 on %s:\n%s", e.Host, out)
	}
}

// TestWatchLiveView drives the full-screen view on a pseudo-terminal:
// escape codes there (and only there), a sort key, and q to quit.
func TestWatchLiveView(t *testing.T) { forEachEngine(t, testWatchLiveView) }

func testWatchLiveView(t *testing.T, e *testengine.Engine) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatal("script (util-linux) is needed for a pseudo-terminal")
	}
	runContainer(t, e, "live-1", nil, testengine.WorkloadImage, "-burn", "1")
	waitReady(t, e, "live-1")
	cmd := exec.Command("script", "-qfec", "stty cols 120 rows 30; "+monctlBin+" watch containers --interval 300ms", "/dev/null")
	cmd.Env = append(os.Environ(), "TERM=xterm", "XDG_CONFIG_HOME="+t.TempDir(), "DOCKER_HOST="+e.Host)
	keys, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	io.WriteString(keys, "m")
	time.Sleep(1500 * time.Millisecond)
	io.WriteString(keys, "q")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("monctl under a terminal: %v", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("q did not end the view; output:\n%q", out.String())
	}
	s := out.String()
	for _, want := range []string{"\x1b[?1049h", "live-1", "CPU %", "sort: mem", "\x1b[?1049l"} {
		if !strings.Contains(s, want) {
			t.Errorf("the view lacks %q:\n%q", want, s[max(0, len(s)-2000):])
		}
	}
}

// TestWatchPipedHasNoEscapes: a table through a pipe is plain text.
func TestWatchPipedHasNoEscapes(t *testing.T) { forEachEngine(t, testWatchPipedHasNoEscapes) }

func testWatchPipedHasNoEscapes(t *testing.T, e *testengine.Engine) {
	runContainer(t, e, "pipe-1", nil, testengine.WorkloadImage)
	waitReady(t, e, "pipe-1")
	out, errOut, code := monctlOn(t, e, "watch", "containers", "--count", "2", "--interval", "300ms", "--filter", "name=^pipe-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape codes in piped output:\n%q", out)
	}
	if n := strings.Count(out, "CONTAINER ID"); n != 2 {
		t.Errorf("want 2 tables, got %d:\n%s", n, out)
	}
}

// TestWatchMarksOOMKills: a container started while watching (--all) that
// outgrows its memory limit shows as exited and OOM-killed.
func TestWatchMarksOOMKills(t *testing.T) { forEachEngine(t, testWatchMarksOOMKills) }

func testWatchMarksOOMKills(t *testing.T, e *testengine.Engine) {
	p := startWatch(t, e, "--all", "--interval", "500ms", "--filter", "name=^oom-")
	p.next(t, 30*time.Second) // watching before the container exists
	runContainer(t, e, "oom-1", []string{"--memory", "32m", "--memory-swap", "32m"}, testengine.WorkloadImage, "-hold", "64")
	fr := p.until(t, "oom-1 OOM-killed", 30*time.Second, func(fr []ctr) bool {
		c, ok := byName(fr)["oom-1"]
		return ok && c.State == "exited"
	})
	if c := byName(fr)["oom-1"]; !c.OOMKilled {
		t.Errorf("oom-1 exited but is not marked OOM-killed: %+v", c)
	}
	// Its oom and die events are counted: the series an alert on OOM
	// kills reads.
	fr = p.until(t, "oom-1's oom and die events counted", 10*time.Second, func(fr []ctr) bool {
		c := byName(fr)["oom-1"]
		return c.OOMKills >= 1 && c.Exits["137"] == 1
	})
}

// TestWatchCountsACrashLoop: a container that exits 1 every few hundred
// milliseconds, restarted by the engine, has its exits counted by code.
func TestWatchCountsACrashLoop(t *testing.T) { forEachEngine(t, testWatchCountsACrashLoop) }

func testWatchCountsACrashLoop(t *testing.T, e *testengine.Engine) {
	p := startWatch(t, e, "--all", "--interval", "500ms", "--filter", "name=^loop-")
	p.next(t, 30*time.Second)
	runContainer(t, e, "loop-1", []string{"--restart", "always"}, testengine.WorkloadImage, "-exit-after", "300ms")
	p.until(t, "loop-1's exits counted", 30*time.Second, func(fr []ctr) bool {
		c := byName(fr)["loop-1"]
		return c.Exits["1"] >= 2 && c.Restarts >= 2 && c.OOMKills == 0
	})
}

// TestWatchNamedContainers: arguments pick containers by name or ID
// prefix; one that names nothing is reported (exit 3), all of them
// naming nothing is a failure (exit 1), as with docker stats NAME.
func TestWatchNamedContainers(t *testing.T) { forEachEngine(t, testWatchNamedContainers) }

func testWatchNamedContainers(t *testing.T, e *testengine.Engine) {
	runContainer(t, e, "named-1", nil, testengine.WorkloadImage)
	runContainer(t, e, "named-2", nil, testengine.WorkloadImage)
	waitReady(t, e, "named-1")
	waitReady(t, e, "named-2")
	id, err := e.Docker("inspect", "-f", "{{.Id}}", "named-2")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := monctlOn(t, e, "watch", "containers", "--once", "-o", "jsonl", "named-1", id[:10], "nosuch")
	if code != 3 || !strings.Contains(errOut, "no such container: nosuch") {
		t.Errorf("exit %d, stderr %q; want 3 and the missing name", code, errOut)
	}
	if n := strings.Count(out, "\n"); n != 2 || !strings.Contains(out, `"name":"named-1"`) || !strings.Contains(out, `"name":"named-2"`) {
		t.Errorf("want named-1 and named-2:\n%s", out)
	}
	out, errOut, code = monctlOn(t, e, "watch", "containers", "--once", "nosuch", "nosuch2")
	if code != 1 || out != "" || !strings.Contains(errOut, "no such container: nosuch2") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, both names", code, out, errOut)
	}
}

// TestWatchFailIf: checks for cron over the container families: a
// container above 75% of its memory limit, and an unhealthy one, each
// make --fail-if exit 4 with what fired on stderr; a check that holds
// for nothing exits 0; --query answers as Prometheus's API would.
func TestWatchFailIf(t *testing.T) {
	e := engines[len(engines)-1]
	runContainer(t, e, "check-holder", []string{"-m", "80m"}, testengine.WorkloadImage, "-hold", "64")
	// A health check the image cannot run (it has no shell).
	runContainer(t, e, "check-sick", []string{"--health-cmd", "true", "--health-interval", "1s", "--health-retries", "1"}, testengine.WorkloadImage)
	waitReady(t, e, "check-holder")
	waitFor(t, "check-sick to turn unhealthy", 30*time.Second, func() bool {
		out, _ := e.Docker("inspect", "-f", "{{.State.Health.Status}}", "check-sick")
		return strings.TrimSpace(out) == "unhealthy"
	})
	time.Sleep(time.Second) // the holder has touched its memory

	memory := `monctl_container_memory_working_set_bytes{name=~"check-.*"} / monctl_container_memory_limit_bytes > 0.75`
	sick := `monctl_container_health_status{health="unhealthy", name=~"check-.*"} == 1`
	for _, c := range []struct {
		check, fires string
	}{{memory, `name="check-holder"`}, {sick, `name="check-sick"`}} {
		out, errOut, code := monctlOn(t, e, "watch", "containers", "--once", "--fail-if", c.check)
		if code != 4 || !strings.Contains(errOut, "check failed: "+c.check) || !strings.Contains(errOut, c.fires) || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr:\n%s", c.check, code, out, errOut)
		}
	}
	if _, errOut, code := monctlOn(t, e, "watch", "containers", "--once", "--fail-if", `monctl_container_restarts_total{name=~"check-.*"} > 0`); code != 0 || errOut != "" {
		t.Errorf("a check that holds for nothing: exit %d, %s", code, errOut)
	}
	// As a Nagios plugin: one status line, CRITICAL.
	if out, _, code := monctlOn(t, e, "watch", "containers", "--once", "--nagios", "--fail-if", sick); code != 2 ||
		!strings.HasPrefix(out, "MONCTL CRITICAL - "+sick+" | 'checks_failed'=1 'alerts_firing'=0\n") {
		t.Errorf("--nagios: exit %d:\n%s", code, out)
	}
	out, errOut, code := monctlOn(t, e, "watch", "containers", "--once", "-o", "json", "--query", `count by (name) (monctl_container_info{name=~"check-.*"})`)
	var data []struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(out), &data); err != nil || code != 0 || len(data) != 1 || data[0].ResultType != "vector" || len(data[0].Result) != 2 {
		t.Errorf("--query: exit %d, %v: %s %s", code, err, out, errOut)
	}
}
