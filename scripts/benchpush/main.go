// Command benchpush measures 'monctl push --every' next to vmagent and
// Prometheus in agent mode, in one run, on loopback: the same targets
// (servers of this program, each serving a node_exporter-sized
// exposition) scraped every second for -duration and written to a
// VictoriaMetrics of their own over remote write. For each it reports CPU
// seconds per million samples delivered, peak RSS, and the samples served
// but not delivered.
//
//	go run ./scripts/benchpush -monctl bin/monctl -prometheus .tools/bin/prometheus
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	monctl := flag.String("monctl", "bin/monctl", "the monctl binary")
	prometheus := flag.String("prometheus", ".tools/bin/prometheus", "Prometheus v0.307.3 (make tools)")
	targets := flag.Int("targets", 50, "how many targets")
	series := flag.Int("series", 1500, "series per target")
	duration := flag.Duration("duration", 60*time.Second, "how long each contender runs")
	only := flag.String("only", "", "run only the contenders whose name has this in it (to try a change; make bench runs all)")
	flag.Parse()
	if err := run(*monctl, *prometheus, *targets, *series, *duration, *only); err != nil {
		fmt.Fprintln(os.Stderr, "benchpush:", err)
		os.Exit(1)
	}
}

// result is one contender's run.
type result struct {
	name               string
	cpu                time.Duration
	maxRSSKiB          int64
	served, delivered  int64
	cpuPerMillion      float64
	servedButNotStored int64
}

func run(monctl, prometheus string, n, series int, duration time.Duration, only string) error {
	body := exposition(series)
	var served atomic.Int64
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
		go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			served.Add(1)
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			w.Write(body)
		}))
	}
	type contender struct {
		name string
		cmd  func(dir, write string) (*exec.Cmd, error)
	}
	contenders := []contender{
		{"monctl push --every 1s", func(dir, write string) (*exec.Cmd, error) {
			args := []string{"push", "--every", "1s", "--concurrency", strconv.Itoa(n), "--queue-dir", dir, "--remote-write", write}
			return exec.Command(monctl, append(args, addrs...)...), nil
		}},
		{"vmagent", func(dir, write string) (*exec.Cmd, error) {
			cfg, err := scrapeConfig(dir, addrs, "")
			return exec.Command("vmagent", "-promscrape.config="+cfg, "-remoteWrite.url="+write, "-httpListenAddr="+freeAddr(),
				"-remoteWrite.tmpDataPath="+filepath.Join(dir, "vmagent"), "-loggerLevel=ERROR"), err
		}},
		{"prometheus --agent", func(dir, write string) (*exec.Cmd, error) {
			cfg, err := scrapeConfig(dir, addrs, "remote_write:\n  - url: "+write+"\n")
			return exec.Command(prometheus, "--agent", "--config.file="+cfg, "--storage.agent.path="+filepath.Join(dir, "agent"),
				"--web.listen-address="+freeAddr(), "--log.level=error"), err
		}},
	}
	var results []result
	contenders = slices.DeleteFunc(contenders, func(c contender) bool { return !strings.Contains(c.name, only) })
	if len(contenders) == 0 {
		return fmt.Errorf("no contender's name has %q in it", only)
	}
	for _, c := range contenders {
		dir, err := os.MkdirTemp("", "monctl-benchpush-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		vm, stopVM, err := startVictoria(filepath.Join(dir, "vm"))
		if err != nil {
			return err
		}
		cmd, err := c.cmd(dir, "http://"+vm+"/api/v1/write")
		if err != nil {
			stopVM()
			return err
		}
		fmt.Fprintf(os.Stderr, "benchpush: %s, %d targets × %d series every 1s for %s…\n", c.name, n, series, duration)
		before := served.Load()
		if err := cmd.Start(); err != nil {
			stopVM()
			return fmt.Errorf("%s: %w", c.name, err)
		}
		time.Sleep(duration)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		scrapes := served.Load() - before
		r := result{name: c.name, served: scrapes * int64(series)}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			r.maxRSSKiB = ru.Maxrss
		}
		r.delivered, err = delivered(vm)
		stopVM()
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		r.cpuPerMillion = r.cpu.Seconds() / (float64(r.delivered) / 1e6)
		r.servedButNotStored = r.served - r.delivered
		results = append(results, r)
	}
	fmt.Printf("%d targets × %d series, scraped every 1s for %s, remote write to VictoriaMetrics on loopback\n\n", n, series, duration)
	fmt.Printf("| %-22s | %14s | %12s | %12s | %14s | %18s | %17s |\n", "contender", "CPU s", "samples served", "delivered", "CPU s / M samples", "peak RSS (MiB)", "served, not stored")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range results {
		fmt.Printf("| %-22s | %14.2f | %12d | %12d | %14.3f | %18.1f | %17d |\n", r.name, r.cpu.Seconds(), r.served, r.delivered, r.cpuPerMillion, float64(r.maxRSSKiB)/1024, r.servedButNotStored)
	}
	base := results[0]
	for _, r := range results[1:] {
		fmt.Printf("\n%s / %s: CPU per sample %.2f×, peak RSS %.2f×", base.name, r.name, base.cpuPerMillion/r.cpuPerMillion, float64(base.maxRSSKiB)/float64(r.maxRSSKiB))
	}
	fmt.Println()
	return nil
}

// exposition is a node_exporter-sized text exposition: counters and
// gauges with a few labels each.
func exposition(series int) []byte {
	var b bytes.Buffer
	for f := 0; f*50 < series; f++ {
		fmt.Fprintf(&b, "# HELP bench_metric_%d_total A counter.\n# TYPE bench_metric_%d_total counter\n", f, f)
		for i := 0; i < 50 && f*50+i < series; i++ {
			fmt.Fprintf(&b, "bench_metric_%d_total{cpu=\"%d\",mode=\"m%d\"} %d\n", f, i%8, i, f*1000+i)
		}
	}
	return b.Bytes()
}

func scrapeConfig(dir string, addrs []string, extra string) (string, error) {
	var ts []string
	for _, a := range addrs {
		ts = append(ts, strconv.Quote(a))
	}
	cfg := "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: [" +
		strings.Join(ts, ", ") + "]\n" + extra
	p := filepath.Join(dir, "scrape.yml")
	return p, os.WriteFile(p, []byte(cfg), 0o644)
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

func startVictoria(dir string) (string, func(), error) {
	addr := freeAddr()
	cmd := exec.Command("victoria-metrics", "-httpListenAddr="+addr, "-storageDataPath="+dir, "-search.latencyOffset=0s",
		"-search.disableCache", "-loggerLevel=ERROR")
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("victoria-metrics (make sink-servers installs it): %w", err)
	}
	stop := func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }
	for range 100 {
		if resp, err := http.Get("http://" + addr + "/health"); err == nil {
			resp.Body.Close()
			return addr, stop, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return "", nil, errors.New("victoria-metrics did not come up")
}

// delivered is how many bench_ samples VictoriaMetrics holds, once the
// count has stopped growing.
func delivered(vm string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	last := int64(-1)
	for ctx.Err() == nil {
		http.Get("http://" + vm + "/internal/force_flush")
		time.Sleep(2 * time.Second)
		q := url.QueryEscape(`sum(count_over_time({__name__=~"bench_.*"}[1h]))`)
		resp, err := http.Get("http://" + vm + "/api/v1/query?query=" + q)
		if err != nil {
			return 0, err
		}
		var v struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		n := int64(0)
		if len(v.Data.Result) == 1 {
			f, _ := strconv.ParseFloat(fmt.Sprint(v.Data.Result[0].Value[1]), 64)
			n = int64(f)
		}
		if n == last {
			return n, nil
		}
		last = n
	}
	return last, ctx.Err()
}
