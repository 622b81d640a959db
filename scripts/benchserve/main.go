// Command benchserve measures 'monctl serve' under load (make bench):
// /metrics latency with -containers running containers on a sandboxed
// Engine 29 and two re-exposed node_exporters, under -scrapers concurrent
// scrapers for -duration, next to the same load on one node_exporter's own
// /metrics as the reference point, in one run; then the web view's pages
// and JSON API under the same load, next to /metrics again; then /metrics
// as one Prometheus scrapes it, alone and while -searches clients run
// costly log searches over 10,000 lines of 1 KB, with serve's CPU over
// each window.
//
// Each scraper asks as Prometheus does (OpenMetrics or text, gzip, with
// X-Prometheus-Scrape-Timeout-Seconds) and reads the whole body.
//
// Run from the repository root:
//
//	go run ./scripts/benchserve -monctl bin/monctl -node-exporter .tools/bin/node_exporter \
//	    -dockerd29 .tools/bin/dockerd-29 -runc .tools/bin/runc-1.5
package main

import (
	"context"
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
)

func main() {
	monctl := flag.String("monctl", "bin/monctl", "the monctl binary")
	nodeExporter := flag.String("node-exporter", "", "node_exporter (make tools)")
	dockerd29 := flag.String("dockerd29", "", "Engine 29's dockerd (make tools)")
	runc := flag.String("runc", "", "the runc for Engine 29 (make tools)")
	containers := flag.Int("containers", 20, "running containers")
	scrapers := flag.Int("scrapers", 20, "concurrent scrapers")
	duration := flag.Duration("duration", 20*time.Second, "how long each endpoint is loaded")
	searches := flag.Int("searches", 8, "concurrent log searches beside /metrics")
	onlySearches := flag.Bool("only-searches", false, "measure only /metrics beside log searches")
	flag.Parse()
	if err := run(*monctl, *nodeExporter, testengine.Options{Name: "29", Dockerd: *dockerd29, Runc: *runc}, *containers, *scrapers, *duration, *searches, *onlySearches); err != nil {
		fmt.Fprintln(os.Stderr, "benchserve:", err)
		os.Exit(1)
	}
}

func run(monctl, nodeExporter string, opts testengine.Options, containers, scrapers int, duration time.Duration, searches int, onlySearches bool) error {
	eng, stopEngine, err := testengine.StartInTemp(opts, "./e2e/workload")
	if err != nil {
		return err
	}
	defer stopEngine()
	for i := range containers {
		if _, err := eng.Docker("run", "-d", "--network", "none", "--name", fmt.Sprintf("bench-%d", i), testengine.WorkloadImage); err != nil {
			return err
		}
	}

	var nodes []string
	for range 2 {
		addr, err := benchproc.FreeAddr()
		if err != nil {
			return err
		}
		stop, _, err := benchproc.StartAndWait("http://"+addr+"/metrics", nodeExporter, "--web.listen-address", addr, "--log.level", "warn")
		if err != nil {
			return err
		}
		defer stop()
		nodes = append(nodes, "http://"+addr+"/metrics")
	}
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(monctl)
	if err != nil {
		return err
	}
	stop, pid, err := benchproc.StartAndWait("http://"+addr+"/metrics", abs, "serve", "-H", eng.Host,
		"--target", nodes[0], "--target", nodes[1], "--web.listen-address", addr, "--log.level", "warn")
	if err != nil {
		return err
	}
	defer stop()
	if onlySearches {
		return searchLoad(eng, addr, pid, searches, duration)
	}

	fmt.Printf("\n### /metrics under %d concurrent scrapers for %v each (%d running containers on Engine 29, two re-exposed node_exporters)\n\n",
		scrapers, duration, containers)
	fmt.Println("| endpoint | scrapes | errors | scrapes/s | p50 | p99 | max | body (gzip) |\n|---|---|---|---|---|---|---|---|")
	for _, ep := range []struct{ name, url string }{
		{fmt.Sprintf("`monctl serve`: %d containers + 2 node_exporters", containers), "http://" + addr + "/metrics"},
		{"node_exporter v1.12.1 (reference)", nodes[0]},
	} {
		load(ep.url, scrapers, duration).row(ep.name, duration)
	}

	id, err := firstContainer("http://" + addr + "/api/v1/containers")
	if err != nil {
		return err
	}
	fmt.Printf("\n### The web view under %d concurrent clients for %v each, next to /metrics under the same load (same serve)\n\n", scrapers, duration)
	fmt.Println("| endpoint | requests | errors | requests/s | p50 | p99 | max | body (gzip if asked) |\n|---|---|---|---|---|---|---|---|")
	for _, path := range []string{"/metrics", "/api/v1/containers", "/api/v1/targets", "/", "/containers/" + id, "/api/v1/containers/" + id + "/logs?tail=100"} {
		load("http://"+addr+path, scrapers, duration).row("`"+path+"`", duration)
	}
	return searchLoad(eng, addr, pid, searches, duration)
}

// searchLoad measures /metrics as one Prometheus scrapes it, alone and
// while n clients search a container's 10,000 lines of 1 KB with a costly
// pattern, each with serve's CPU over the same window.
func searchLoad(eng *testengine.Engine, addr string, pid, n int, d time.Duration) error {
	if _, err := eng.Docker("run", "-d", "--network", "none", "--name", "bench-talker", testengine.WorkloadImage,
		"-log-lines", "10000", "-log-rate", "5000", "-log-pad", "1000"); err != nil {
		return err
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		out, _ := eng.Docker("logs", "--tail", "5", "bench-talker")
		if strings.Contains(out, "line 9999 ") {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench-talker did not log its 10,000 lines")
		}
	}
	var id string
	for deadline := time.Now().Add(30 * time.Second); id == "" && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		id, _ = containerID("http://"+addr+"/api/v1/containers", "bench-talker")
	}
	if id == "" {
		return fmt.Errorf("the web view does not list bench-talker")
	}
	search := "http://" + addr + "/api/v1/containers/" + id + "/logs?tail=10000&grep=" + url.QueryEscape(`(\w+\s?){300}`)
	fmt.Printf("\n### /metrics as one Prometheus scrapes it, alone and beside %d clients searching 10,000 lines of 1 KB for `(\\w+\\s?){300}` (%v each)\n\n", n, d)
	fmt.Println("| while | scrapes | p50 | p99 | max | serve CPU | searches: 200 | 429 | other |\n|---|---|---|---|---|---|---|---|---|")
	for _, with := range []int{0, n} {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		statuses := map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range with {
			wg.Go(func() {
				for ctx.Err() == nil {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, search, nil)
					resp, err := http.DefaultClient.Do(req)
					code := 0
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						code = resp.StatusCode
					}
					if ctx.Err() == nil {
						mu.Lock()
						statuses[code]++
						mu.Unlock()
					}
					if code == http.StatusTooManyRequests {
						time.Sleep(50 * time.Millisecond) // as a client told to come back would
					}
				}
			})
		}
		before, _ := benchproc.ProcessCPU(pid)
		start := time.Now()
		r := load("http://"+addr+"/metrics", 1, d)
		after, _ := benchproc.ProcessCPU(pid)
		cpu := (after - before) / time.Since(start).Seconds()
		cancel()
		wg.Wait()
		other := 0
		for code, k := range statuses {
			if code != http.StatusOK && code != http.StatusTooManyRequests {
				other += k
			}
		}
		fmt.Printf("| %d searches | %d | %.1f ms | %.1f ms | %.1f ms | %.2f cores | %d | %d | %d |\n", with, len(r.lat),
			ms(r.quantile(0.5)), ms(r.quantile(0.99)), ms(r.quantile(1)), cpu, statuses[http.StatusOK], statuses[http.StatusTooManyRequests], other)
	}
	return nil
}

// containerID is the ID of the container the web view lists as name.
func containerID(url, name string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var list struct {
		Containers []struct{ ID, Name string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return "", err
	}
	for _, c := range list.Containers {
		if c.Name == name {
			return c.ID, nil
		}
	}
	return "", nil
}

func (r *result) row(name string, d time.Duration) {
	fmt.Printf("| %s | %d | %d | %.0f | %.1f ms | %.1f ms | %.1f ms | %d B |\n", name, len(r.lat), r.errors,
		float64(len(r.lat))/d.Seconds(), ms(r.quantile(0.5)), ms(r.quantile(0.99)), ms(r.quantile(1)), r.bytes)
}

// firstContainer is the ID of a container the web view lists.
func firstContainer(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var list struct {
		Containers []struct{ ID string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list.Containers) == 0 {
		return "", fmt.Errorf("the web view lists no container: %v", err)
	}
	return list.Containers[0].ID, nil
}

type result struct {
	lat    []time.Duration
	errors int
	bytes  int64 // of the last body
}

func (r *result) quantile(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	slices.Sort(r.lat)
	return r.lat[min(len(r.lat)-1, int(q*float64(len(r.lat))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// load scrapes url from n scrapers until d is over, as Prometheus asks.
func load(url string, n int, d time.Duration) *result {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: n, DisableCompression: true}
	defer tr.CloseIdleConnections()
	var (
		mu  sync.Mutex
		r   result
		wg  sync.WaitGroup
		all []time.Duration
	)
	for range n {
		wg.Go(func() {
			var mine []time.Duration
			errs := 0
			var size int64
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1")
				req.Header.Set("Accept-Encoding", "gzip")
				req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
				t0 := time.Now()
				resp, err := tr.RoundTrip(req)
				if err == nil {
					size, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s", resp.Status)
					}
				}
				switch {
				case ctx.Err() != nil: // cut off by the end of the run
				case err != nil:
					errs++
				default:
					mine = append(mine, time.Since(t0))
				}
			}
			mu.Lock()
			all = append(all, mine...)
			r.errors += errs
			r.bytes = max(r.bytes, size)
			mu.Unlock()
		})
	}
	wg.Wait()
	r.lat = all
	return &r
}
