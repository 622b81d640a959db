// Package benchdata generates the large exposition 'make bench' measures:
// 200 counter families × 500 series × 4 labels, and 200 histogram
// families × 40 series × 12 buckets (about 18 MB of text).
package benchdata

import (
	"bufio"
	"fmt"
	"io"
)

// Sizes of the generated exposition.
const (
	CounterFamilies   = 200
	CounterSeries     = 500
	HistogramFamilies = 200
	HistogramSeries   = 40
)

var bounds = []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}

// Write writes the exposition in the Prometheus text format. The values are
// deterministic so that runs compare.
func Write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	codes := []string{"200", "201", "400", "404", "500"}
	for f := 0; f < CounterFamilies; f++ {
		fmt.Fprintf(bw, "# HELP bench_requests_%03d_total Requests handled by component %d.\n# TYPE bench_requests_%03d_total counter\n", f, f, f)
		for s := 0; s < CounterSeries; s++ {
			fmt.Fprintf(bw, "bench_requests_%03d_total{service=\"svc-%02d\",instance=\"host-%03d:9100\",method=\"%s\",code=\"%s\"} %d\n",
				f, s%50, s, methods[s%4], codes[s%5], (f+1)*(s+7)*1013)
		}
	}
	for f := 0; f < HistogramFamilies; f++ {
		fmt.Fprintf(bw, "# HELP bench_latency_%03d_seconds Latency of component %d.\n# TYPE bench_latency_%03d_seconds histogram\n", f, f, f)
		for s := 0; s < HistogramSeries; s++ {
			labels := fmt.Sprintf("service=\"svc-%02d\",instance=\"h%03d:9100\"", s%20, s)
			count := 0
			for i, b := range bounds {
				count += (s + i + f) % 17
				fmt.Fprintf(bw, "bench_latency_%03d_seconds_bucket{%s,le=\"%s\"} %d\n", f, labels, b, count)
			}
			fmt.Fprintf(bw, "bench_latency_%03d_seconds_sum{%s} %g\n", f, labels, float64(count)*0.137)
			fmt.Fprintf(bw, "bench_latency_%03d_seconds_count{%s} %d\n", f, labels, count)
		}
	}
	return bw.Flush()
}
