//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/testengine"
)

// TestEventsLikeDockerEvents: over the same window of the sandboxed
// engine, in which a container exits 1 by itself and another is stopped
// and removed, monctl events gives the events docker events gives, in
// the same order, with the exit codes.
func TestEventsLikeDockerEvents(t *testing.T) {
	e := engines[len(engines)-1]
	since := time.Now().Add(-time.Second)
	if _, err := e.Docker("run", "--network", "none", "--name", "ev-exits", testengine.WorkloadImage, "-exit-after", "100ms"); err == nil {
		t.Fatal("ev-exits should have exited 1")
	}
	if _, err := e.Docker("run", "-d", "--network", "none", "--name", "ev-stopped", testengine.WorkloadImage, "-hold", "1"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"stop", "-t", "1", "ev-stopped"}, {"rm", "ev-stopped", "ev-exits"}} {
		if _, err := e.Docker(args...); err != nil {
			t.Fatal(err)
		}
	}
	until := time.Now().Add(time.Second)
	time.Sleep(time.Until(until) + 100*time.Millisecond)
	window := []string{"--since", fmt.Sprintf("%d", since.Unix()), "--until", fmt.Sprintf("%d", until.Unix()+1)}

	type ev struct{ id, action string }
	docker, err := e.Docker(append([]string{"events", "--filter", "type=container", "--format", "{{json .}}"}, window...)...)
	if err != nil {
		t.Fatal(err)
	}
	var want []ev
	for sc := bufio.NewScanner(strings.NewReader(docker)); sc.Scan(); {
		var m struct {
			Action string
			Actor  struct{ ID string }
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("docker events: %v: %s", err, sc.Text())
		}
		want = append(want, ev{m.Actor.ID, m.Action})
	}
	out, errOut, code := monctl(t, append([]string{"events", "-H", e.Host, "-o", "jsonl"}, window...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []ev
	exits := map[string]int{}
	for sc := bufio.NewScanner(strings.NewReader(out)); sc.Scan(); {
		var r struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			Action   string `json:"action"`
			ExitCode *int   `json:"exit_code"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		got = append(got, ev{r.ID, r.Action})
		if r.ExitCode != nil {
			exits[r.Name] = *r.ExitCode
		}
	}
	if len(want) < 6 || !slices.Equal(got, want) {
		t.Errorf("monctl events:\n%v\ndocker events:\n%v", got, want)
	}
	if exits["ev-exits"] != 1 {
		t.Errorf("ev-exits' die: exit code %v, want 1 (all: %v)", exits["ev-exits"], exits)
	}
	if _, ok := exits["ev-stopped"]; !ok {
		t.Errorf("ev-stopped's die has no exit code: %v", exits)
	}
}

// TestEventsFollow: without --until, monctl events prints each event as
// it happens, the table line with the exit code, and ends on SIGINT.
func TestEventsFollow(t *testing.T) {
	e := engines[len(engines)-1]
	cmd := exec.Command(monctlBin, "events", "-H", e.Host, "--filter", "container=ev-follow")
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "MONCTL_CONFIG=")
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(500 * time.Millisecond) // subscribed
	if _, err := e.Docker("run", "--network", "none", "--name", "ev-follow", testengine.WorkloadImage, "-exit-after", "100ms"); err == nil {
		t.Fatal("ev-follow should have exited 1")
	}
	t.Cleanup(func() { e.Docker("rm", "-f", "ev-follow") })
	waitFor(t, "ev-follow's die, with its exit code", 20*time.Second, func() bool {
		return strings.Contains(out.String(), "ev-follow (") && strings.Contains(out.String(), "  die  exit code 1, image "+testengine.WorkloadImage)
	})
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("SIGINT: %v, want exit 130; stderr: %s", err, errOut.String())
	}
}
