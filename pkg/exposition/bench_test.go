package exposition

import (
	"bytes"
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
func BenchmarkParse(b *testing.B) {
	body := benchBody()
	b.Run("monctl", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(body, FormatText); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("expfmt", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			p := expfmt.NewTextParser(model.UTF8Validation)
			if _, err := p.TextToMetricFamilies(bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("textparse", func(b *testing.B) {
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
