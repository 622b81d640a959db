//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/testengine"
)

// podmanEngine is Debian's Podman serving its Docker-compatible API on a
// socket of the test's own, with storage, run root and events of its own
// (cgroupfs, file events, no networks): nothing of a system Podman is
// touched.
type podmanEngine struct {
	dir    string
	socket string // path
	args   []string
	env    []string
}

// podman runs the podman CLI on the test's storage.
func (p *podmanEngine) podman(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("podman", append(append([]string{}, p.args...), args...)...)
	cmd.Env = append(os.Environ(), p.env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("podman %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// startPodman serves Podman's API at DIR/xdg/podman/podman.sock, where a
// rootless user's would be (XDG_RUNTIME_DIR/podman/podman.sock), with the
// test images built from the ones the Docker engines were built from.
func startPodman(t *testing.T) *podmanEngine {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatal("podman is missing: 'make e2e' installs Debian's podman")
	}
	// Not t.TempDir: Podman's storage can still be settling when the
	// test ends (a container's files being removed after 'rm' returned),
	// and a directory that is not empty yet must not fail the test; it
	// is removed below, and tried again while it is busy.
	dir, err := os.MkdirTemp("", "monctl-podman-")
	if err != nil {
		t.Fatal(err)
	}
	p := &podmanEngine{dir: dir, socket: filepath.Join(dir, "xdg", "podman", "podman.sock")}
	// This sandbox's hard limits are below Podman's default nofile and
	// nproc ulimits, which runc then fails to set.
	conf := `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "` + filepath.Join(dir, "events.log") + `"
tmp_dir = "` + filepath.Join(dir, "tmp") + `"
volume_path = "` + filepath.Join(dir, "volumes") + `"
`
	if err := os.WriteFile(filepath.Join(dir, "containers.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(p.socket), 0o700)
	p.env = []string{"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf")}
	p.args = []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs",
		"--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	svc := exec.Command("podman", append(append([]string{}, p.args...), "system", "service", "--time", "0", "unix://"+p.socket)...)
	svc.Env = append(os.Environ(), p.env...)
	var logs bytes.Buffer
	svc.Stdout, svc.Stderr = &logs, &logs
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.podman(t, "rm", "-af", "-t", "0")
		svc.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { svc.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			svc.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("podman system service:\n%s", logs.String())
		}
		var err error
		for range 40 {
			if err = os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Logf("left %s behind: %v", dir, err)
	})
	waitFor(t, "Podman's API socket", 30*time.Second, func() bool {
		_, err := os.Stat(p.socket)
		return err == nil
	})
	image := filepath.Join(engines[0].Dir, "image") // the workload and Dockerfiles
	p.podman(t, "build", "-q", "--format", "docker", "-t", testengine.WorkloadImage, "-f", filepath.Join(image, "Dockerfile"), image)
	p.podman(t, "build", "-q", "--format", "docker", "-t", testengine.HealthImage, "-f", filepath.Join(image, "Dockerfile.health"), image)
	return p
}

// TestWatchPodman: Podman's Docker-compatible API serves watch, push and
// serve as Docker's does, with the same numbers through its stats API and
// through the cgroup files, and is found where podman-docker's shim finds
// it when nothing is configured.
func TestWatchPodman(t *testing.T) {
	p := startPodman(t)
	host := "unix://" + p.socket
	for _, c := range [][]string{
		{"--name", "pod-burner", testengine.WorkloadImage, "-burn", "1"},
		{"--name", "pod-holder", "-m", "256m", testengine.WorkloadImage, "-hold", "64"},
		{"--name", "pod-health", testengine.HealthImage},
	} {
		p.podman(t, append([]string{"run", "-d", "--network", "none"}, c...)...)
	}
	// Podman runs health checks from systemd timers, which this sandbox
	// has not: run the check as the timer would.
	waitFor(t, "pod-health to pass its check", 30*time.Second, func() bool {
		cmd := exec.Command("podman", append(append([]string{}, p.args...), "healthcheck", "run", "pod-health")...)
		cmd.Env = append(os.Environ(), p.env...)
		return cmd.Run() == nil
	})
	burnerPID := strings.TrimSpace(p.podman(t, "inspect", "-f", "{{.State.Pid}}", "pod-burner"))
	time.Sleep(time.Second) // the holder has touched its memory

	track := trackCPU(t, burnerPID)
	bySource := map[string]map[string]ctr{}
	for _, source := range []string{"api", "cgroup"} {
		out, errOut, code := monctlEnv(t, noEngineEnv(t.TempDir()),
			"watch", "containers", "--count", "2", "--interval", "1s", "-o", "jsonl", "--filter", "name=^pod-", "-H", host, "--stats-source", source)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", source, code, errOut)
		}
		w := lastWindow(t, out)
		m := map[string]ctr{}
		for name, r := range w {
			m[name] = r.ctr
		}
		bySource[source] = m
		if len(m) != 3 {
			t.Fatalf("%s: want the 3 pod- containers, got %+v", source, out)
		}
		// One core is 100%, judged against the process's own CPU time
		// over exactly the window monctl measured: a busy machine gives
		// the burner less than a core, and another window another share.
		if ref, ok := agreesWithTrack(t, track, w["pod-burner"], overWallClock); !ok || ref < 5 {
			t.Errorf("%s: burner CPU %.1f%%; its own CPU time over the same window says %.1f%%", source, w["pod-burner"].CPUPercent, ref)
		}
		if c := m["pod-holder"]; math.Abs(c.MemoryUsed-64<<20) > 0.1*(64<<20) || c.MemoryLimit != 256<<20 {
			t.Errorf("%s: holder memory %.0f of %.0f bytes, want 64 MiB ± 10%% of 256 MiB", source, c.MemoryUsed, c.MemoryLimit)
		}
		if h := m["pod-health"]; h.Health != "healthy" || h.State != "running" || h.Host != host {
			t.Errorf("%s: pod-health %+v, want running, healthy, on %s", source, h, host)
		}
	}
	if api, files := bySource["api"]["pod-holder"], bySource["cgroup"]["pod-holder"]; api.PIDs != files.PIDs || api.BlkRead != files.BlkRead {
		t.Errorf("the stats API and the cgroup files disagree on the holder:\n%+v\n%+v", api, files)
	}

	// Nothing configured: Docker's socket when there is one, else the
	// user's Podman socket under XDG_RUNTIME_DIR.
	want := host
	if _, err := os.Stat("/var/run/docker.sock"); err == nil {
		want = "unix:///var/run/docker.sock"
	}
	out, errOut, code := monctlEnv(t, append(noEngineEnv(t.TempDir()), "XDG_RUNTIME_DIR="+filepath.Join(p.dir, "xdg")),
		"watch", "containers", "--once", "-o", "json", "--filter", "name=^pod-")
	var recs []ctr
	if code == 0 {
		if err := json.Unmarshal([]byte(out), &recs); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	got := errOut // the socket named in the error, when Docker's is dead
	if len(recs) > 0 {
		got = recs[0].Host
	}
	if !strings.Contains(got, want) || want == host && (code != 0 || len(recs) != 3) {
		t.Errorf("with nothing configured: exit %d, %s, %+v; want %s", code, errOut, recs, want)
	}

	// push sends Podman's containers to a real Pushgateway.
	pgw := startPushgateway(t)
	if st, errOut, code := pushJSON(t, "--queue-dir", "", "--pushgateway", "http://"+pgw, "--job", "podman", "--containers", "-H", host); code != 0 || len(st) != 1 || st[0].Sent == 0 {
		t.Errorf("push: exit %d, %+v: %s", code, st, errOut)
	}
	resp, err := http.Get("http://" + pgw + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`(?m)^monctl_container_cpu_usage_seconds_total\{[^}]*name="pod-burner"`).Match(body) {
		t.Errorf("the Pushgateway has no CPU of Podman's burner:\n%s", body)
	}

	// serve exposes Podman's containers to a real Prometheus.
	srv := startServe(t, []string{"DOCKER_HOST=" + host})
	promURL := startPrometheus(t, srv.addr)
	for _, c := range []struct{ what, query string }{
		{"Podman's burner burns a CPU", `rate(monctl_container_cpu_usage_seconds_total{name="pod-burner"}[30s]) > 0.05`},
		{"Podman's holder holds its memory", `monctl_container_memory_working_set_bytes{name="pod-holder"} > 60e6`},
		{"the collector reads Podman's containers", `monctl_collector_success{collector="containers"} == 1`},
	} {
		waitFor(t, c.what+" ("+c.query+")", 60*time.Second, func() bool { return len(promQuery(t, promURL, c.query)) > 0 })
	}
}
