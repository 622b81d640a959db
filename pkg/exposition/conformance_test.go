package exposition

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenMetricsConformance runs the OpenMetrics parser test suite: every
// good case must parse, every bad_* case must be rejected with a reason.
// The cases are read from ../shared when it is there (the maintained copy)
// and from testdata otherwise.
func TestOpenMetricsConformance(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "conformance", "openmetrics", "cases")
	if _, err := os.Stat(dir); err != nil {
		dir = filepath.Join("testdata", "openmetrics", "cases")
	}
	cases, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 211 {
		t.Fatalf("found %d cases in %s, want 211", len(cases), dir)
	}
	for _, c := range cases {
		t.Run(c.Name(), func(t *testing.T) {
			var spec struct {
				File        string `json:"file"`
				ShouldParse bool   `json:"shouldParse"`
			}
			raw, err := os.ReadFile(filepath.Join(dir, c.Name(), "test.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &spec); err != nil {
				t.Fatal(err)
			}
			body, err := os.ReadFile(filepath.Join(dir, c.Name(), spec.File))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(body, FormatOpenMetrics)
			switch {
			case spec.ShouldParse && err != nil:
				t.Errorf("rejected a good exposition: %v\n%s", err, body)
			case !spec.ShouldParse && err == nil:
				t.Errorf("accepted a bad exposition:\n%s", body)
			case !spec.ShouldParse && err.Error() == "":
				t.Errorf("rejected without a reason")
			}
		})
	}
}
