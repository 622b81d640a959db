//go:build e2e

// Package e2e runs the monctl binary against real programs: a sandboxed
// Docker engine started here, a node_exporter built from the Go module
// proxy (make tools), and real HTTP servers on 127.0.0.1. Run with
// 'make e2e'.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/testengine"
)

var (
	monctlBin string
	toolsBin  string
	engines   []*testengine.Engine
)

func TestMain(m *testing.M) {
	toolsBin = os.Getenv("MONCTL_TOOLS_BIN")
	dir, err := os.MkdirTemp("", "monctl-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	monctlBin = filepath.Join(dir, "monctl")
	build := exec.Command("go", "build", "-o", monctlBin, "../cmd/monctl")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building monctl:", err)
		os.Exit(1)
	}
	engines, err = startEngines(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test Docker engines:", err)
		stopEngines()
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	stopEngines()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startEngines starts the sandboxed engines side by side (docs/architecture.md, Tests):
// Debian's docker.io and Engine 29 built by 'make tools' (also on a TLS
// port of 127.0.0.1), each with the test images.
func startEngines(dir string) ([]*testengine.Engine, error) {
	opts := []testengine.Options{{Name: "20.10"}}
	if toolsBin == "" {
		return nil, fmt.Errorf("MONCTL_TOOLS_BIN is not set: run the e2e tests with 'make e2e'")
	}
	opts = append(opts, testengine.Options{Name: "29", TLS: true,
		Dockerd: filepath.Join(toolsBin, "dockerd-29"), Runc: filepath.Join(toolsBin, "runc-1.5")})
	var started []*testengine.Engine
	for _, o := range opts {
		edir := filepath.Join(dir, "engine-"+o.Name)
		if err := os.MkdirAll(edir, 0o755); err != nil {
			return started, err
		}
		e, err := testengine.Start(edir, o)
		if err != nil {
			return started, fmt.Errorf("engine %s: %w", o.Name, err)
		}
		started = append(started, e)
		if err := e.BuildImages("./workload"); err != nil {
			return started, fmt.Errorf("engine %s: %w", o.Name, err)
		}
	}
	return started, nil
}

func stopEngines() {
	for _, e := range engines {
		e.RemoveAll()
		e.Stop()
	}
}

// tool returns the path of a test program built by 'make tools'. A missing
// one fails the test: skipping would hide a broken install step.
func tool(t *testing.T, name string) string {
	t.Helper()
	if toolsBin == "" {
		t.Fatal("MONCTL_TOOLS_BIN is not set: run the e2e tests with 'make e2e'")
	}
	p := filepath.Join(toolsBin, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing (%v): run 'make tools'", name, err)
	}
	return p
}

// freePort finds a free port on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs a program until the test ends (or stop is called) and waits
// for url to answer.
func start(t *testing.T, url string, name string, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	// Stopped as a service manager stops it, so that a store flushes
	// what it took (the push tests restart one mid-run).
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = sync.OnceFunc(func() {
		cancel()
		cmd.Wait()
	})
	t.Cleanup(stop)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not come up at %s:\n%s", filepath.Base(name), url, logs.String())
	return nil
}

// monctl runs the binary and returns stdout, stderr and the exit code.
func monctl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return monctlEnv(t, nil, args...)
}

// monctlEnv runs the binary with env added to the environment (later
// values win), and returns stdout, stderr and the exit code.
func monctlEnv(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(monctlBin, args...)
	cmd.Env = append(append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "XDG_STATE_HOME="+t.TempDir(), "MONCTL_CONFIG="), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// noEngineEnv is an environment that names no engine, as a user's shell
// that never set DOCKER_HOST or DOCKER_CONTEXT; cfg is the docker CLI's
// config directory.
func noEngineEnv(cfg string) []string {
	return []string{"DOCKER_HOST=", "DOCKER_CONTEXT=", "DOCKER_CONFIG=" + cfg}
}
