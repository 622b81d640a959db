package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/monctl/monctl/internal/cli/cmdutil"
)

// TestCompletionsUpToDate fails when a flag or command changed and the
// committed completions were not regenerated.
func TestCompletionsUpToDate(t *testing.T) {
	var out, errOut bytes.Buffer
	for name, want := range Completions(cmdutil.IOStreams{Out: &out, ErrOut: &errOut}) {
		got, err := os.ReadFile(filepath.Join("..", "..", "completions", name))
		if err != nil {
			t.Errorf("%v: run 'make completions'", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("completions/%s is stale: run 'make completions' and commit the result", name)
		}
	}
}

// TestCompletionOfFlags asks cobra's completion machinery, as a shell would.
func TestCompletionOfFlags(t *testing.T) {
	isolateConfig(t)
	out, _, code := runCLI(t, nil, "__complete", "scrape", "-o", "")
	if code != 0 || !bytes.Contains([]byte(out), []byte("openmetrics")) {
		t.Fatalf("exit %d, completions for -o:\n%s", code, out)
	}
}
