package exposition_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
)

// FuzzParse feeds arbitrary bodies to every format's parser. It must never
// panic, and whatever parses must re-encode to text that parses again.
// Run it with 'make fuzz'; the seeds are the conformance cases and the
// fixtures.
func FuzzParse(f *testing.F) {
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
	f.Fuzz(func(t *testing.T, body []byte, format uint8) {
		fm := exposition.Format(format % 3)
		res, err := exposition.Parse(body, fm)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a reason")
			}
			return
		}
		var buf bytes.Buffer
		if _, err := output.WriteExposition(&buf, []output.Source{{Target: "fuzz", Families: res.Families}}, false); err != nil {
			return // a model the text format cannot hold (e.g. a name only protobuf allows)
		}
		if _, err := exposition.Parse(buf.Bytes(), exposition.FormatText); err != nil {
			t.Fatalf("re-encoded %s does not parse: %v\ninput: %q\nre-encoded: %q", fm, err, body, buf.Bytes())
		}
	})
}
