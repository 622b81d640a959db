package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/pkg/containers/containerstest"
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

// complete asks for completions as a shell does at a Tab, and returns the
// candidates and the directive.
func complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	out, errOut, code := runCLI(t, nil, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[:len(lines)-1], lines[len(lines)-1]
}

// TestCompletionOfNames: the names a user would type are offered — the
// containers of the engine the command names, for arguments and
// --filter name=; docker contexts and their hosts for --context and -H;
// the families a target exposes for --match — and file names only where
// a file is meant.
func TestCompletionOfNames(t *testing.T) {
	isolateConfig(t)
	eng := containerstest.NewEngine(
		containerstest.Container{ID: strings.Repeat("a", 64), Name: "web"},
		containerstest.Container{ID: strings.Repeat("b", 64), Name: "db"},
		containerstest.Container{ID: strings.Repeat("c", 64), Name: "old", State: "exited"},
	)
	defer eng.Close()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "# TYPE jobs_total counter\njobs_total 1\n# TYPE temp gauge\ntemp 2\n{\"job total\"} 3\n")
	}))
	defer target.Close()
	t.Setenv("DOCKER_HOST", "")
	cfg := t.TempDir()
	sum := sha256.Sum256([]byte("build"))
	meta := filepath.Join(cfg, "contexts", "meta", hex.EncodeToString(sum[:]), "meta.json")
	os.MkdirAll(filepath.Dir(meta), 0o700)
	os.WriteFile(meta, []byte(`{"Name":"build","Metadata":{},"Endpoints":{"docker":{"Host":"`+eng.Host+`"}}}`), 0o600)
	t.Setenv("DOCKER_CONFIG", cfg)

	for _, c := range []struct {
		name      string
		args      []string
		want      []string
		directive string
	}{
		{"running containers", []string{"watch", "containers", "-H", eng.Host, ""}, []string{"db", "web"}, ":4"},
		{"stopped ones too with --all", []string{"watch", "containers", "-H", eng.Host, "--all", "w"}, []string{"web"}, ":4"},
		{"not those given already", []string{"watch", "containers", "-H", eng.Host, "web", ""}, []string{"db"}, ":4"},
		{"logs reads stopped ones", []string{"logs", "--context", "build", "o"}, []string{"old"}, ":4"},
		{"--filter name=", []string{"push", "-H", eng.Host, "--filter", "name="}, []string{"name=db", "name=old", "name=web"}, ":4"},
		{"--filter keys", []string{"watch", "containers", "--filter", "st"}, []string{"status=running", "status=exited", "status=paused", "status=created", "status=restarting", "status=dead"}, ":6"},
		{"--context", []string{"watch", "containers", "--context", ""}, []string{"default", "build"}, ":4"},
		{"-H", []string{"serve", "-H", "tcp"}, []string{eng.Host}, ":4"},
		// "job total" is a name the target may expose, but not one a
		// shell could complete.
		{"--match with a target", []string{"watch", "targets", target.URL, "--match", "j"}, []string{"jobs_total"}, ":4"},
		{"--match without one", []string{"scrape", "--match", ""}, nil, ":4"},
		{"a flag that is no file", []string{"push", "--job", ""}, nil, ":4"},
		{"a file flag", []string{"scrape", "--bearer-token-file", ""}, nil, ":0"},
		{"a directory flag", []string{"push", "--queue-dir", ""}, nil, ":16"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, directive := complete(t, c.args...)
			if !slices.Equal(got, c.want) || directive != c.directive {
				t.Errorf("%q %s, want %q %s", got, directive, c.want, c.directive)
			}
		})
	}
}
