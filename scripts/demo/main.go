// Command demo gives a newcomer something real to watch: it starts the
// sandboxed Docker engine of the tests (docs/architecture.md, Tests) with
// a few workload containers (one burning a CPU, one holding memory, one
// writing to disk, one unhealthy) and a node_exporter on loopback, runs
// 'monctl watch containers' on that engine in this terminal, and stops
// everything when the view is quit. 'make demo' runs it.
//
//	go run ./scripts/demo -monctl bin/monctl -node-exporter .tools/bin/node_exporter
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/monctl/monctl/internal/testengine"
)

func main() {
	monctl := flag.String("monctl", "bin/monctl", "the monctl binary")
	nodeExporter := flag.String("node-exporter", ".tools/bin/node_exporter", "node_exporter, for 'monctl watch targets'")
	flag.Parse()
	if err := run(*monctl, *nodeExporter, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(monctl, nodeExporter string, watchArgs []string) error {
	// A Ctrl-C reaches monctl, which ends the view; the demo only has to
	// outlive it to clean up.
	signal.Ignore(syscall.SIGINT)
	fmt.Println("demo: starting a sandboxed Docker engine (no network of its own) and building the workload image…")
	eng, stop, err := testengine.StartInTemp(testengine.Options{Name: "demo"}, "./e2e/workload")
	if err != nil {
		return err
	}
	defer stop()
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
	defer func() { ne.Process.Kill(); ne.Wait() }()

	fmt.Printf("demo: engine at %s, node_exporter at %s\n", eng.Host, addr)
	fmt.Printf("demo: in another terminal try  DOCKER_HOST=%s %s watch containers -o wide\n", eng.Host, monctl)
	fmt.Printf("demo:                     and  %s watch targets --match node_load1 %s\n", monctl, addr)
	watch := exec.Command(monctl, append([]string{"watch", "containers", "--sort", "cpu"}, watchArgs...)...)
	watch.Env = append(os.Environ(), "DOCKER_HOST="+eng.Host)
	watch.Stdin, watch.Stdout, watch.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = watch.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 130 {
		err = nil // Ctrl-C is how a person ends it
	}
	fmt.Println("demo: stopping the containers, node_exporter and the engine…")
	return err
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
