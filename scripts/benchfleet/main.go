// Command benchfleet measures what a fleet view costs (make bench): two
// hosts, each a sandboxed Docker engine (Debian's 20.10 and Engine 29)
// running -containers containers, each with its monctl serve, and two
// monctl push agents sending the containers every -every to a real
// Prometheus and a real VictoriaMetrics. It reports, for each path (the
// engines themselves, a hub over the two serves, each store):
//
//  1. one snapshot, 'monctl watch containers --once -o json': wall, CPU
//     and peak RSS of the client (median of -runs, interleaved);
//  2. watching for -duration at --interval -every: the client's CPU and
//     what the sources spent meanwhile above their own idle (the serves,
//     or the store), over exactly the same window;
//  3. the cost of feeding the store path: the two push agents' CPU.
//
// Run from the repository root:
//
//	go run ./scripts/benchfleet -monctl bin/monctl -dockerd29 .tools/bin/dockerd-29 -runc .tools/bin/runc-1.5 -prometheus .tools/bin/prometheus
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/monctl/monctl/internal/testengine"
)

func main() {
	monctl := flag.String("monctl", "bin/monctl", "the monctl binary")
	n := flag.Int("containers", 50, "running containers per host")
	runs := flag.Int("runs", 5, "runs of each snapshot (interleaved)")
	duration := flag.Duration("duration", 30*time.Second, "how long each path is watched")
	every := flag.Duration("every", 5*time.Second, "the agents' push interval and the watch's --interval")
	dockerd29 := flag.String("dockerd29", "", "Engine 29's dockerd (make tools)")
	runc := flag.String("runc", "", "the runc for Engine 29 (make tools)")
	prometheus := flag.String("prometheus", "", "the prometheus binary (make tools)")
	flag.Parse()
	b := &bench{every: *every}
	defer b.stop()
	err := b.setUp(*monctl, *dockerd29, *runc, *prometheus, *n)
	if err == nil {
		err = b.snapshots(*runs, 2**n)
	}
	if err == nil {
		err = b.watching(*duration)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchfleet:", err)
		b.stop()
		os.Exit(1)
	}
}

type bench struct {
	monctl     string
	every      time.Duration
	engines    []*testengine.Engine
	stops      []func()
	serves     []*exec.Cmd // the hosts' monctl serve, at addrs
	addrs      []string
	agents     []*exec.Cmd
	prom, vm   *exec.Cmd
	promURL    string
	vmURL      string
	engineArgs []string
}

func (b *bench) stop() {
	for _, c := range append(append(b.agents, b.serves...), b.prom, b.vm) {
		if c != nil && c.Process != nil {
			c.Process.Signal(syscall.SIGTERM)
			c.Wait()
		}
	}
	b.agents, b.serves, b.prom, b.vm = nil, nil, nil, nil
	for _, s := range b.stops {
		s()
	}
	b.stops = nil
}

func (b *bench) setUp(monctl, dockerd29, runc, prometheus string, n int) error {
	var err error
	if b.monctl, err = filepath.Abs(monctl); err != nil {
		return err
	}
	for _, o := range []testengine.Options{{Name: "20.10"}, {Name: "29", Dockerd: dockerd29, Runc: runc}} {
		eng, stop, err := testengine.StartInTemp(o, "./e2e/workload")
		if err != nil {
			return err
		}
		b.engines, b.stops = append(b.engines, eng), append(b.stops, stop)
		for i := range n {
			if _, err := eng.Docker("run", "-d", "--network", "none", "--name", fmt.Sprintf("fleet-%d", i), testengine.WorkloadImage); err != nil {
				return err
			}
		}
		b.engineArgs = append(b.engineArgs, "-H", eng.Host)
	}
	dir, err := os.MkdirTemp("", "benchfleet-")
	if err != nil {
		return err
	}
	b.stops = append(b.stops, func() { os.RemoveAll(dir) })
	promAddr, vmAddr := loopback(), loopback()
	b.promURL, b.vmURL = "http://"+promAddr, "http://"+vmAddr
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte("global: {}\n"), 0o600)
	if b.prom, err = startAndWait(b.promURL+"/-/ready", prometheus, "--config.file", cfg, "--web.enable-remote-write-receiver",
		"--storage.tsdb.path", filepath.Join(dir, "prom"), "--web.listen-address", promAddr); err != nil {
		return err
	}
	if b.vm, err = startAndWait(b.vmURL+"/health", "victoria-metrics", "-httpListenAddr="+vmAddr, "-storageDataPath="+filepath.Join(dir, "vm"),
		"-search.latencyOffset=0s", "-loggerLevel=ERROR"); err != nil {
		return err
	}
	for i, eng := range b.engines {
		addr := loopback()
		s, err := startAndWait("http://"+addr+"/metrics", b.monctl, "serve", "-H", eng.Host, "--web.listen-address", addr, "--web.ui=false")
		if err != nil {
			return err
		}
		b.serves, b.addrs = append(b.serves, s), append(b.addrs, addr)
		agentAddr := loopback()
		a, err := startAndWait("http://"+agentAddr+"/metrics", b.monctl, "push", "--every", b.every.String(), "--containers", "-H", eng.Host,
			"--instance", fmt.Sprintf("host-%d", i), "--remote-write", b.promURL+"/api/v1/write", "--remote-write", b.vmURL+"/api/v1/write",
			"--queue-dir", "", "--web.listen-address", agentAddr)
		if err != nil {
			return err
		}
		b.agents = append(b.agents, a)
	}
	// Two pushes in each store, so that irate has its two samples.
	time.Sleep(2*b.every + time.Second)
	return nil
}

// paths are the ways of seeing the fleet, as watch containers' flags.
func (b *bench) paths() [][2]string {
	return [][2]string{
		{"engines (-H, -H)", strings.Join(b.engineArgs, " ")},
		{"hub (--from, --from)", "--from " + b.addrs[0] + " --from " + b.addrs[1]},
		{"store: Prometheus", "--from-prometheus " + b.promURL},
		{"store: VictoriaMetrics", "--from-prometheus " + b.vmURL},
	}
}

func (b *bench) snapshots(runs, want int) error {
	fmt.Printf("\n### One snapshot of %d containers on 2 hosts: `monctl watch containers --once -o json` (median of %d, interleaved)\n\n", want, runs)
	type sample struct {
		wall, cpu time.Duration
		rss       int64
	}
	results := map[string][]sample{}
	for range runs {
		for _, p := range b.paths() {
			args := append([]string{"watch", "containers", "--once", "-o", "json"}, strings.Fields(p[1])...)
			cmd := exec.Command(b.monctl, args...)
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			start := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: %v: %s", p[0], err, errOut.String())
			}
			wall := time.Since(start)
			var recs []json.RawMessage
			if err := json.Unmarshal(out.Bytes(), &recs); err != nil || len(recs) != want {
				return fmt.Errorf("%s showed %d containers, want %d (%v)", p[0], len(recs), want, err)
			}
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			results[p[0]] = append(results[p[0]], sample{wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), ru.Maxrss})
		}
	}
	fmt.Println("| path | wall | client CPU | peak RSS | wall vs engines |\n|---|---|---|---|---|")
	var base time.Duration
	for _, p := range b.paths() {
		rs := results[p[0]]
		wall := median(rs, func(s sample) float64 { return s.wall.Seconds() })
		if base == 0 {
			base = time.Duration(wall * float64(time.Second))
		}
		fmt.Printf("| %s | %.3f s | %.3f s | %.1f MiB | %.2f× |\n", p[0], wall, median(rs, func(s sample) float64 { return s.cpu.Seconds() }),
			median(rs, func(s sample) float64 { return float64(s.rss) / 1024 }), wall/base.Seconds())
	}
	return nil
}

// watching watches each path for d at --interval every, and takes the
// CPU the client and the sources spent over the same window, next to
// the sources' CPU over a window as long with nobody watching.
func (b *bench) watching(d time.Duration) error {
	fmt.Printf("\n### Watching for %v at --interval %v: CPU seconds over the same window\n\n", d, b.every)
	fmt.Println("| path | client | engines (dockerd, containerd, shims) | serves | Prometheus | VictoriaMetrics | push agents |\n|---|---|---|---|---|---|---|")
	row := func(name string, argv []string) error {
		before, err := b.sourcesCPU()
		if err != nil {
			return err
		}
		var client float64
		if argv == nil {
			time.Sleep(d)
		} else {
			cmd := exec.Command(b.monctl, argv...)
			var errOut bytes.Buffer
			cmd.Stderr = &errOut
			if err := cmd.Start(); err != nil {
				return err
			}
			time.Sleep(d)
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			if cmd.ProcessState == nil {
				return fmt.Errorf("%s: %s", name, errOut.String())
			}
			client = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
		}
		after, err := b.sourcesCPU()
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", name, client, after[0]-before[0], after[1]-before[1], after[2]-before[2], after[3]-before[3], after[4]-before[4])
		return nil
	}
	if err := row("nobody watching", nil); err != nil {
		return err
	}
	for _, p := range b.paths() {
		args := append([]string{"watch", "containers", "-o", "jsonl", "--interval", b.every.String()}, strings.Fields(p[1])...)
		if err := row(p[0], args); err != nil {
			return err
		}
	}
	hub := loopback()
	args := []string{"serve", "--containers=false", "--target", b.addrs[0], "--target", b.addrs[1], "--web.listen-address", hub, "--web.ui.interval", b.every.String()}
	return row("hub serve's web view (--web.ui.interval)", args)
}

// sourcesCPU is the CPU seconds so far of the engines' processes, the
// serves, Prometheus, VictoriaMetrics and the agents.
func (b *bench) sourcesCPU() ([5]float64, error) {
	var out [5]float64
	for _, eng := range b.engines {
		pids, err := enginePIDs(eng.Dir)
		if err != nil {
			return out, err
		}
		for _, pid := range pids {
			out[0] += procCPU(pid)
		}
	}
	for _, c := range b.serves {
		out[1] += procCPU(c.Process.Pid)
	}
	out[2], out[3] = procCPU(b.prom.Process.Pid), procCPU(b.vm.Process.Pid)
	for _, c := range b.agents {
		out[4] += procCPU(c.Process.Pid)
	}
	return out, nil
}

// enginePIDs are the processes whose command line names the engine's
// directory: dockerd, containerd and the shims of its containers.
func enginePIDs(dir string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if bytes.Contains(cmdline, []byte(dir)) && !bytes.HasPrefix(cmdline, []byte("/workload")) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// procCPU is a process's user and system CPU seconds so far.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

func startAndWait(url, name string, args ...string) (*exec.Cmd, error) {
	cmd := exec.Command(name, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, nil
			}
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, fmt.Errorf("%s did not answer at %s: %s", filepath.Base(name), url, logs.String())
}

func loopback() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func median[T any](xs []T, f func(T) float64) float64 {
	vs := make([]float64, len(xs))
	for i, x := range xs {
		vs[i] = f(x)
	}
	slices.Sort(vs)
	return vs[len(vs)/2]
}
