//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// terminal is a real terminal for a live view: a detached tmux session on
// a server of its own, driven as a person would, with keys, and read back
// from the screen.
type terminal struct {
	t        *testing.T
	socket   string
	exitFile string
}

// newTerminal runs monctl with args in a width×height terminal, with env
// added to the environment.
func newTerminal(t *testing.T, width, height int, env []string, args ...string) *terminal {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed to drive the live view: 'make docker-engine' installs it")
	}
	dir := t.TempDir()
	x := &terminal{t: t, socket: filepath.Join(dir, "tmux.sock"), exitFile: filepath.Join(dir, "exit")}
	quoted := []string{shellQuote(monctlBin)}
	for _, a := range args {
		quoted = append(quoted, shellQuote(a))
	}
	env = append(env, "TERM=xterm-256color", "XDG_CONFIG_HOME="+dir, "MONCTL_CONFIG=")
	// The exit code is written where the test can read it once the
	// session is gone.
	script := "env " + strings.Join(quotedAll(env), " ") + " " + strings.Join(quoted, " ") + "; echo $? > " + shellQuote(x.exitFile)
	x.tmux("new-session", "-d", "-s", "monctl", "-x", strconv.Itoa(width), "-y", strconv.Itoa(height), "sh", "-c", script)
	t.Cleanup(func() { exec.Command("tmux", "-S", x.socket, "kill-server").Run() })
	return x
}

func (x *terminal) tmux(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", x.socket}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// keys types keys, as tmux send-keys names them.
func (x *terminal) keys(keys ...string) {
	x.tmux(append([]string{"send-keys", "-t", "monctl"}, keys...)...)
}

// screen is what the terminal shows now.
func (x *terminal) screen() string { return x.tmux("capture-pane", "-p", "-t", "monctl") }

// resize makes the terminal width×height, as dragging its window would.
func (x *terminal) resize(width, height int) {
	x.tmux("resize-window", "-t", "monctl", "-x", strconv.Itoa(width), "-y", strconv.Itoa(height))
}

// fitsWidth says which lines of screen are wider than width columns.
func (x *terminal) fitsWidth(screen string, width int) {
	x.t.Helper()
	for _, l := range lines(screen) {
		if len([]rune(l)) > width {
			x.t.Errorf("a line wider than the terminal: %q", l)
		}
	}
}

// waitScreen waits until the screen satisfies cond and returns it.
func (x *terminal) waitScreen(what string, cond func(string) bool) string {
	x.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := x.screen()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("the screen never showed %s:\n%s", what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exitCode waits for monctl to end and returns its exit code.
func (x *terminal) exitCode() int {
	x.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(x.exitFile); err == nil && len(b) > 0 {
			code, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				x.t.Fatal(err)
			}
			return code
		}
		time.Sleep(50 * time.Millisecond)
	}
	x.t.Fatalf("monctl did not end; the screen:\n%s", x.screen())
	return -1
}

// lines are the screen's non-empty lines.
func lines(screen string) []string {
	var out []string
	for _, l := range strings.Split(screen, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, strings.TrimRight(l, " "))
		}
	}
	return out
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func quotedAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shellQuote(s)
	}
	return out
}
