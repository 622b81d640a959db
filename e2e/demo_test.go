//go:build e2e

package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoLeavesNothingRunning: 'make demo' started as 'make demo | tee
// demo.log' and ended with Ctrl-C, or killed outright, leaves no engine,
// container or node_exporter behind: its watchdog cleans up what the
// demo could not.
func TestDemoLeavesNothingRunning(t *testing.T) {
	demo := filepath.Join(t.TempDir(), "demo")
	if out, err := exec.Command("go", "build", "-o", demo, "../scripts/demo").CombinedOutput(); err != nil {
		t.Fatalf("building the demo: %v\n%s", err, out)
	}
	for _, c := range []struct {
		name string
		end  func(cmd *exec.Cmd, stdout *os.File)
	}{
		// The terminal's Ctrl-C reaches the whole foreground group; tee
		// is gone first, so every write of the demo meets a closed pipe.
		{"ctrl-c with tee gone", func(cmd *exec.Cmd, stdout *os.File) {
			stdout.Close()
			syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		}},
		{"SIGHUP of a closed terminal", func(cmd *exec.Cmd, _ *os.File) { cmd.Process.Signal(syscall.SIGHUP) }},
		{"SIGKILL", func(cmd *exec.Cmd, _ *os.File) { cmd.Process.Kill() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(demo, "-monctl", monctlBin, "-node-exporter", tool(t, "node_exporter"))
			cmd.Dir = ".." // the demo builds ./e2e/workload
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout, cmd.Stderr = w, w
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever the test leaves
			var dir string
			sc := bufio.NewScanner(r)
			for dir == "" && sc.Scan() {
				if _, host, ok := strings.Cut(sc.Text(), "demo: engine at unix://"); ok {
					dir = filepath.Dir(strings.Fields(host)[0])
				}
			}
			if dir == "" {
				cmd.Process.Kill()
				t.Fatal("the demo did not say where its engine is")
			}
			b, _ := os.ReadFile(filepath.Join(dir, "docker.pid"))
			dockerd, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("the engine's pid file: %q", b)
			}
			waitFor(t, "the burner to run", 30*time.Second, func() bool {
				out, _ := exec.Command("docker", "--host", "unix://"+filepath.Join(dir, "docker.sock"), "ps", "-q", "--filter", "name=burner").Output()
				return len(strings.TrimSpace(string(out))) > 0
			})
			c.end(cmd, r)
			cmd.Wait()
			waitFor(t, "the engine, its containers and directory to be gone", 90*time.Second, func() bool {
				_, statErr := os.Stat(dir)
				return syscall.Kill(dockerd, 0) != nil && os.IsNotExist(statErr) && !running(dir)
			})
		})
	}
}

// running says whether any process has dir in its command line.
func running(dir string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), dir) {
			return true
		}
	}
	return false
}
