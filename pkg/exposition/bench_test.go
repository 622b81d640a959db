package exposition

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/monctl/monctl/internal/benchdata"
)

var benchBody = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	if err := benchdata.Write(&b); err != nil {
		panic(err)
	}
	return b.Bytes()
})

// BenchmarkParse compares monctl's parse (to the full model) with the two
// parsers of the ecosystem on the same ~18 MB text exposition. textparse
// only lexes and materialises labels; expfmt builds client_model structs.
func BenchmarkParse(b *testing.B) { benchParsers(b, "", benchBody()) }

// benchParsers runs monctl's parse and the ecosystem's two on body, as
// sub-benchmarks prefix+"monctl", prefix+"expfmt", prefix+"textparse",
// and the physical floor of any parser, prefix+"floor": finding every
// line of the body at memchr speed.
func benchParsers(b *testing.B, prefix string, body []byte) {
	b.Run(prefix+"floor", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if bytes.Count(body, []byte{'\n'}) == 0 && len(body) > 0 {
				b.Fatal("no lines")
			}
		}
	})
	b.Run(prefix+"monctl", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(body, FormatText); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(prefix+"expfmt", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			p := expfmt.NewTextParser(model.UTF8Validation)
			if _, err := p.TextToMetricFamilies(bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(prefix+"textparse", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		var ls labels.Labels
		for b.Loop() {
			p := textparse.NewPromParser(body, labels.NewSymbolTable(), false)
			for {
				e, err := p.Next()
				if err != nil {
					break
				}
				if e == textparse.EntrySeries {
					p.Series()
					p.Labels(&ls)
				}
			}
		}
	})
}

// manySeries is one gauge family of n series, in the text format.
func manySeries(n int) []byte {
	var b bytes.Buffer
	b.WriteString("# TYPE big gauge\n")
	for i := range n {
		fmt.Fprintf(&b, "big{series=\"%08d\",pod=\"pod-%d\"} %d\n", i, i%1000, i)
	}
	return b.Bytes()
}

// BenchmarkPathological parses the shapes a hostile or careless target
// serves: one series with 10,000 labels (expfmt is quadratic there: 50,000
// took it three minutes), one histogram with 300,000 buckets, and 1M
// series, with monctl, expfmt and textparse. Run it with -benchtime 1x:
// each op is one whole body.
func BenchmarkPathological(b *testing.B) {
	shapes := []struct {
		name string
		body func() []byte
	}{
		{"labels10k", func() []byte { return manyLabels(10000) }},
		{"buckets300k", func() []byte { return manyBuckets(300000) }},
		{"series1M", func() []byte { return manySeries(1000000) }},
	}
	for _, shape := range shapes {
		benchParsers(b, shape.name+"/", shape.body())
	}
}
