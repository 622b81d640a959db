//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The test images: the workload program FROM scratch, and the same with a
// HEALTHCHECK that runs it in -health mode.
const (
	workloadImage = "monctl-workload:e2e"
	healthImage   = "monctl-workload-health:e2e"
)

// engine is the sandboxed Docker engine of the e2e tests (DESIGN §6): its
// own socket, data and exec directories, and no networking of its own, so
// that nothing it runs can reach beyond loopback.
type engine struct {
	dir  string
	host string
	cmd  *exec.Cmd
	logs *os.File
}

func startEngine(dir string) (*engine, error) {
	if _, err := exec.LookPath("dockerd"); err != nil {
		return nil, errors.New("dockerd is not installed: run the e2e tests with 'make e2e', which installs Debian's docker.io")
	}
	logs, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return nil, err
	}
	e := &engine{dir: dir, host: "unix://" + filepath.Join(dir, "docker.sock"), logs: logs}
	return e, e.start()
}

func (e *engine) start() error {
	e.cmd = exec.Command("dockerd",
		"--host", e.host,
		"--data-root", filepath.Join(e.dir, "data"),
		"--exec-root", filepath.Join(e.dir, "exec"),
		"--pidfile", filepath.Join(e.dir, "docker.pid"),
		"--bridge=none", "--iptables=false", "--ip-masq=false")
	e.cmd.Stdout, e.cmd.Stderr = e.logs, e.logs
	// Its own process group, so a Ctrl-C on the test run reaches the
	// test's cleanup first and the engine is stopped in order.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := e.docker("version", "--format", "{{.Server.Version}}"); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.stop()
	return fmt.Errorf("dockerd did not come up within 60s; its log:\n%s", e.log())
}

// stop ends the engine the way an init system does: SIGTERM, then SIGKILL.
func (e *engine) stop() {
	if e.cmd == nil || e.cmd.Process == nil {
		return
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { e.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		e.cmd.Process.Kill()
		<-done
	}
	e.cmd = nil
}

func (e *engine) log() string {
	b, _ := os.ReadFile(e.logs.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// docker runs the docker CLI against the engine.
func (e *engine) docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.host, "DOCKER_BUILDKIT=0")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// buildImages builds the workload statically and wraps it in the images.
func (e *engine) buildImages() error {
	ctxDir := filepath.Join(e.dir, "image")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		return err
	}
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "workload"), "./workload")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the workload: %v: %s", err, out)
	}
	files := map[string]string{
		"Dockerfile":        "FROM scratch\nCOPY workload /workload\nENTRYPOINT [\"/workload\"]\n",
		"Dockerfile.health": "FROM " + workloadImage + "\nHEALTHCHECK --interval=1s --timeout=5s --retries=2 CMD [\"/workload\", \"-health\"]\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(ctxDir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	if _, err := e.docker("build", "-q", "-t", workloadImage, "-f", filepath.Join(ctxDir, "Dockerfile"), ctxDir); err != nil {
		return err
	}
	_, err := e.docker("build", "-q", "-t", healthImage, "-f", filepath.Join(ctxDir, "Dockerfile.health"), ctxDir)
	return err
}

// removeAll removes every container, so that the engine stops quickly and
// leaves no mounts behind.
func (e *engine) removeAll() {
	ids, err := e.docker("ps", "-aq")
	if err != nil || strings.TrimSpace(ids) == "" {
		return
	}
	e.docker(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
}

// dataDevice is the whole disk that holds the engine's data, for
// --device-write-bps: cgroup v1 charges block I/O to a container only for
// devices with a throttle rule, so the writer container gets a generous
// one and its writes show in its stats (and in docker stats').
func (e *engine) dataDevice() (string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(e.dir, "data"), &st); err != nil {
		return "", err
	}
	major, minor := (st.Dev>>8)&0xfff|(st.Dev>>32)&^0xfff, st.Dev&0xff|(st.Dev>>12)&^0xff
	sys := fmt.Sprintf("/sys/dev/block/%d:%d", major, minor)
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		sys = filepath.Join(sys, "..") // throttle rules apply to whole disks
	}
	b, err := os.ReadFile(filepath.Join(sys, "uevent"))
	if err != nil {
		return "", fmt.Errorf("the engine's data directory is not on a block device (%d:%d): %v", major, minor, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "DEVNAME="); ok {
			return "/dev/" + name, nil
		}
	}
	return "", fmt.Errorf("%s/uevent names no device", sys)
}
