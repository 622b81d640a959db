// Command demo gives a newcomer something real to watch: it starts the
// sandboxed Docker engine of the tests (docs/architecture.md, Tests) with
// a few workload containers (one burning a CPU, one holding memory, one
// writing to disk, one unhealthy) and a node_exporter on loopback, runs
// 'monctl watch containers' on that engine in this terminal, and stops
// everything when the view is quit. 'make demo' runs it.
//
// Whatever ends the demo — quitting the view, Ctrl-C, SIGTERM, SIGHUP, a
// closed terminal, a pipe whose reader went away (make demo | tee), even
// SIGKILL — nothing is left running: a watchdog process of its own,
// outside the terminal's session, cleans up when the demo is gone
// without having done so itself.
//
//	go run ./scripts/demo -monctl bin/monctl -node-exporter .tools/bin/node_exporter
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/monctl/monctl/internal/testengine"
)

func main() {
	monctl := flag.String("monctl", "bin/monctl", "the monctl binary")
	nodeExporter := flag.String("node-exporter", ".tools/bin/node_exporter", "node_exporter, for 'monctl watch targets'")
	watchdog := flag.Bool("watchdog", false, "internal: clean up what the demo on the other end of standard input started, once it is gone")
	flag.Parse()
	if *watchdog {
		watch(os.Stdin)
		return
	}
	if err := run(*monctl, *nodeExporter, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(monctl, nodeExporter string, watchArgs []string) error {
	// A Ctrl-C reaches monctl, which ends the view; the demo only has to
	// outlive it to clean up. A reader that went away (tee, a closed
	// terminal) makes a write fail instead of killing the demo.
	signal.Ignore(syscall.SIGINT, syscall.SIGPIPE)
	stopping := make(chan os.Signal, 1)
	signal.Notify(stopping, syscall.SIGTERM, syscall.SIGHUP)
	wd, err := startWatchdog()
	if err != nil {
		return err
	}
	defer wd.Close() // tells the watchdog that the demo is over
	fmt.Println("demo: starting a sandboxed Docker engine (no network of its own) and building the workload image…")
	dir, err := os.MkdirTemp("", "monctl-sandbox-")
	if err != nil {
		return err
	}
	// The watchdog knows the engine before it starts, so that an end
	// during its start or the image's build is cleaned up too.
	fmt.Fprintf(wd, "engine %s\n", dir)
	eng, err := testengine.Start(dir, testengine.Options{Name: "demo"})
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	defer func() {
		fmt.Println("demo: stopping the containers, node_exporter and the engine…")
		eng.RemoveAll()
		eng.Stop()
		os.RemoveAll(dir)
		fmt.Fprintln(wd, "clean")
	}()
	if err := eng.BuildImages("./e2e/workload"); err != nil {
		return err
	}
	for _, c := range []struct{ name, image, health string }{
		{"burner", testengine.WorkloadImage, ""},
		{"holder", testengine.WorkloadImage, ""},
		{"writer", testengine.WorkloadImage, ""},
		// A health check the image cannot run (it has no shell): the
		// container turns unhealthy after three tries.
		{"sick", testengine.WorkloadImage, "true"},
	} {
		args := []string{"run", "-d", "--network", "none", "--name", c.name}
		if c.health != "" {
			args = append(args, "--health-cmd", c.health, "--health-interval", "1s", "--health-retries", "3")
		}
		args = append(args, c.image)
		switch c.name {
		case "burner":
			args = append(args, "-burn", "1")
		case "holder":
			args = append(args, "-hold", "256")
		case "writer":
			args = append(args, "-write", "64", "-children", "3")
		}
		if _, err := eng.Docker(args...); err != nil {
			return fmt.Errorf("starting %s: %w", c.name, err)
		}
	}

	addr, err := freeLoopback()
	if err != nil {
		return err
	}
	ne := exec.Command(nodeExporter, "--web.listen-address="+addr)
	if err := ne.Start(); err != nil {
		return fmt.Errorf("node_exporter (make tools builds it): %w", err)
	}
	fmt.Fprintf(wd, "pid %d\n", ne.Process.Pid)
	defer func() { ne.Process.Kill(); ne.Wait() }()

	fmt.Printf("demo: engine at %s, node_exporter at %s\n", eng.Host, addr)
	fmt.Printf("demo: in another terminal try  DOCKER_HOST=%s %s watch containers -o wide\n", eng.Host, monctl)
	fmt.Printf("demo:                     and  %s watch targets --match node_load1 %s\n", monctl, addr)
	watch := exec.Command(monctl, append([]string{"watch", "containers", "--sort", "cpu"}, watchArgs...)...)
	watch.Env = append(os.Environ(), "DOCKER_HOST="+eng.Host)
	watch.Stdin, watch.Stdout, watch.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := watch.Start(); err != nil {
		return err
	}
	fmt.Fprintf(wd, "pid %d\n", watch.Process.Pid)
	ended := make(chan error, 1)
	go func() { ended <- watch.Wait() }()
	select {
	case err = <-ended:
	case <-stopping:
		watch.Process.Signal(syscall.SIGTERM)
		err = <-ended
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && (ee.ExitCode() == 130 || ee.ExitCode() == 143 || ee.ExitCode() == -1) {
		err = nil // Ctrl-C or a signal is how a person ends it
	}
	return err
}

// startWatchdog starts this program again as the watchdog, in a session
// of its own (a closed terminal or a Ctrl-C does not reach it), reading
// what to clean up from a pipe that closes whenever the demo ends.
func startWatchdog() (io.WriteCloser, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-watchdog")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the demo's watchdog: %w", err)
	}
	go cmd.Wait() // the demo does not wait for it: it outlives the demo
	return w, nil
}

// watch is the watchdog: it learns the engine's directory and the PIDs
// the demo started, and once its input ends (the demo is gone) cleans up
// all of it, unless the demo said it had.
func watch(in io.Reader) {
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGTERM)
	var dir string
	var pids []int
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		kind, arg, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "engine":
			dir = arg
		case "pid":
			if pid, err := strconv.Atoi(arg); err == nil {
				pids = append(pids, pid)
			}
		case "clean":
			return
		}
	}
	for _, pid := range pids {
		stopProcess(pid, 5*time.Second)
	}
	if dir == "" {
		return
	}
	host := "unix://" + filepath.Join(dir, "docker.sock")
	if ids, err := exec.Command("docker", "--host", host, "ps", "-aq").Output(); err == nil && len(strings.Fields(string(ids))) > 0 {
		exec.Command("docker", append([]string{"--host", host, "rm", "-f"}, strings.Fields(string(ids))...)...).Run()
	}
	if b, err := os.ReadFile(filepath.Join(dir, "docker.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			stopProcess(pid, 30*time.Second)
		}
	}
	for unix.Unmount(filepath.Join(dir, "data"), unix.MNT_DETACH) == nil {
	}
	os.RemoveAll(dir)
}

// stopProcess ends pid as an init system does: SIGTERM, then SIGKILL
// after grace.
func stopProcess(pid int, grace time.Duration) {
	if syscall.Kill(pid, syscall.SIGTERM) != nil {
		return
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// freeLoopback is an address on 127.0.0.1 that nothing listens on.
func freeLoopback() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
