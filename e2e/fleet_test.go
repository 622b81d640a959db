//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/testengine"
	"github.com/monctl/monctl/pkg/containers"
)

// fleetRow is what a fleet view must say of a container.
type fleetRow struct {
	host, name string
	minMemory  uint64
	busy       bool // burns a CPU: its CPU % is well above 0
}

// checkFleet fails unless rows hold each of want, running, under its host,
// with its image and at least its memory, and nothing of another host.
func checkFleet(t *testing.T, what string, rows []containers.Stats, hosts []string, want ...fleetRow) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, r := range rows {
			if r.Name != w.name {
				continue
			}
			found = true
			if r.Host != w.host || r.State != "running" || r.Image != testengine.WorkloadImage || r.MemoryUsed < w.minMemory ||
				r.MemoryLimit == 0 || r.PIDs == 0 || r.UptimeSeconds <= 0 || len(r.ID) != 64 || w.busy && r.CPUPercent < 5 {
				t.Errorf("%s: %s: %+v", what, w.name, r)
			}
		}
		if !found {
			t.Errorf("%s: no %s among %d rows", what, w.name, len(rows))
		}
	}
	for _, r := range rows {
		if !strings.Contains(strings.Join(hosts, " "), r.Host) {
			t.Errorf("%s: %s is under %q, not one of %q", what, r.Name, r.Host, hosts)
		}
	}
}

// watchFleet runs watch containers --once -o json with args.
func watchFleet(t *testing.T, args ...string) []containers.Stats {
	t.Helper()
	out, errOut, code := monctl(t, append([]string{"watch", "containers", "--once", "-o", "json"}, args...)...)
	var rows []containers.Stats
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil {
		t.Fatalf("watch containers %s: exit %d, %v: %s%s", strings.Join(args, " "), code, err, out, errOut)
	}
	return rows
}

// apiContainers reads a serve's /api/v1/containers.
func apiContainers(t *testing.T, addr string) []containers.Stats {
	t.Helper()
	var body struct {
		Containers []containers.Stats `json:"containers"`
	}
	getJSON(t, "http://"+addr+"/api/v1/containers", &body)
	return body.Containers
}

// TestFleetView: the containers of two sandboxed engines, each as one
// host of a fleet, in one view, both ways. A hub: monctl serve
// re-exposing each host's monctl serve shows them in its web view's API
// grouped by host, and watch containers --from does in the terminal. A
// store: two push agents send them to a real Prometheus and a real
// VictoriaMetrics, and watch containers --from-prometheus and serve
// --from-prometheus read them back from either, each under its agent's
// instance.
func TestFleetView(t *testing.T) {
	a, b := engines[0], engines[len(engines)-1]
	runContainer(t, a, "fleet-a", nil, testengine.WorkloadImage, "-hold", "24")
	runContainer(t, b, "fleet-b", nil, testengine.WorkloadImage, "-hold", "40", "-burn", "1")
	waitReady(t, a, "fleet-a")
	waitReady(t, b, "fleet-b")
	want := func(hostA, hostB string) []fleetRow {
		return []fleetRow{{hostA, "fleet-a", 20 << 20, false}, {hostB, "fleet-b", 36 << 20, true}}
	}

	t.Run("hub", func(t *testing.T) {
		serveA := startServe(t, []string{"DOCKER_HOST=" + a.Host}, "--web.ui.interval", "1s")
		serveB := startServe(t, []string{"DOCKER_HOST=" + b.Host}, "--web.ui.interval", "1s")
		hosts := []string{serveA.addr, serveB.addr}
		hub := startServe(t, nil, "--containers=false", "--target", serveA.addr, "--target", serveB.addr, "--web.ui.interval", "1s")
		var rows []containers.Stats
		waitFor(t, "the hub's first rounds, with rates", 20*time.Second, func() bool {
			rows = apiContainers(t, hub.addr)
			return len(rows) >= 2 && slices.ContainsFunc(rows, func(s containers.Stats) bool { return s.CPUPercent > 0 })
		})
		checkFleet(t, "the hub's API", rows, hosts, want(serveA.addr, serveB.addr)...)
		for i := 1; i < len(rows); i++ {
			if rows[i-1].Host > rows[i].Host {
				t.Errorf("the hub's rows are not grouped by host: %s after %s", rows[i].Host, rows[i-1].Host)
			}
		}
		checkFleet(t, "watch --from", watchFleet(t, "--from", serveA.addr, "--from", "http://"+serveB.addr+"/metrics"), hosts, want(serveA.addr, serveB.addr)...)

		// The live view in a terminal: both hosts in one table, sorted by
		// memory on m, and a banner while a host's serve is gone.
		x := newTerminal(t, 160, 20, nil, "watch", "containers", "--from", serveA.addr, "--from", serveB.addr, "--interval", "1s")
		x.waitScreen("both hosts' containers", func(s string) bool {
			return strings.Contains(s, "fleet-a") && strings.Contains(s, "fleet-b") && strings.Contains(s, serveB.addr) && strings.Contains(s, "(monctl serve)")
		})
		x.keys("m")
		screen := x.waitScreen("the rows sorted by memory", func(s string) bool {
			return strings.Index(s, "fleet-b") >= 0 && strings.Index(s, "fleet-b") < strings.Index(s, "fleet-a")
		})
		x.fitsWidth(screen, 160)
		serveB.cmd.Process.Signal(syscall.SIGTERM)
		x.waitScreen("a banner for the host that went away", func(s string) bool {
			return strings.Contains(s, "the monctl serve at http://"+serveB.addr+"/metrics is not answering") && strings.Contains(s, "fleet-a") && !strings.Contains(s, "fleet-b")
		})
		x.keys("q")
		if code := x.exitCode(); code != 0 {
			t.Errorf("q: exit %d", code)
		}
	})

	t.Run("store", func(t *testing.T) {
		prom := startPrometheusReceiver(t)
		vm := loopback(t)
		startVictoria(t, vm, t.TempDir())
		for _, agent := range []struct {
			e        *testengine.Engine
			instance string
		}{{a, "host-a"}, {b, "host-b"}} {
			addr := loopback(t)
			start(t, "http://"+addr+"/metrics", monctlBin, "push", "--every", "1s", "--containers", "-H", agent.e.Host, "--instance", agent.instance,
				"--remote-write", "http://"+prom+"/api/v1/write", "--remote-write", "http://"+vm+"/api/v1/write",
				"--queue-dir", "", "--web.listen-address", addr)
		}
		hosts := []string{"host-a", "host-b"}
		for _, store := range []string{"http://" + prom, "http://" + vm} {
			var rows []containers.Stats
			waitFor(t, "both hosts' containers in "+store, 30*time.Second, func() bool {
				out, _, code := monctl(t, "watch", "containers", "--once", "-o", "json", "--from-prometheus", store)
				rows = nil
				json.Unmarshal([]byte(out), &rows)
				return code == 0 && len(rows) >= 2
			})
			// Rates need two samples in the store: one more push.
			time.Sleep(2 * time.Second)
			rows = watchFleet(t, "--from-prometheus", store)
			checkFleet(t, "watch --from-prometheus "+store, rows, hosts, want("host-a", "host-b")...)

			serve := startServe(t, nil, "--from-prometheus", store, "--web.ui.interval", "1s")
			waitFor(t, "serve --from-prometheus "+store, 20*time.Second, func() bool { return len(apiContainers(t, serve.addr)) >= 2 })
			checkFleet(t, "serve --from-prometheus "+store, apiContainers(t, serve.addr), hosts, want("host-a", "host-b")...)
			fams := metricsOf(t, http.DefaultClient, "http://"+serve.addr+"/metrics")
			if v, ok := sample(fams, "monctl_container_memory_working_set_bytes", "host", "host-b", "name", "fleet-b"); !ok || v < 36<<20 {
				t.Errorf("serve --from-prometheus %s's /metrics: fleet-b's memory %v, %v", store, v, ok)
			}
		}
		// A store that is not there: exit 1, said.
		_, errOut, code := monctl(t, "watch", "containers", "--once", "--from-prometheus", "http://"+loopback(t))
		if code != 1 || !strings.Contains(errOut, "the Prometheus API at http://127.0.0.1:") {
			t.Errorf("a store that is not there: exit %d: %s", code, errOut)
		}
	})
}
