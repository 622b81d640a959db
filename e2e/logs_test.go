//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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
	// Every line once, on its stream, in order within its stream (the
	// engine may interleave the two pipes a little differently).
	last := map[string]int{}
	seen := map[int]bool{}
	for _, r := range recs {
		var n int
		if _, err := fmt.Sscanf(r.Message, "line %d", &n); err != nil {
			continue // "workload ready"
		}
		stream, suffix := "stdout", " out"
		if n%2 == 0 {
			stream, suffix = "stderr", " err"
		}
		if seen[n] || n <= last[stream] || r.Stream != stream || !strings.HasSuffix(r.Message, suffix) ||
			r.Name != "log-talker" || len(r.ID) != 64 || r.Time.IsZero() {
			t.Fatalf("line %d (after %d on %s): %+v", n, last[stream], stream, r)
		}
		seen[n], last[stream] = true, n
	}
	if len(seen) != 200 {
		t.Errorf("%d of the 200 lines", len(seen))
	}

	out, _, code = monctlOn(t, e, "logs", "log-talker", "--tail", "3")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	slices.Sort(lines)
	want := []string{"log-talker | line 198 err", "log-talker | line 199 out",
		`log-talker | line 200 <img src=x onerror=alert(1)> \x1b[31mred\x1b[0m err`}
	if code != 0 || !slices.Equal(lines, want) {
		t.Errorf("--tail 3: exit %d:\n%s\nwant:\n%s", code, out, strings.Join(want, "\n"))
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

	// --output-dir: one file per container, rotated at --max-size,
	// appended across runs; the kept files hold every line once.
	dir := t.TempDir()
	for run := range 2 {
		if out, errOut, code := monctlOn(t, e, "logs", "log-talker", "--output-dir", dir, "--max-size", "1KiB", "--max-files", "100"); code != 0 || out != "" {
			t.Fatalf("--output-dir (run %d): exit %d, stdout %q: %s", run, code, out, errOut)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*log-talker.log*"))
	var kept []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if len(b) > 1024 {
			t.Errorf("%s: %d bytes, over --max-size", f, len(b))
		}
		kept = append(kept, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	times := map[string]int{}
	for _, l := range kept {
		times[l]++
	}
	if len(files) < 2 || len(kept) != 2*201 || len(times) != 201 || times["line 200 <img src=x onerror=alert(1)> \x1b[31mred\x1b[0m err"] != 2 {
		t.Errorf("%d files, %d lines kept (%d distinct), want 402: each of the 201 lines once per run", len(files), len(kept), len(times))
	}

	// A planted symlink is not written through, and its container's
	// failure is its own: a container whose 240-character name needs a
	// shortened file name still gets every line (exit 3, said once).
	long := strings.Repeat("n", 240)
	runContainer(t, e, long, nil, testengine.WorkloadImage, "-log-lines", "100", "-log-rate", "1000")
	waitFor(t, "the long-named container's 101 lines", 30*time.Second, func() bool {
		out, _, _ := monctlOn(t, e, "logs", long)
		return strings.Count(out, "\n") >= 101
	})
	planted := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("mine\n"), 0o600)
	if len(files) > 0 {
		os.Symlink(victim, filepath.Join(planted, filepath.Base(files[0]))) // HOST_log-talker.log
	}
	_, errOut, code = monctlOn(t, e, "logs", "log-talker", long, "--output-dir", planted)
	if b, _ := os.ReadFile(victim); code != 3 || string(b) != "mine\n" || strings.Count(errOut, "symlink") != 1 {
		t.Errorf("a planted symlink: exit %d, victim %q, stderr %q", code, b, errOut)
	}
	longFiles, _ := filepath.Glob(filepath.Join(planted, "*nnnn*"))
	if len(longFiles) != 1 || len(filepath.Base(longFiles[0])) > 255 {
		t.Fatalf("the long-named container's files: %q (%s)", longFiles, errOut)
	}
	if b, _ := os.ReadFile(longFiles[0]); strings.Count(string(b), "\n") != 101 {
		t.Errorf("the long-named container's file has %d lines, want 101", strings.Count(string(b), "\n"))
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

// TestLogsOfLongLines: the engine keeps a long line as messages of 16
// KiB, each with a timestamp of its own; monctl gives it back whole, with
// one time, and a line past 1 MiB in pieces of 1 MiB that join to it.
func TestLogsOfLongLines(t *testing.T) { forEachEngine(t, testLogsOfLongLines) }

func testLogsOfLongLines(t *testing.T, e *testengine.Engine) {
	const long, huge = 40000, 5 << 19 // 2.5 MiB
	runContainer(t, e, "log-long", nil, testengine.WorkloadImage, "-log-long", strconv.Itoa(long))
	runContainer(t, e, "log-huge", nil, testengine.WorkloadImage, "-log-long", strconv.Itoa(huge))
	for _, name := range []string{"log-long", "log-huge"} {
		waitFor(t, name+"'s lines", 30*time.Second, func() bool {
			out, _ := e.Docker("logs", "--tail", "1", name)
			return strings.Contains(out, "after the long line")
		})
	}
	pattern := func(n int) string { return strings.Repeat("0123456789", n/10+1)[:n] }

	out, errOut, code := monctlOn(t, e, "logs", "log-long", "-o", "jsonl")
	recs := logRecords(t, out)
	if code != 0 || len(recs) != 3 || recs[1].Message != pattern(long) || recs[1].Time.IsZero() || recs[2].Message != "after the long line" {
		t.Fatalf("exit %d, %d records (want 3: ready, the line of %d bytes, after): %s\n%.300s", code, len(recs), long, errOut, out)
	}
	out, _, _ = monctlOn(t, e, "logs", "log-long", "--timestamps")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("--timestamps: %d lines, want 3:\n%.300s", len(lines), out)
	}
	if ts, msg, _ := strings.Cut(strings.TrimPrefix(lines[1], "log-long | "), " "); !strings.HasPrefix(ts, "20") || msg != pattern(long) {
		t.Errorf("--timestamps: the long line is not one time and the line whole: %.200s", lines[1])
	}

	out, errOut, code = monctlOn(t, e, "logs", "log-huge", "-o", "jsonl")
	recs = logRecords(t, out)
	if code != 0 || len(recs) != 5 {
		t.Fatalf("exit %d, %d records (want 5: ready, 3 pieces, after): %s", code, len(recs), errOut)
	}
	var joined strings.Builder
	for _, r := range recs[1 : len(recs)-1] {
		if len(r.Message) > 1<<20 || !r.Time.Equal(recs[1].Time) {
			t.Errorf("a piece of %d bytes at %v (the line's time: %v)", len(r.Message), r.Time, recs[1].Time)
		}
		joined.WriteString(r.Message)
	}
	if joined.String() != pattern(huge) {
		t.Errorf("the pieces join to %d bytes, not the line of %d", joined.Len(), huge)
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

// TestLogsFollowJoinsAndLeaves: with --follow, a container that starts
// joins from its first line, one that stops leaves, one removed while
// followed leaves with what it wrote, and monctl ends when the last one
// it follows has stopped; no line is lost or repeated.
func TestLogsFollowJoinsAndLeaves(t *testing.T) { forEachEngine(t, testLogsFollowJoinsAndLeaves) }

func testLogsFollowJoinsAndLeaves(t *testing.T, e *testengine.Engine) {
	runContainer(t, e, "join-a", nil, testengine.WorkloadImage, "-log-lines", "5", "-log-rate", "2", "-exit-after", "6s")
	runContainer(t, e, "join-gone", nil, testengine.WorkloadImage, "-log-lines", "1000", "-log-rate", "5")
	waitReady(t, e, "join-a")
	waitReady(t, e, "join-gone")
	f := startLogsFollow(t, e, "--filter", "name=^join-", "-o", "jsonl")
	time.Sleep(time.Second)
	runContainer(t, e, "join-b", nil, testengine.WorkloadImage, "-log-lines", "3", "-log-rate", "10", "-exit-after", "1s")
	if _, err := e.Docker("rm", "-f", "join-gone"); err != nil {
		t.Fatal(err)
	}
	out, errOut := f.wait(t, 30*time.Second)
	if errOut != "" {
		t.Errorf("monctl said: %s", errOut)
	}
	count := map[string]int{}
	seen := map[string]bool{}
	for _, r := range logRecords(t, out) {
		key := r.Name + ": " + r.Message
		if seen[key] {
			t.Errorf("repeated: %s", key)
		}
		seen[key] = true
		count[r.Name]++
	}
	if count["join-a"] != 6 || count["join-b"] != 4 || count["join-gone"] < 2 {
		t.Errorf("lines %v, want join-a 6 (ready and 5), join-b 4 (ready and 3), join-gone some:\n%s", count, out)
	}
}

// TestLogsFollowAcrossEngineRestart: the engine is stopped and started
// again while monctl follows a container that keeps writing (live
// restore): monctl says so, follows on from the last line it had, and in
// the end has every line the engine logged exactly once, in order.
func TestLogsFollowAcrossEngineRestart(t *testing.T) {
	e, err := testengine.Start(t.TempDir(), testengine.Options{Name: "29-live-restore", LiveRestore: true,
		Dockerd: filepath.Join(toolsBin, "dockerd-29"), Runc: filepath.Join(toolsBin, "runc-1.5")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.RemoveAll()
		e.Stop()
	})
	if err := e.BuildImages("./workload"); err != nil {
		t.Fatal(err)
	}
	runContainer(t, e, "restart-talker", nil, testengine.WorkloadImage, "-log-lines", "500", "-log-rate", "50", "-exit-after", "12s")
	waitReady(t, e, "restart-talker")

	f := startLogsFollow(t, e, "restart-talker", "-o", "jsonl")
	time.Sleep(2 * time.Second)
	e.Stop()
	time.Sleep(2 * time.Second)
	if err := e.Restart(); err != nil {
		t.Fatal(err)
	}
	out, errOut := f.wait(t, 60*time.Second)
	if !strings.Contains(errOut, "lost the Docker engine at "+e.Host) || !strings.Contains(errOut, "answers again") {
		t.Errorf("the engine's going and coming back is not told:\n%s", errOut)
	}
	// The engine's own account, stream by stream.
	want := map[string][]string{}
	dockerLogs := exec.Command("docker", "-H", e.Host, "logs", "restart-talker")
	var stdout, stderr strings.Builder
	dockerLogs.Stdout, dockerLogs.Stderr = &stdout, &stderr
	if err := dockerLogs.Run(); err != nil {
		t.Fatal(err, stderr.String())
	}
	want["stdout"] = strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	want["stderr"] = strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	got := map[string][]string{}
	for _, r := range logRecords(t, out) {
		got[r.Stream] = append(got[r.Stream], r.Message)
	}
	for _, stream := range []string{"stdout", "stderr"} {
		if !slices.Equal(got[stream], want[stream]) {
			t.Errorf("%s: monctl has %d lines, the engine %d; first difference at %d", stream, len(got[stream]), len(want[stream]), firstDiff(got[stream], want[stream]))
		}
	}
	t.Logf("%d stdout and %d stderr lines; monctl said:\n%s", len(got["stdout"]), len(got["stderr"]), errOut)
	if n := len(got["stdout"]) + len(got["stderr"]); n < 500 {
		t.Errorf("%d lines, want the ready line and 500", n)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// logsFollow is a 'monctl logs -f' running on an engine.
type logsFollow struct {
	cmd         *exec.Cmd
	out, errOut strings.Builder
	done        chan error
}

func startLogsFollow(t *testing.T, e *testengine.Engine, args ...string) *logsFollow {
	t.Helper()
	f := &logsFollow{cmd: exec.Command(monctlBin, append([]string{"logs", "-f"}, args...)...), done: make(chan error, 1)}
	f.cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host, "XDG_CONFIG_HOME="+t.TempDir(), "MONCTL_CONFIG=")
	f.cmd.Stdout, f.cmd.Stderr = &f.out, &f.errOut
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { f.done <- f.cmd.Wait() }()
	t.Cleanup(func() { f.cmd.Process.Kill() })
	return f
}

// wait waits for monctl to end by itself (its containers stopped) and
// returns what it wrote to stdout and stderr.
func (f *logsFollow) wait(t *testing.T, limit time.Duration) (string, string) {
	t.Helper()
	select {
	case err := <-f.done:
		if err != nil {
			t.Fatalf("monctl logs -f: %v: %s", err, f.errOut.String())
		}
	case <-time.After(limit):
		f.cmd.Process.Kill()
		<-f.done
		t.Fatalf("monctl logs -f did not end when its containers stopped:\n%s%s", f.out.String(), f.errOut.String())
	}
	return f.out.String(), f.errOut.String()
}

// TestLogsFailIfMatch: --fail-if-match is a check for cron: the lines
// that match are said on stderr with their container, escaped, and
// monctl exits 4; without a match, 0; a bad expression, 2.
func TestLogsFailIfMatch(t *testing.T) {
	e := engines[len(engines)-1]
	runContainer(t, e, "log-check", nil, testengine.WorkloadImage, "-log-lines", "20", "-log-rate", "1000")
	waitFor(t, "log-check's 20 lines", 30*time.Second, func() bool {
		out, _ := e.Docker("logs", "log-check")
		return strings.Contains(out, "line 19 out")
	})
	out, errOut, code := monctlOn(t, e, "logs", "log-check", "--fail-if-match", `line 1[37] `)
	if code != 4 || strings.Count(errOut, "monctl: matched: log-check | line 1") != 2 || !strings.Contains(errOut, "line 13 out") {
		t.Errorf("two matching lines: exit %d, stderr:\n%s", code, errOut)
	}
	if !strings.Contains(out, "line 12 err") {
		t.Errorf("stdout lost the other lines:\n%s", out)
	}
	if strings.ContainsAny(errOut, "\x1b") {
		t.Errorf("an escape reached stderr raw: %q", errOut)
	}
	if _, errOut, code := monctlOn(t, e, "logs", "log-check", "--fail-if-match", "no such text"); code != 0 || strings.Contains(errOut, "matched") {
		t.Errorf("no match: exit %d, %s", code, errOut)
	}
	if _, errOut, code := monctlOn(t, e, "logs", "log-check", "--fail-if-match", "("); code != 2 || !strings.Contains(errOut, "--fail-if-match") {
		t.Errorf("a bad expression: exit %d, %s", code, errOut)
	}
}
