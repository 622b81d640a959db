package exporter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monctl/monctl/pkg/exposition"
)

// BenchmarkHugeTarget serves a target of 1M series (issue 9, item 3) and
// reports the heap at its peak during the scrapes and what is left after
// them, with no limit and with a sample_limit that refuses the target.
// Run it with -benchtime 3x.
func BenchmarkHugeTarget(b *testing.B) {
	var body bytes.Buffer
	body.WriteString("# TYPE big gauge\n")
	for i := range 1000000 {
		fmt.Fprintf(&body, "big{series=\"%08d\",pod=\"pod-%d\"} %d\n", i, i%1000, i)
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write(body.Bytes())
	}))
	defer target.Close()

	for _, tc := range []struct {
		name   string
		limits exposition.Limits
	}{{"no-limit", exposition.Limits{}}, {"sample_limit=100000", exposition.Limits{Samples: 100000}}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e, err := New(ctx, Options{Targets: []exposition.Target{exposition.NewTarget(target.URL)},
				Scraper: &exposition.Scraper{Limits: tc.limits}, ScrapeTimeout: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			h, _ := e.Handler(true)
			srv := httptest.NewServer(h)
			defer srv.Close()

			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapAlloc
			var peak atomic.Uint64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				var ms runtime.MemStats
				for {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
				}
			})
			for b.Loop() {
				resp, err := http.Get(srv.URL + "/metrics")
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			close(stop)
			wg.Wait()
			runtime.GC()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(peak.Load()-min(peak.Load(), base))/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(ms.HeapAlloc-min(ms.HeapAlloc, base))/(1<<20), "retained-MB")
		})
	}
}
