// Command benchmany measures one 'monctl scrape -o json' of many targets
// next to curl fetching the same bodies: N loopback targets, each serving
// a real node_exporter's body (node_exporter is started once and its
// /metrics kept), all in this process. It runs the measure command with
// both, so that the numbers are measure's (wall, peak RSS, ratios):
//
//	benchmany -monctl BIN -node-exporter BIN -measure BIN -targets 1000
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/monctl/monctl/internal/benchproc"
)

func main() {
	monctl := flag.String("monctl", "", "the monctl binary")
	nodeExporter := flag.String("node-exporter", "", "the node_exporter binary, whose body every target serves")
	measure := flag.String("measure", "", "the measure binary (scripts/measure)")
	targets := flag.Int("targets", 1000, "loopback targets")
	concurrency := flag.Int("concurrency", 64, "monctl scrape --concurrency")
	runs := flag.Int("runs", 3, "runs of each command")
	flag.Parse()
	if err := run(*monctl, *nodeExporter, *measure, *targets, *concurrency, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "benchmany:", err)
		os.Exit(1)
	}
}

func run(monctl, nodeExporter, measure string, n, concurrency, runs int) error {
	body, err := nodeExporterBody(nodeExporter)
	if err != nil {
		return err
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(body)
	})
	var urls []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		go http.Serve(l, handler) // ends when the listener closes, at exit
		urls = append(urls, "http://"+l.Addr().String()+"/metrics")
	}
	dir, err := os.MkdirTemp("", "benchmany")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	list := filepath.Join(dir, "urls")
	if err := os.WriteFile(list, []byte(strings.Join(urls, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	// monctl takes them from a config file, so that the table's command
	// line stays short.
	config := filepath.Join(dir, "monctl.yaml")
	if err := os.WriteFile(config, []byte("targets:\n  - url: "+strings.Join(urls, "\n  - url: ")+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Printf("%d loopback targets, each serving node_exporter's body (%d bytes); monctl with --concurrency %d, curl as 16 processes of %d URLs each\n\n",
		n, len(body), concurrency, (n+15)/16)
	args := []string{"-runs", fmt.Sprint(runs), "--", monctl, "scrape", "-o", "json", "--concurrency", fmt.Sprint(concurrency), "--config", config}
	// The baseline: the fetching alone, 16 curl processes at once.
	args = append(args, "::", "sh", "-c", fmt.Sprintf("xargs -P 16 -n %d curl -s < %s", (n+15)/16, list))
	cmd := exec.Command(measure, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// nodeExporterBody starts node_exporter on loopback, reads its /metrics
// once and stops it.
func nodeExporterBody(bin string) ([]byte, error) {
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	url := "http://" + addr + "/metrics"
	stop, _, err := benchproc.StartAndWait(url, bin, "--web.listen-address="+addr)
	if err != nil {
		return nil, err
	}
	defer stop()
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
