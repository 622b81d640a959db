//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/testengine"
)

// logRecord is a line of 'monctl logs -o jsonl'.
type logRecord struct {
	Time    time.Time `json:"time"`
	Host    string    `json:"host"`
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Stream  string    `json:"stream"`
	Message string    `json:"message"`
}

func logRecords(t *testing.T, out string) []logRecord {
	t.Helper()
	var recs []logRecord
	for line := range strings.Lines(out) {
		var r logRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestLogs: the lines a container wrote, with their streams told apart,
// --tail, --grep, --invert-match, --since, --timestamps, a TTY container,
// escapes kept from the terminal, and --follow to the container's end.
func TestLogs(t *testing.T) { forEachEngine(t, testLogs) }

func testLogs(t *testing.T, e *testengine.Engine) {
	runContainer(t, e, "log-talker", nil, testengine.WorkloadImage, "-log-lines", "200", "-log-rate", "200")
	runContainer(t, e, "log-tty", []string{"-t"}, testengine.WorkloadImage, "-log-lines", "4")
	waitFor(t, "the talker's 200 lines", 30*time.Second, func() bool {
		out, _ := e.Docker("logs", "log-talker")
		return strings.Contains(out, "line 199 out")
	})

	out, errOut, code := monctlOn(t, e, "logs", "log-talker", "-o", "jsonl")
	recs := logRecords(t, out)
	if code != 0 || len(recs) != 201 {
		t.Fatalf("exit %d, %d lines (want 201): %s", code, len(recs), errOut)
	}
	for i, r := range recs[1:] {
		n := i + 1
		stream, suffix := "stdout", " out"
		if n%2 == 0 {
			stream, suffix = "stderr", " err"
		}
		if r.Stream != stream || !strings.HasPrefix(r.Message, fmt.Sprintf("line %d", n)) || !strings.HasSuffix(r.Message, suffix) ||
			r.Name != "log-talker" || len(r.ID) != 64 || r.Time.IsZero() {
			t.Fatalf("line %d: %+v", n, r)
		}
	}

	out, _, code = monctlOn(t, e, "logs", "log-talker", "--tail", "3")
	want := "log-talker | line 198 err\nlog-talker | line 199 out\n" +
		`log-talker | line 200 <img src=x onerror=alert(1)> \x1b[31mred\x1b[0m err` + "\n"
	if code != 0 || out != want {
		t.Errorf("--tail 3: exit %d:\n%s\nwant:\n%s", code, out, want)
	}
	if strings.Contains(out, "\x1b") {
		t.Error("a terminal escape of a log line reached the output raw")
	}
	if out, _, _ := monctlOn(t, e, "logs", "log-talker", "--grep", "onerror"); strings.Count(out, "\n") != 20 {
		t.Errorf("--grep: %d lines, want 20", strings.Count(out, "\n"))
	}
	if out, _, _ := monctlOn(t, e, "logs", "log-talker", "--grep", "err$", "-v"); strings.Count(out, "\n") != 101 {
		t.Errorf("--grep -v: %d lines, want 101 (ready and the odd ones)", strings.Count(out, "\n"))
	}
	if out, _, code := monctlOn(t, e, "logs", "log-talker", "--since", time.Now().Add(time.Hour).Format(time.RFC3339)); code != 0 || out != "" {
		t.Errorf("--since the future: exit %d, %q", code, out)
	}
	out, _, _ = monctlOn(t, e, "logs", "log-tty", "--timestamps")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 5 || !strings.HasPrefix(lines[4], "log-tty | 20") || !strings.HasSuffix(lines[4], "Z line 4 err") {
		t.Errorf("a TTY container with --timestamps:\n%s", out)
	}

	// --follow ends with the container: every line, nothing twice.
	runContainer(t, e, "log-follow", nil, testengine.WorkloadImage, "-log-lines", "50", "-log-rate", "25", "-exit-after", "3s")
	out, errOut, code = monctlOn(t, e, "logs", "log-follow", "-f", "-o", "jsonl")
	recs = logRecords(t, out)
	if code != 0 || len(recs) != 51 || recs[50].Message != "line 50 <img src=x onerror=alert(1)> \x1b[31mred\x1b[0m err" {
		t.Errorf("--follow: exit %d, %d lines: %s", code, len(recs), errOut)
	}
	if _, errOut, code := monctlOn(t, e, "logs", "log-nothing"); code != 1 || !strings.Contains(errOut, "no such container: log-nothing") {
		t.Errorf("no such container: exit %d, %s", code, errOut)
	}
}

// TestLogsOfTwoEngines: one stream from both engines, each line with
// host/name.
func TestLogsOfTwoEngines(t *testing.T) {
	for _, e := range engines {
		runContainer(t, e, "log-both", nil, testengine.WorkloadImage, "-log-lines", "3")
		waitFor(t, "log-both's lines", 30*time.Second, func() bool {
			out, _ := e.Docker("logs", "log-both")
			return strings.Contains(out, "line 3 out")
		})
	}
	args := []string{"logs", "log-both"}
	for _, e := range engines {
		args = append(args, "-H", e.Host)
	}
	out, errOut, code := monctl(t, args...)
	for _, e := range engines {
		if !strings.Contains(out, e.Host+"/log-both | line 3 out\n") {
			t.Errorf("exit %d, no line of %s:\n%s%s", code, e.Host, out, errOut)
		}
	}
}
