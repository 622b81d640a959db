package push

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/monctl/monctl/internal/cli/cmdutil"
)

// BenchmarkPushRound is 'monctl push --every' as scripts/benchpush runs
// it, all of it in the process, for b.N rounds: 50 loopback targets of
// 1500 counters each (benchpush's exposition) scraped, labelled with job
// and instance, encoded and sent to a remote-write receiver that takes
// everything. Rounds come every 100ms (the shortest --every), so ns/op
// is that; what it is for is B/op, allocs/op and the profile of the
// agent's steady state. benchpush gives the CPU per sample beside
// vmagent's.
func BenchmarkPushRound(b *testing.B) {
	var body bytes.Buffer
	for f := 0; f < 30; f++ {
		fmt.Fprintf(&body, "# HELP bench_metric_%d_total A counter.\n# TYPE bench_metric_%d_total counter\n", f, f)
		for i := 0; i < 50; i++ {
			fmt.Fprintf(&body, "bench_metric_%d_total{cpu=\"%d\",mode=\"m%d\"} %d\n", f, i%8, i, f*1000+i)
		}
	}
	const targets = 50 // one request each a round: 1500 series is under a request's 2000
	args := []string{"--queue-dir", "", "--concurrency", "50", "--every", "100ms"}
	for range targets {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			w.Write(body.Bytes())
		}))
		defer srv.Close()
		args = append(args, srv.URL+"/metrics")
	}
	var requests atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rounds int64
	rw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if requests.Add(1) >= rounds*targets {
			cancel()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rw.Close()
	args = append(args, "--remote-write", rw.URL+"/api/v1/write")
	f := cmdutil.NewFactory(cmdutil.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
	b.ReportAllocs()
	rounds = int64(b.N)
	cmd := NewCmd(f)
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	_ = cmd.ExecuteContext(ctx) // stopped by cancel, gracefully
	if sent := requests.Load(); sent < rounds*targets {
		b.Fatalf("the receiver got %d requests, want %d", sent, rounds*targets)
	}
}
