//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/testengine"
)

// TestScrapeAContainerOnTheHostNetwork: a container of the sandboxed
// engine with --network host serves an exposition on the host's loopback
// (the workload's -http mode, what discovery will find by its labels);
// monctl scrapes it there, and sees it go when the container stops.
func TestScrapeAContainerOnTheHostNetwork(t *testing.T) {
	e := engines[len(engines)-1]
	port := freePort(t)
	name := "hostnet-target"
	if _, err := e.Docker("run", "-d", "--network", "host", "--name", name, "--label", "prometheus.io/scrape=true",
		"--label", fmt.Sprintf("prometheus.io/port=%d", port), testengine.WorkloadImage,
		"-http", fmt.Sprintf("127.0.0.1:%d", port), "-path", "/custom"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Docker("rm", "-f", name) })
	url := fmt.Sprintf("http://127.0.0.1:%d/custom", port)
	var out string
	waitFor(t, "the container's exposition", 30*time.Second, func() bool {
		var code int
		out, _, code = monctl(t, "scrape", "-o", "prom", url)
		return code == 0
	})
	if !strings.Contains(out, "workload_scrapes_total") || !strings.Contains(out, "workload_info{") {
		t.Errorf("scrape of %s:\n%s", url, out)
	}
	if _, err := e.Docker("stop", "-t", "1", name); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := monctl(t, "scrape", url); code != 1 || !strings.Contains(errOut, "connection refused") {
		t.Errorf("after the container stopped: exit %d, %s", code, errOut)
	}
}
