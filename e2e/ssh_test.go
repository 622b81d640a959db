//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/testengine"
)

// sshServer runs Debian's sshd on 127.0.0.1 with keys made for the test:
// root logs in with the client key, and the far side's docker talks to
// engine (sshd's SetEnv DOCKER_HOST), as on a remote host whose engine is
// the default one. It returns the port and a directory holding an ssh
// wrapper that uses the test's client config, to put first on PATH: ssh
// reads ~/.ssh/config from the user's passwd entry, not from $HOME.
func sshServer(t *testing.T, engine *testengine.Engine) (int, string) {
	t.Helper()
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		t.Fatalf("%s is missing: 'make e2e' installs Debian's openssh-server", sshd)
	}
	dir := t.TempDir()
	for _, key := range []string{"host_key", "client_key"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "monctl-e2e", "-f", filepath.Join(dir, key)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	port := freePort(t)
	files := map[string]string{
		"authorized_keys": read("client_key.pub"),
		"known_hosts":     fmt.Sprintf("[127.0.0.1]:%d %s", port, read("host_key.pub")),
		"sshd_config": strings.Join([]string{
			fmt.Sprintf("Port %d", port), "ListenAddress 127.0.0.1",
			"HostKey " + filepath.Join(dir, "host_key"), "PidFile " + filepath.Join(dir, "sshd.pid"),
			"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"), "StrictModes no", "UsePAM no",
			"PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
			"SetEnv DOCKER_HOST=" + engine.Host, ""}, "\n"),
		"ssh_config": strings.Join([]string{"Host 127.0.0.1",
			"  IdentityFile " + filepath.Join(dir, "client_key"), "  IdentitiesOnly yes",
			"  UserKnownHostsFile " + filepath.Join(dir, "known_hosts"), "  StrictHostKeyChecking yes", "  BatchMode yes", ""}, "\n"),
		"bin/ssh": "#!/bin/sh\nexec /usr/bin/ssh -F " + filepath.Join(dir, "ssh_config") + " \"$@\"\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(text), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// sshd's privilege separation directory, which its service unit
	// would make.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd:\n%s", logs.String())
		}
	})
	waitFor(t, "sshd to listen", 10*time.Second, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return port, filepath.Join(dir, "bin")
}

// TestWatchOverSSH: -H ssh://root@127.0.0.1:PORT and a context with that
// endpoint reach the sandboxed engine through the system ssh and 'docker
// system dial-stdio' on the far side; the numbers then come from the stats
// API, and the host shown is the one given.
func TestWatchOverSSH(t *testing.T) {
	e := engines[len(engines)-1]
	runContainer(t, e, "ssh-burner", nil, testengine.WorkloadImage, "-burn", "1")
	waitReady(t, e, "ssh-burner")
	pid, err := e.Docker("inspect", "-f", "{{.State.Pid}}", "ssh-burner")
	if err != nil {
		t.Fatal(err)
	}
	track := trackCPU(t, strings.TrimSpace(pid))
	port, bin := sshServer(t, e)
	url := fmt.Sprintf("ssh://root@127.0.0.1:%d", port)
	cfg := dockerConfig(t, "default", map[string]testContext{"far": {host: url}})

	run := func(args ...string) (string, string, int) {
		t.Helper()
		return monctlEnv(t, append(noEngineEnv(cfg), "PATH="+bin+":"+os.Getenv("PATH")),
			append([]string{"watch", "containers", "--once", "--filter", "name=^ssh-"}, args...)...)
	}
	for _, c := range []struct {
		args []string
		host string
	}{
		{[]string{"-H", url}, url},
		{[]string{"--context", "far"}, "far"},
	} {
		out, errOut, code := monctlEnv(t, append(noEngineEnv(cfg), "PATH="+bin+":"+os.Getenv("PATH")),
			append([]string{"watch", "containers", "--count", "2", "--interval", "1s", "-o", "jsonl", "--filter", "name=^ssh-"}, c.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, errOut)
		}
		w := lastWindow(t, out)
		r, ok := w["ssh-burner"]
		if len(w) != 1 || !ok || r.Host != c.host {
			t.Fatalf("%v: %s, want ssh-burner on %s", c.args, out, c.host)
		}
		// Its CPU as its own CPU time says over the same window.
		if ref, ok := agreesWithTrack(t, track, r, overHostCPU); !ok || ref < 5 {
			t.Errorf("%v: ssh-burner at %.1f%%; its CPU time over the same window says %.1f%%", c.args, r.CPUPercent, ref)
		}
	}
	// Not this host's engine as far as monctl can tell: the stats API.
	if out, errOut, code := run("-H", url, "-o", "wide"); code != 0 || !strings.Contains(out, "stats from api") {
		t.Errorf("-o wide over ssh: exit %d, %s\n%s", code, errOut, out)
	}
	if _, errOut, code := run("-H", url, "--stats-source", "cgroup"); code != 1 || !strings.Contains(errOut, "not on this host") {
		t.Errorf("--stats-source cgroup over ssh: exit %d, %s", code, errOut)
	}
	// A port where nobody listens: ssh's own words, and what to check.
	bad := fmt.Sprintf("ssh://root@127.0.0.1:%d", freePort(t))
	if _, errOut, code := run("-H", bad); code != 1 || !strings.Contains(errOut, "Connection refused") || !strings.Contains(errOut, "dial-stdio") {
		t.Errorf("an ssh host that refuses: exit %d, %s", code, errOut)
	}
}
