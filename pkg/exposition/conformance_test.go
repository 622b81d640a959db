package exposition

import (
	"testing"

	"github.com/monctl/monctl/internal/conformance"
)

// TestOpenMetricsConformance runs the OpenMetrics parser test suite against
// the library: every good case must parse, every bad_* case must be
// rejected with a reason. (internal/cli runs the same through the CLI.)
func TestOpenMetricsConformance(t *testing.T) {
	cases, err := conformance.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 211 {
		t.Fatalf("found %d cases, want 211", len(cases))
	}
	for _, c := range cases {
		_, err := Parse(c.Body, FormatOpenMetrics)
		switch {
		case c.ShouldParse && err != nil:
			t.Errorf("%s: rejected a good exposition: %v\n%s", c.Name, err, c.Body)
		case !c.ShouldParse && err == nil:
			t.Errorf("%s: accepted a bad exposition:\n%s", c.Name, c.Body)
		case !c.ShouldParse && err.Error() == "":
			t.Errorf("%s: rejected without a reason", c.Name)
		}
	}
}
