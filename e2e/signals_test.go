//go:build e2e

package e2e

import (
	"bytes"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSignalsCancelInFlightScrapes sends SIGINT and SIGTERM to a monctl
// waiting on a target that never answers: it must stop at once with 130 or
// 143, not wait for its timeout.
func TestSignalsCancelInFlightScrapes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		says string
	}{{syscall.SIGINT, 130, "interrupted (SIGINT)"}, {syscall.SIGTERM, 143, "terminated (SIGTERM)"}} {
		cmd := exec.Command(monctlBin, "scrape", "--timeout", "30s", "http://"+l.Addr().String()+"/metrics")
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		sent := time.Now()
		cmd.Process.Signal(tc.sig)
		err := cmd.Wait()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != tc.code {
			t.Errorf("%v: got %v, want exit %d", tc.sig, err, tc.code)
		}
		// Not a timing goal: the scrape's timeout is 30 s, so stopping
		// well before it shows the signal cancelled the scrape.
		if d := time.Since(sent); d > 15*time.Second {
			t.Errorf("%v: took %v to stop; the scrape was not cancelled", tc.sig, d)
		}
		if !strings.Contains(errOut.String(), tc.says) {
			t.Errorf("%v: stderr %q", tc.sig, errOut.String())
		}
	}
}
