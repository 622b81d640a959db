package exposition_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
)

// seeds adds the conformance cases and the fixtures in every format.
func seeds(f *testing.F) {
	cases, _ := filepath.Glob(filepath.Join("testdata", "openmetrics", "cases", "*", "metrics"))
	fixtures, _ := filepath.Glob(filepath.Join("..", "..", "internal", "cli", "testdata", "*.prom"))
	for _, p := range append(cases, fixtures...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for format := range 3 {
			f.Add(b, uint8(format))
		}
	}
	f.Add([]byte("#TYPE a histogram\na_sum{le=\"0\"} 0\n"), uint8(0))
	f.Add([]byte("a 1\nb 1\na 2\n"), uint8(0))
}

// FuzzParse feeds arbitrary bodies to every format's parser. It must never
// panic, and an error must say why. Run it with 'make fuzz'.
func FuzzParse(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, body []byte, format uint8) {
		_, err := exposition.Parse(body, exposition.Format(format%3))
		if err != nil && err.Error() == "" {
			t.Fatal("an error without a reason")
		}
	})
}

// FuzzRoundTrip: whatever parses, monctl writes in every exposition
// format, and what it writes parses again: in monctl, and in the
// ecosystem's parsers (textparse for both text formats, expfmt for the
// Prometheus text format). Run it with 'make fuzz'.
func FuzzRoundTrip(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, body []byte, format uint8) {
		res, err := exposition.Parse(body, exposition.Format(format%3))
		if err != nil {
			return
		}
		src := []output.Source{{Target: "fuzz", Families: res.Families}}
		for _, tc := range []struct {
			out output.Format
			in  exposition.Format
		}{{output.Prom, exposition.FormatText}, {output.OpenMetrics, exposition.FormatOpenMetrics}, {output.Protobuf, exposition.FormatProtobuf}} {
			var buf bytes.Buffer
			if _, err := output.WriteExposition(&buf, src, tc.out); err != nil {
				t.Fatalf("writing %s: %v", tc.out, err)
			}
			written := buf.Bytes()
			if _, err := exposition.Parse(written, tc.in); err != nil {
				t.Fatalf("monctl cannot read its own %s: %v\ninput: %q\nwritten: %q", tc.out, err, body, written)
			}
			switch tc.out {
			case output.Prom:
				if err := textparseReads(textparse.NewPromParser(written, labels.NewSymbolTable(), false)); err != nil {
					t.Fatalf("textparse cannot read monctl's text: %v\ninput: %q\nwritten: %q", err, body, written)
				}
				p := expfmt.NewTextParser(model.UTF8Validation)
				if _, err := p.TextToMetricFamilies(bytes.NewReader(written)); err != nil {
					t.Fatalf("expfmt cannot read monctl's text: %v\ninput: %q\nwritten: %q", err, body, written)
				}
			case output.OpenMetrics:
				if err := textparseReads(textparse.NewOpenMetricsParser(written, labels.NewSymbolTable())); err != nil {
					t.Fatalf("textparse cannot read monctl's OpenMetrics: %v\ninput: %q\nwritten: %q", err, body, written)
				}
			}
		}
	})
}

func textparseReads(p textparse.Parser) error {
	for {
		_, err := p.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
