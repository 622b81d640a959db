//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bigExposition writes a text exposition of n series to a file.
func bigExposition(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "big.prom")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# TYPE big gauge")
	for i := range n {
		fmt.Fprintf(w, "big{series=\"%08d\",pad=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"} %d\n", i, i)
	}
	w.Flush()
	f.Close()
	return p
}

// TestServeStalledClientsFreeTheirSlots: clients that ask for /metrics
// and never read, or hold idle connections, cannot keep a Prometheus out
// for longer than the write and idle timeouts (issue 9, item 2).
func TestServeStalledClientsFreeTheirSlots(t *testing.T) {
	target := bigExposition(t, 100000) // ~8 MB: more than socket buffers hold
	p := startServe(t, nil, "--containers=false", "--target", target, "--web.max-requests", "2",
		"--scrape-timeout", "5s", "--web.write-timeout", "6s", "--web.idle-timeout", "2s", "--web.read-header-timeout", "3s",
		"--web.disable-exporter-metrics")
	base := "http://" + p.addr

	// Two clients take both slots and read no more than the first byte
	// of their answers: that byte says the server is writing to them, so
	// that the scrape below cannot take a slot before they do.
	for range 2 {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != nil {
			t.Fatalf("a stalled client got no answer: %v", err)
		}
	}
	// While they hold the slots (well within the 6 s write timeout) a
	// third scrape is refused: the limit works.
	waitFor(t, "the stalled clients to hold both slots", 5*time.Second, func() bool {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	// Within the write timeout their answers are cut and the slots free.
	waitFor(t, "a scrape to get through after the stalled clients' write timeout", 15*time.Second, func() bool {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		n, _ := io.Copy(io.Discard, resp.Body)
		return resp.StatusCode == http.StatusOK && n > 1<<20
	})

	// Connections that sit idle, after a request (keep-alive) or before
	// any, are closed by the server: within --web.idle-timeout (2s) and
	// --web.read-header-timeout (3s).
	const idle = 50
	conns := make([]net.Conn, 0, 2*idle)
	for i := range 2 * idle {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i%2 == 0 {
			fmt.Fprintf(c, "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("idle connection %d (after a request: %v) was not closed by the server: %d bytes, %v", i, i%2 == 0, n, err)
		}
	}
}

// TestServeSlowAndHostileTargets: a slow target, one over a limit and one
// that is slow to parse fail alone; the healthy one is up in every answer.
func TestServeSlowAndHostileTargets(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(60 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	okFile := filepath.Join(t.TempDir(), "ok.prom")
	os.WriteFile(okFile, []byte("ok_metric 1\n"), 0o644)
	wide := filepath.Join(t.TempDir(), "wide.prom")
	var b strings.Builder
	b.WriteString("wide{")
	for i := range 50000 {
		fmt.Fprintf(&b, "l%d=\"v\",", i)
	}
	b.WriteString("} 1\n")
	os.WriteFile(wide, []byte(b.String()), 0o644)
	big := bigExposition(t, 20000)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`targets:
  - {name: ok, url: %s}
  - {name: slow, url: %s}
  - {name: wide, url: %s}
  - {name: big, url: %s, sample_limit: 1000}
`, okFile, slow.URL, wide, big)), 0o644)
	p := startServe(t, []string{"MONCTL_CONFIG=" + cfg}, "--containers=false", "--scrape-timeout", "4s")
	base := "http://" + p.addr

	for i, hdr := range []string{"1", "3600", "0.000001", "NaN"} {
		req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", hdr)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("scrape %d (header %s): %s", i, hdr, resp.Status)
		}
		if hdr == "0.000001" {
			continue // its own answer may have nothing in yet; what matters is the next one
		}
		for _, want := range []string{`monctl_target_up{target="ok"} 1`, `monctl_target_up{target="slow"} 0`,
			`monctl_target_up{target="big"} 0`, `monctl_target_up{target="wide"} 1`, `ok_metric{target="ok"} 1`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("scrape %d (header %s) after %s lacks %s", i, hdr, took, want)
			}
		}
		if took > 5*time.Second+500*time.Millisecond {
			t.Errorf("scrape %d (header %s) took %s, past --scrape-timeout", i, hdr, took)
		}
	}
	if !strings.Contains(p.log(), "sample_limit of 1000 exceeded") {
		t.Errorf("the log does not say which limit the big target broke:\n%s", p.log())
	}
}
