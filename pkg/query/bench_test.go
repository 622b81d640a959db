package query

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/benchdata"
	"github.com/monctl/monctl/pkg/exposition"
)

// BenchmarkQueryAllSeries is 'scrape FILE --query' of the question make
// bench asks of the 19.5 MB benchmark exposition, one that reads every
// series: the parse, the store and the evaluation.
func BenchmarkQueryAllSeries(b *testing.B) {
	var body bytes.Buffer
	if err := benchdata.Write(&body); err != nil {
		b.Fatal(err)
	}
	const expr = `topk(10, count by (__name__)({__name__=~".+"}))`
	eng := NewEngine(Options{})
	at := time.Now()
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		s := NewStore()
		s.Only(ReadsOf(nil, expr))
		if _, err := exposition.ParseStream(context.Background(), body.Bytes(), exposition.FormatText, exposition.Limits{}, func(f *exposition.Family) error {
			s.Add(at, []exposition.Family{*f})
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		res, err := eng.Instant(context.Background(), s, expr, at)
		if err != nil {
			b.Fatal(err)
		}
		if res.Value.String() == "" {
			b.Fatal("no answer")
		}
	}
}
