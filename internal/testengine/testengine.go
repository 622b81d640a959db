// Package testengine runs the sandboxed Docker engine of the e2e tests and
// the container benchmarks (docs/architecture.md, Tests): its own socket, data and exec
// directories, and no networking of its own, so that nothing it runs can
// reach beyond loopback. It also builds the test images around the
// project's workload program (e2e/workload).
package testengine

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

	"golang.org/x/sys/unix"
)

// The test images: the workload program FROM scratch, and the same with a
// HEALTHCHECK that runs it in -health mode.
const (
	WorkloadImage = "monctl-workload:e2e"
	HealthImage   = "monctl-workload-health:e2e"
)

// Engine is a running sandboxed dockerd.
type Engine struct {
	Name string // "20.10", "29": for test names and reports
	Dir  string
	Host string // unix://Dir/docker.sock
	// With Options.TLS: tcp://127.0.0.1:PORT, which takes clients with a
	// certificate of the engine's CA, and the directory of that
	// certificate, key and CA (as DOCKER_CERT_PATH has them).
	TLSHost, ClientCerts string
	args                 []string
	cmd                  *exec.Cmd
	logs                 *os.File
}

// Which engine to start: Debian's docker.io (dockerd on the PATH) when
// Dockerd is empty, else the given dockerd (Engine 29, built from the Go
// module proxy by make tools) with its own runc, which Debian's is too old
// for.
type Options struct {
	Name    string
	Dockerd string
	Runc    string
	// TLS also serves the API on a loopback TCP port with TLS, client
	// certificates verified (dockerd --tlsverify).
	TLS bool
	// LiveRestore keeps the containers running while the engine is
	// stopped and restarted, as production hosts are often set up.
	LiveRestore bool
}

// Start starts dockerd with its state in dir and waits until it answers.
func Start(dir string, o Options) (*Engine, error) {
	e := &Engine{Name: o.Name, Dir: dir, Host: "unix://" + filepath.Join(dir, "docker.sock")}
	e.args = []string{o.Dockerd,
		"--host", e.Host,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"--bridge=none", "--iptables=false", "--ip-masq=false"}
	if o.Dockerd == "" {
		if _, err := exec.LookPath("dockerd"); err != nil {
			return nil, errors.New("dockerd is not installed: run the e2e tests with 'make e2e', which installs Debian's docker.io")
		}
		e.args[0] = "dockerd"
	} else {
		// dockerd hands the runtime's path to containerd as it is, so it
		// must not depend on the working directory.
		runc, err := filepath.Abs(o.Runc)
		if err != nil {
			return nil, err
		}
		e.args = append(e.args, "--ip6tables=false", "--add-runtime", "runc15="+runc, "--default-runtime=runc15")
	}
	if o.LiveRestore {
		e.args = append(e.args, "--live-restore")
	}
	if o.TLS {
		port, err := FreeLoopbackPort()
		if err != nil {
			return nil, err
		}
		certs := filepath.Join(dir, "tls")
		if err := TLSFiles(certs); err != nil {
			return nil, err
		}
		e.TLSHost, e.ClientCerts = fmt.Sprintf("tcp://127.0.0.1:%d", port), certs
		e.args = append(e.args, "--host", e.TLSHost, "--tlsverify", "--tlscacert", filepath.Join(certs, "ca.pem"),
			"--tlscert", filepath.Join(certs, "server-cert.pem"), "--tlskey", filepath.Join(certs, "server-key.pem"))
	}
	logs, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return nil, err
	}
	e.logs = logs
	return e, e.Restart()
}

// StartInTemp starts an engine in a new temporary directory, with the
// test images built from workloadPkg (for the benchmarks and the demo). stop removes
// every container, stops the engine and removes the directory.
func StartInTemp(o Options, workloadPkg string) (e *Engine, stop func(), err error) {
	dir, err := os.MkdirTemp("", "monctl-sandbox-")
	if err != nil {
		return nil, nil, err
	}
	if e, err = Start(dir, o); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	stop = func() {
		e.RemoveAll()
		e.Stop()
		os.RemoveAll(dir)
	}
	if err := e.BuildImages(workloadPkg); err != nil {
		stop()
		return nil, nil, err
	}
	return e, stop, nil
}

// Restart starts the engine again after Stop, with the same state.
func (e *Engine) Restart() error {
	e.cmd = exec.Command(e.args[0], e.args[1:]...)
	e.cmd.Stdout, e.cmd.Stderr = e.logs, e.logs
	// Its own process group, so a Ctrl-C on the test run reaches the
	// test's cleanup first and the engine is stopped in order.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := e.Docker("version", "--format", "{{.Server.Version}}"); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.Stop()
	return fmt.Errorf("dockerd did not come up within 60s; its log:\n%s", e.Log())
}

// Stop ends the engine the way an init system does: SIGTERM, then SIGKILL.
func (e *Engine) Stop() {
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
	// dockerd bind-mounts its data root onto itself at every start and
	// may leave the mount behind after a restart, and Engine 29 leaves
	// its default network namespace mounted in the exec root: their
	// directories could not be removed.
	for _, m := range []string{"data", filepath.Join("exec", "netns", "default")} {
		for unix.Unmount(filepath.Join(e.Dir, m), unix.MNT_DETACH) == nil {
		}
	}
}

// Log is the end of the engine's log.
func (e *Engine) Log() string {
	b, _ := os.ReadFile(e.logs.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Docker runs the docker CLI against the engine.
func (e *Engine) Docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host, "DOCKER_BUILDKIT=0")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// BuildImages builds the workload package (a path go build understands)
// statically and wraps it in the images.
func (e *Engine) BuildImages(workloadPkg string) error {
	ctxDir := filepath.Join(e.Dir, "image")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		return err
	}
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "workload"), workloadPkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the workload: %v: %s", err, out)
	}
	files := map[string]string{
		"Dockerfile":        "FROM scratch\nCOPY workload /workload\nENTRYPOINT [\"/workload\"]\n",
		"Dockerfile.health": "FROM " + WorkloadImage + "\nHEALTHCHECK --interval=1s --timeout=5s --retries=2 CMD [\"/workload\", \"-health\"]\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(ctxDir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	if _, err := e.Docker("build", "-q", "-t", WorkloadImage, "-f", filepath.Join(ctxDir, "Dockerfile"), ctxDir); err != nil {
		return err
	}
	_, err := e.Docker("build", "-q", "-t", HealthImage, "-f", filepath.Join(ctxDir, "Dockerfile.health"), ctxDir)
	return err
}

// RemoveAll removes every container, so that the engine stops quickly and
// leaves no mounts behind.
func (e *Engine) RemoveAll() {
	ids, err := e.Docker("ps", "-aq")
	if err != nil || strings.TrimSpace(ids) == "" {
		return
	}
	e.Docker(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
}

// DataDevice is the whole disk that holds the engine's data, for
// --device-write-bps: cgroup v1 charges block I/O to a container only for
// devices with a throttle rule, so the writer container gets a generous
// one and its writes show in its stats (and in docker stats').
func (e *Engine) DataDevice() (string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(e.Dir, "data"), &st); err != nil {
		return "", err
	}
	major, minor := unix.Major(st.Dev), unix.Minor(st.Dev)
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
