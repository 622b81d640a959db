package push

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/monctl/monctl/pkg/exposition"
)

// benchTarget is a node_exporter-sized exposition (1500 counters) and a
// remote-write sink that is never sent to.
func benchTarget(b *testing.B) (*bytes.Buffer, *RemoteWrite) {
	var body bytes.Buffer
	for f := 0; f < 30; f++ {
		fmt.Fprintf(&body, "# TYPE bench_metric_%d_total counter\n", f)
		for i := 0; i < 50; i++ {
			fmt.Fprintf(&body, "bench_metric_%d_total{cpu=\"%d\",mode=\"m%d\"} %d\n", f, i%8, i, f*1000+i)
		}
	}
	rw, err := NewRemoteWrite(Endpoint{URL: "http://127.0.0.1:1/api/v1/write"})
	if err != nil {
		b.Fatal(err)
	}
	return &body, rw
}

// BenchmarkRemoteWriteRound is one round of 'push --every' to a
// remote-write receiver, without the network: 50 targets of 1500 series
// each parsed, merged with their target labels, and encoded.
func BenchmarkRemoteWriteRound(b *testing.B) {
	body, rw := benchTarget(b)
	b.ReportAllocs()
	for b.Loop() {
		var sources []exposition.Source
		for t := range 50 {
			res, err := exposition.Parse(body.Bytes(), exposition.FormatText)
			if err != nil {
				b.Fatal(err)
			}
			sources = append(sources, exposition.Source{Target: fmt.Sprintf("http://127.0.0.1:%d/metrics", 10000+t), Time: time.Now(), Families: res.Families})
		}
		if _, err := rw.Encode(sources); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRemoteWriteRoundStreamed is the same round with each target's
// families encoded as they are parsed (StreamSink).
func BenchmarkRemoteWriteRoundStreamed(b *testing.B) {
	body, rw := benchTarget(b)
	b.ReportAllocs()
	for b.Loop() {
		for t := range 50 {
			st := rw.NewStream(true)
			target := fmt.Sprintf("http://127.0.0.1:%d/metrics", 10000+t)
			now := time.Now()
			if _, err := exposition.ParseStream(context.Background(), body.Bytes(), exposition.FormatText, exposition.Limits{}, func(f *exposition.Family) error {
				return st.Family(target, now, f)
			}); err != nil {
				b.Fatal(err)
			}
			st.Batches()
		}
	}
}
