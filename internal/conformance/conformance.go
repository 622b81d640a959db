// Package conformance loads the OpenMetrics parser conformance cases for
// the tests of several packages.
package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Case is one exposition of the suite and whether it must parse.
type Case struct {
	Name        string
	Body        []byte
	ShouldParse bool
}

// Load reads the cases from the maintained copy in ../shared when the
// checkout sits beside it, and from the project's own copy otherwise.
// root is the path from the calling test's directory to the repository.
func Load(root string) ([]Case, error) {
	dir := filepath.Join(root, "..", "shared", "conformance", "openmetrics", "cases")
	if _, err := os.Stat(dir); err != nil {
		dir = filepath.Join(root, "pkg", "exposition", "testdata", "openmetrics", "cases")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var cases []Case
	for _, e := range entries {
		var spec struct {
			File        string `json:"file"`
			ShouldParse bool   `json:"shouldParse"`
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name(), "test.json"))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &spec); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		body, err := os.ReadFile(filepath.Join(dir, e.Name(), spec.File))
		if err != nil {
			return nil, err
		}
		cases = append(cases, Case{Name: e.Name(), Body: body, ShouldParse: spec.ShouldParse})
	}
	return cases, nil
}
