// Command benchdiscover measures discovery (make bench): -containers
// containers labelled prometheus.io/scrape=true on a sandboxed Engine 29,
// each serving an exposition on the host network, found by
// 'monctl serve --discover docker' and by a real Prometheus with the same
// docker_sd_configs (refresh_interval -refresh, the same relabel rules).
//
//  1. The CPU of discovery itself over one window of -duration, all at
//     once: monctl serve discovering (and scraping nothing: nobody asks
//     it, and its web view is off), Prometheus discovering with every target dropped (so it
//     scrapes nothing), and each of them idle beside it as the baseline
//     (serve of one file target, Prometheus with no scrape config).
//  2. The time from a new container's start to its first sample: at
//     serve's /metrics (asked every 500 ms), at a Prometheus receiving
//     'monctl push --every REFRESH --discover docker' by remote write, and
//     at a Prometheus scraping what it discovers every REFRESH; for
//     -new containers started one after the other.
//
// Run from the repository root:
//
//	go run ./scripts/benchdiscover -monctl bin/monctl -prometheus .tools/bin/prometheus \
//	    -dockerd29 .tools/bin/dockerd-29 -runc .tools/bin/runc-1.5
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/monctl/monctl/internal/benchproc"
	"github.com/monctl/monctl/internal/testengine"
	"github.com/monctl/monctl/pkg/discovery"
)

func main() {
	monctl := flag.String("monctl", "bin/monctl", "the monctl binary")
	prometheus := flag.String("prometheus", "", "the prometheus binary (make tools)")
	dockerd29 := flag.String("dockerd29", "", "Engine 29's dockerd (make tools)")
	runc := flag.String("runc", "", "the runc for Engine 29 (make tools)")
	containers := flag.Int("containers", 200, "labelled containers")
	refresh := flag.Duration("refresh", 5*time.Second, "discovery's refresh interval, and the scrape and push interval")
	duration := flag.Duration("duration", 60*time.Second, "the window over which CPU is measured")
	fresh := flag.Int("new", 5, "containers started one after the other for the time to the first sample")
	flag.Parse()
	b := &bench{monctl: *monctl, prometheus: *prometheus, refresh: *refresh}
	if err := b.run(testengine.Options{Name: "29", Dockerd: *dockerd29, Runc: *runc}, *containers, *duration, *fresh); err != nil {
		fmt.Fprintln(os.Stderr, "benchdiscover:", err)
		os.Exit(1)
	}
}

type bench struct {
	monctl, prometheus string
	refresh            time.Duration
	eng                *testengine.Engine
	dir                string
	stops              []func()
}

func (b *bench) run(opts testengine.Options, n int, window time.Duration, fresh int) error {
	eng, stopEngine, err := testengine.StartInTemp(opts, "./e2e/workload")
	if err != nil {
		return err
	}
	defer stopEngine()
	b.eng = eng
	if b.dir, err = os.MkdirTemp("", "monctl-benchdiscover-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	defer func() {
		for _, stop := range slices.Backward(b.stops) {
			stop()
		}
	}()
	start := time.Now()
	for i := range n {
		if err := b.labelled(fmt.Sprintf("sd-%d", i)); err != nil {
			return err
		}
	}
	fmt.Printf("%d labelled containers on the host network started in %.1f s\n", n, time.Since(start).Seconds())

	// 1. CPU, all four over the same window.
	serveAddr, servePID, err := b.serve("--discover", "docker", "-H", eng.Host)
	if err != nil {
		return err
	}
	idleFile := filepath.Join(b.dir, "idle.prom")
	if err := os.WriteFile(idleFile, []byte("idle 1\n"), 0o600); err != nil {
		return err
	}
	_, idleServePID, err := b.serve("--target", idleFile)
	if err != nil {
		return err
	}
	rules := discovery.DockerRulesYAML()
	dropAll := "- {source_labels: [__meta_docker_container_label_never], regex: 'x', action: keep}\n"
	_, promPID, err := b.startPrometheus("cpu", b.dockerJob(dropAll), false)
	if err != nil {
		return err
	}
	_, idlePromPID, err := b.startPrometheus("idle", "", false)
	if err != nil {
		return err
	}
	if err := b.waitFor(fmt.Sprintf("serve to find the %d targets", n), 2*time.Minute, func() bool {
		return strings.Contains(get("http://"+serveAddr+"/metrics"), fmt.Sprintf(`monctl_discovery_targets{job="docker",state="kept"} %d`, n))
	}); err != nil {
		return err
	}
	// serve found them; the wait above asked it for /metrics, so that
	// its scrapes are over before the window starts.
	time.Sleep(2 * time.Second)
	pids := []int{servePID, idleServePID, promPID, idlePromPID}
	before := make([]float64, len(pids))
	for i, pid := range pids {
		before[i], _ = benchproc.ProcessCPU(pid)
	}
	time.Sleep(window)
	used := make([]float64, len(pids))
	for i, pid := range pids {
		after, ok := benchproc.ProcessCPU(pid)
		if !ok {
			return fmt.Errorf("process %d ended during the window", pid)
		}
		used[i] = after - before[i]
	}
	monctlDisc, promDisc := used[0]-used[1], used[2]-used[3]
	fmt.Printf("\n### CPU of discovering %d containers every %v, over the same %v window\n\n", n, b.refresh, window)
	fmt.Println("| process | CPU seconds | of which discovery (less its idle twin) |\n|---|---|---|")
	fmt.Printf("| `monctl serve --discover docker` (nobody scrapes it) | %.2f | %.2f |\n", used[0], monctlDisc)
	fmt.Printf("| `monctl serve --target FILE` (idle twin) | %.2f | |\n", used[1])
	fmt.Printf("| Prometheus, docker_sd_configs, every target dropped | %.2f | %.2f |\n", used[2], promDisc)
	fmt.Printf("| Prometheus, no scrape config (idle twin) | %.2f | |\n", used[3])
	if promDisc > 0 {
		fmt.Printf("\nmonctl's discovery / Prometheus's: %.2f\n", monctlDisc/promDisc)
	}

	// 2. Time to the first sample.
	scrapeAddr, _, err := b.startPrometheus("scrape", b.dockerJob(rules), false)
	if err != nil {
		return err
	}
	recvAddr, _, err := b.startPrometheus("receive", "", true)
	if err != nil {
		return err
	}
	stopPush, _, err := b.push(recvAddr)
	if err != nil {
		return err
	}
	b.stops = append(b.stops, stopPush)
	fmt.Printf("\n### From a container's start to its first sample (%d new containers, one at a time; discovery, scrape and push every %v)\n\n", fresh, b.refresh)
	paths := []struct {
		name string
		seen func(name string) bool
	}{
		{"`monctl serve --discover docker` (/metrics every 500 ms)", func(name string) bool {
			return strings.Contains(get("http://"+serveAddr+"/metrics"), `container="`+name+`"`)
		}},
		{"`monctl push --discover docker` → remote write", func(name string) bool { return hasSeries(recvAddr, name) }},
		{"Prometheus, docker_sd_configs (reference)", func(name string) bool { return hasSeries(scrapeAddr, name) }},
	}
	lat := make([][]time.Duration, len(paths))
	for k := range fresh {
		name := fmt.Sprintf("sd-new-%d", k)
		if err := b.labelled(name); err != nil {
			return err
		}
		started := time.Now()
		var wg sync.WaitGroup
		for i, p := range paths {
			wg.Go(func() {
				for deadline := started.Add(time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
					if p.seen(name) {
						lat[i] = append(lat[i], time.Since(started))
						return
					}
				}
			})
		}
		wg.Wait()
	}
	fmt.Printf("| path | seen | median | max | goal (one interval + 1 s) |\n|---|---|---|---|---|\n")
	for i, p := range paths {
		slices.Sort(lat[i])
		med, worst := "-", "-"
		if len(lat[i]) > 0 {
			med, worst = fmt.Sprintf("%.1f s", lat[i][len(lat[i])/2].Seconds()), fmt.Sprintf("%.1f s", lat[i][len(lat[i])-1].Seconds())
		}
		fmt.Printf("| %s | %d of %d | %s | %s | %.0f s |\n", p.name, len(lat[i]), fresh, med, worst, (b.refresh + time.Second).Seconds())
	}
	return nil
}

// labelled starts a container on the host network that serves an
// exposition on a loopback port of its own, labelled to be scraped.
func (b *bench) labelled(name string) error {
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return err
	}
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	_, err = b.eng.Docker("run", "-d", "--network", "host", "--name", name,
		"--label", "prometheus.io/scrape=true", "--label", "prometheus.io/port="+port,
		testengine.WorkloadImage, "-http", addr, "-path", "/metrics")
	return err
}

// serve starts monctl serve on the engine's discovery (or a file).
func (b *bench) serve(args ...string) (string, int, error) {
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return "", 0, err
	}
	// The web view collects every 5 s of its own: off, so that serve
	// scrapes only when asked.
	args = append([]string{"serve", "--containers=false", "--web.ui=false", "--discover-interval", b.refresh.String(),
		"--web.listen-address", addr, "--log.level", "warn"}, args...)
	stop, pid, err := benchproc.StartAndWait("http://"+addr+"/-/ready", b.monctl, args...)
	if err != nil {
		return "", 0, err
	}
	b.stops = append(b.stops, stop)
	return addr, pid, nil
}

// push starts monctl push of what it discovers to a receiver.
func (b *bench) push(recv string) (func(), int, error) {
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return nil, 0, err
	}
	// --web.listen-address gives push a /metrics to wait for.
	return benchproc.StartAndWait("http://"+addr+"/metrics", b.monctl, "push", "--every", b.refresh.String(),
		"--discover", "docker", "-H", b.eng.Host, "--discover-interval", b.refresh.String(), "--queue-dir", "",
		"--remote-write", "http://"+recv+"/api/v1/write", "--web.listen-address", addr)
}

// dockerJob is a scrape config discovering the engine's containers
// with the relabel rules given.
func (b *bench) dockerJob(rules string) string {
	indented := "      " + strings.ReplaceAll(strings.TrimSuffix(rules, "\n"), "\n", "\n      ")
	return fmt.Sprintf(`scrape_configs:
  - job_name: docker
    docker_sd_configs:
      - host: %s
        refresh_interval: %s
    relabel_configs:
%s
`, b.eng.Host, b.refresh, indented)
}

// startPrometheus starts a Prometheus with the scrape configs given,
// scraping every refresh; receive turns on its remote write receiver.
func (b *bench) startPrometheus(name, scrapeConfigs string, receive bool) (string, int, error) {
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return "", 0, err
	}
	dir := filepath.Join(b.dir, "prometheus-"+name)
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, err
	}
	global := fmt.Sprintf("global:\n  scrape_interval: %s\n  scrape_timeout: %s\n", b.refresh, b.refresh)
	if err := os.WriteFile(cfg, []byte(global+scrapeConfigs), 0o600); err != nil {
		return "", 0, err
	}
	args := []string{"--config.file", cfg, "--storage.tsdb.path", filepath.Join(dir, "data"), "--web.listen-address", addr, "--log.level", "warn"}
	if receive {
		args = append(args, "--web.enable-remote-write-receiver")
	}
	stop, pid, err := benchproc.StartAndWait("http://"+addr+"/-/ready", b.prometheus, args...)
	if err != nil {
		return "", 0, err
	}
	b.stops = append(b.stops, stop)
	return addr, pid, nil
}

func (b *bench) waitFor(what string, d time.Duration, cond func() bool) error {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if cond() {
			return nil
		}
	}
	return fmt.Errorf("timed out waiting for %s", what)
}

// hasSeries says whether Prometheus at addr has a sample of the
// workload's from container name.
func hasSeries(addr, name string) bool {
	var r struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	q := `workload_scrapes_total{container="` + name + `"}`
	return json.Unmarshal([]byte(get("http://"+addr+"/api/v1/query?query="+url.QueryEscape(q))), &r) == nil && len(r.Data.Result) > 0
}

func get(u string) string {
	resp, err := http.Get(u)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
