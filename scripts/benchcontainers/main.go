// Command benchcontainers measures 'monctl watch containers' next to
// 'docker stats' on a sandboxed Docker engine of its own (make bench), with
// monctl reading the cgroup files (--stats-source cgroup) and the engine's
// stats API (--stats-source api):
//
//  1. wall time of 'monctl watch containers --once -o json' next to
//     'docker stats --no-stream', with -large running containers;
//  2. CPU seconds spent by the client plus the engine (dockerd, containerd
//     and its shims) over -duration of 'monctl watch containers -o jsonl
//     --interval 1s' next to 'docker stats' streaming, with -large running
//     containers, then (Engine 29) with -huge, to see how the cost grows.
//
// Both on Debian's engine 20.10 and on Engine 29 (-dockerd29, -runc), where
// docs/architecture.md (Tests) says how the engines are sandboxed.
//
// Run from the repository root:
//
//	go run ./scripts/benchcontainers -monctl bin/monctl -dockerd29 .tools/bin/dockerd-29 -runc .tools/bin/runc-1.5
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
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
	large := flag.Int("large", 50, "running containers")
	huge := flag.Int("huge", 200, "running containers for the second CPU comparison, on Engine 29 (0: none)")
	runs := flag.Int("runs", 5, "runs of each one-snapshot command (interleaved)")
	duration := flag.Duration("duration", 60*time.Second, "how long each client watches for the CPU comparison")
	dockerd29 := flag.String("dockerd29", "", "Engine 29's dockerd (make tools)")
	runc := flag.String("runc", "", "the runc for Engine 29 (make tools)")
	only := flag.String("engine", "", "measure only this engine (20.10 or 29)")
	flag.Parse()
	monctlPath, err := filepath.Abs(*monctl)
	if err == nil && *only != "29" {
		err = run(monctlPath, testengine.Options{Name: "20.10"}, []int{*large}, *runs, *duration)
	}
	if err == nil && *dockerd29 != "" && *only != "20.10" {
		sizes := []int{*large}
		if *huge > *large {
			sizes = append(sizes, *huge)
		}
		err = run(monctlPath, testengine.Options{Name: "29", Dockerd: *dockerd29, Runc: *runc}, sizes, *runs, *duration)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcontainers:", err)
		os.Exit(1)
	}
}

// sources are monctl's two ways of reading a container's numbers.
var sources = []string{"cgroup", "api"}

func run(monctl string, opts testengine.Options, sizes []int, runs int, duration time.Duration) error {
	eng, stop, err := testengine.StartInTemp(opts, "./e2e/workload")
	if err != nil {
		return err
	}
	defer stop()
	os.Setenv("DOCKER_HOST", eng.Host)
	version, _ := eng.Docker("version", "--format", "engine {{.Server.Version}} (API {{.Server.APIVersion}}), docker CLI {{.Client.Version}}")
	fmt.Printf("\n# Engine %s: sandboxed %s", opts.Name, version)

	running := 0
	for i, n := range sizes {
		if err := startSleepers(eng, running, n); err != nil {
			return err
		}
		running = n
		if i == 0 {
			if err := snapshot(monctl, n, runs); err != nil {
				return err
			}
			if err := snapshotAccuracy(eng, monctl, runs); err != nil {
				return err
			}
		}
		if err := cpuTable(eng, monctl, n, duration); err != nil {
			return err
		}
	}
	return nil
}

// snapshot times one snapshot of n running containers, each way.
func snapshot(monctl string, n, runs int) error {
	fmt.Printf("\n### One snapshot, %d running containers (median of %d, interleaved)\n\n", n, runs)
	walls := map[string][]time.Duration{}
	for range runs {
		for _, src := range sources {
			d, out, err := timed(monctl, "watch", "containers", "--once", "-o", "json", "--stats-source", src)
			if err != nil {
				return err
			}
			var recs []json.RawMessage
			if err := json.Unmarshal(out, &recs); err != nil || len(recs) != n {
				return fmt.Errorf("monctl showed %d containers, want %d (%v)", len(recs), n, err)
			}
			walls[src] = append(walls[src], d)
		}
		d, _, err := timed("docker", "stats", "--no-stream")
		if err != nil {
			return err
		}
		walls["docker"] = append(walls["docker"], d)
	}
	base := median(walls["docker"])
	fmt.Println("| command | wall | vs docker stats |\n|---|---|---|")
	for _, src := range sources {
		m := median(walls[src])
		fmt.Printf("| `monctl watch containers --once -o json --stats-source %s` | %.3f s | %.2f× |\n", src, m.Seconds(), m.Seconds()/base.Seconds())
	}
	fmt.Printf("| `docker stats --no-stream` | %.3f s | 1.00× |\n", base.Seconds())
	return nil
}

// snapshotAccuracy compares a busy container's CPU % in one snapshot
// (the default window) with a snapshot over a one-second window, each
// way of reading: the short window must say the same within a point or
// two. The two windows are taken one after the other, interleaved.
func snapshotAccuracy(eng *testengine.Engine, monctl string, runs int) error {
	if _, err := eng.Docker("run", "-d", "--network", "none", "--name", "bench-burner", testengine.WorkloadImage, "-burn", "1"); err != nil {
		return err
	}
	defer eng.Docker("rm", "-f", "bench-burner")
	time.Sleep(time.Second) // burning
	cpu := func(args ...string) (float64, time.Duration, error) {
		d, out, err := timed(monctl, append([]string{"watch", "containers", "--once", "-o", "json", "bench-burner"}, args...)...)
		if err != nil {
			return 0, 0, err
		}
		var recs []struct {
			CPU float64 `json:"cpu_percent"`
		}
		if err := json.Unmarshal(out, &recs); err != nil || len(recs) != 1 {
			return 0, 0, fmt.Errorf("monctl showed %s (%v)", out, err)
		}
		return recs[0].CPU, d, nil
	}
	fmt.Printf("\n### One busy container's CPU %%: one snapshot next to a one-second window (median of %d)\n\n", runs)
	fmt.Println("| stats source | snapshot: wall | snapshot: CPU % | --interval 1s: CPU % | difference (points) |\n|---|---|---|---|---|")
	for _, src := range sources {
		var short, long, diffs []float64
		var walls []time.Duration
		for range runs {
			s, d, err := cpu("--stats-source", src)
			if err != nil {
				return err
			}
			l, _, err := cpu("--stats-source", src, "--interval", "1s")
			if err != nil {
				return err
			}
			short, long, diffs, walls = append(short, s), append(long, l), append(diffs, math.Abs(s-l)), append(walls, d)
		}
		slices.Sort(short)
		slices.Sort(long)
		slices.Sort(diffs)
		fmt.Printf("| %s | %.3f s | %.1f | %.1f | %.1f |\n", src, median(walls).Seconds(), short[len(short)/2], long[len(long)/2], diffs[len(diffs)/2])
	}
	return nil
}

// cpuTable measures each client watching n running containers for d.
func cpuTable(eng *testengine.Engine, monctl string, n int, d time.Duration) error {
	fmt.Printf("\n### CPU seconds over %v of watching %d running containers\n\n", d, n)
	fmt.Println("| client | client CPU | engine CPU: dockerd + containerd + shims | total | above idle | above idle per container | total vs docker stats | above idle vs docker stats |\n|---|---|---|---|---|---|---|---|")
	type result struct {
		name           string
		client, engine float64
		parts          map[string]float64
	}
	var results []result
	// The engine's own cost with nobody watching (its shims are not
	// free), so that each client's share above it shows.
	clients := [][]string{{"sleep", "3600"}}
	for _, src := range sources {
		clients = append(clients, []string{monctl, "watch", "containers", "-o", "jsonl", "--interval", "1s", "--stats-source", src})
	}
	for _, c := range append(clients, []string{"docker", "stats"}) {
		client, parts, err := cpuOver(eng.Dir, d, c)
		if err != nil {
			return err
		}
		engine := parts["dockerd"] + parts["containerd"] + parts["shims"]
		name := strings.Join(append([]string{filepath.Base(c[0])}, c[1:]...), " ")
		if c[0] == "sleep" {
			name = "nobody watching"
		}
		results = append(results, result{name, client, engine, parts})
	}
	idle, base := results[0], results[len(results)-1]
	baseAbove := base.client + base.engine - idle.engine
	for _, r := range results {
		total := r.client + r.engine
		fmt.Printf("| `%s` | %.2f s | %.2f s = %.2f + %.2f + %.2f | %.2f s | %.2f s | %.1f ms | %.3f× | %.3f× |\n", r.name, r.client, r.engine,
			r.parts["dockerd"], r.parts["containerd"], r.parts["shims"], total, total-idle.engine, (total-idle.engine)/float64(n)*1000,
			total/(base.client+base.engine), (total-idle.engine)/baseAbove)
	}
	return nil
}

// startSleepers runs containers from..to-1 that only sleep.
func startSleepers(eng *testengine.Engine, from, to int) error {
	for i := from; i < to; i++ {
		if _, err := eng.Docker("run", "-d", "--network", "none", "--name", fmt.Sprintf("bench-%d", i), testengine.WorkloadImage); err != nil {
			return err
		}
	}
	return nil
}

func timed(name string, args ...string) (time.Duration, []byte, error) {
	cmd := exec.Command(name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, nil, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, errOut.String())
	}
	return time.Since(start), out.Bytes(), nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// cpuOver runs a client for d, then stops it with SIGTERM, and returns its
// CPU seconds and those the engine's processes spent meanwhile.
func cpuOver(dir string, d time.Duration, argv []string) (float64, map[string]float64, error) {
	before, err := engineCPU(dir)
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, nil, err
	}
	defer devnull.Close()
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = devnull, &errOut
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	time.Sleep(d)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait() // stopped by the signal: the exit status says so
	if cmd.ProcessState == nil {
		return 0, nil, fmt.Errorf("%s did not run: %s", argv[0], errOut.String())
	}
	after, err := engineCPU(dir)
	if err != nil {
		return 0, nil, err
	}
	for k := range after {
		after[k] -= before[k]
	}
	client := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return client, after, nil
}

// engineCPU sums the CPU seconds of the processes whose command line names
// the sandbox directory, by kind: dockerd, its containerd, and the
// containers' shims.
func engineCPU(dir string) (map[string]float64, error) {
	procs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, err
	}
	const ticks = 100 // USER_HZ on Linux
	total := map[string]float64{}
	for _, p := range procs {
		cmdline, err := os.ReadFile(filepath.Join(p, "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(p, "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which may hold spaces: utime and
		// stime are the 14th and 15th fields of the whole line.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		kind := "shims"
		switch name := string(stat[bytes.IndexByte(stat, '(')+1 : bytes.LastIndexByte(stat, ')')]); {
		case strings.HasPrefix(name, "dockerd"):
			kind = "dockerd"
		case name == "containerd":
			kind = "containerd"
		}
		total[kind] += (ut + st) / ticks
	}
	return total, nil
}
