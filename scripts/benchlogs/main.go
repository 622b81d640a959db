// Command benchlogs measures 'monctl logs --follow' (make bench): -containers
// containers on a sandboxed Engine 29 each write -lines lines at -rate
// lines a second, followed at the same time by one 'monctl logs -f' and by
// one 'docker logs -f' per container, the way people follow many
// containers today. It reports the lines each delivered per container
// (all of them, or the run fails), and the CPU time and peak memory of
// monctl next to the sum of the docker processes', in one run.
//
// Run from the repository root:
//
//	go run ./scripts/benchlogs -monctl bin/monctl -dockerd29 .tools/bin/dockerd-29 -runc .tools/bin/runc-1.5
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/monctl/monctl/internal/testengine"
)

func main() {
	monctl := flag.String("monctl", "bin/monctl", "the monctl binary")
	dockerd29 := flag.String("dockerd29", "", "Engine 29's dockerd (make tools)")
	runc := flag.String("runc", "", "the runc for Engine 29 (make tools)")
	containers := flag.Int("containers", 50, "containers writing")
	lines := flag.Int("lines", 60000, "lines each container writes")
	rate := flag.Int("rate", 1000, "lines a second each container writes")
	flag.Parse()
	if err := run(*monctl, testengine.Options{Name: "29", Dockerd: *dockerd29, Runc: *runc}, *containers, *lines, *rate); err != nil {
		fmt.Fprintln(os.Stderr, "benchlogs:", err)
		os.Exit(1)
	}
}

// follower is one following process: what it delivered and what it cost.
type follower struct {
	cmd *exec.Cmd
	// container is the one container a docker logs follows; empty for
	// monctl, which follows all and prefixes each line with "name | ".
	container string
	lines     map[string]int // container name → lines
	err       error
}

func run(monctl string, opts testengine.Options, containers, lines, rate int) error {
	eng, stop, err := testengine.StartInTemp(opts, "./e2e/workload")
	if err != nil {
		return err
	}
	defer stop()
	abs, err := filepath.Abs(monctl)
	if err != nil {
		return err
	}
	var names []string
	for i := range containers {
		name := fmt.Sprintf("bench-log-%d", i)
		if _, err := eng.Docker("create", "--network", "none", "--name", name, testengine.WorkloadImage,
			"-log-lines", fmt.Sprint(lines), "-log-rate", fmt.Sprint(rate), "-log-exit", "-log-on-usr1"); err != nil {
			return err
		}
		names = append(names, name)
	}
	// The containers run, ready, and wait for SIGUSR1 to write; both
	// kinds of follower attach to running containers, then all start
	// writing at once.
	if _, err := eng.Docker(append([]string{"start"}, names...)...); err != nil {
		return err
	}
	env := append(os.Environ(), "DOCKER_HOST="+eng.Host, "MONCTL_CONFIG=", "XDG_CONFIG_HOME="+eng.Dir)
	m := &follower{cmd: exec.Command(abs, "logs", "-f", "--filter", "name=^bench-log-"), lines: map[string]int{}}
	m.cmd.Env = env
	followers := []*follower{m}
	for _, name := range names {
		d := &follower{cmd: exec.Command("docker", "-H", eng.Host, "logs", "-f", name), container: name, lines: map[string]int{}}
		followers = append(followers, d)
	}
	var wg sync.WaitGroup
	for _, f := range followers {
		if err := f.start(&wg); err != nil {
			return err
		}
	}
	time.Sleep(5 * time.Second) // every follower has its streams open
	start := time.Now()
	if _, err := eng.Docker(append([]string{"kill", "-s", "USR1"}, names...)...); err != nil {
		return err
	}
	wg.Wait()
	wall := time.Since(start)

	want := lines + 1 // the workload's ready line
	fmt.Printf("\n### Following %d containers × %d lines/s for %d lines each (Engine 29, json-file logs), %.1f s from the start of writing until every follower had every line\n\n",
		containers, rate, lines, wall.Seconds())
	fmt.Println("| follower | processes | lines delivered | of | CPU (user+sys) | CPU vs docker logs -f | peak RSS |\n|---|---|---|---|---|---|---|")
	var dockerCPU time.Duration
	var dockerRSS int64
	dockerLines := 0
	for _, d := range followers[1:] {
		cpu, rss := usage(d.cmd)
		dockerCPU += cpu
		dockerRSS += rss
		dockerLines += d.total()
	}
	mCPU, mRSS := usage(m.cmd)
	fmt.Printf("| `monctl logs -f` | 1 | %d | %d | %.2f s | %.2f× | %.1f MiB |\n", m.total(), want*containers, mCPU.Seconds(), mCPU.Seconds()/dockerCPU.Seconds(), float64(mRSS)/1024)
	fmt.Printf("| `docker logs -f` ×%d | %d | %d | %d | %.2f s | 1.00× | %.1f MiB (sum) |\n", containers, containers, dockerLines, want*containers, dockerCPU.Seconds(), float64(dockerRSS)/1024)

	var problems []string
	for _, f := range followers {
		if f.err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f.cmd.Args[:3], f.err))
		}
		followed := names
		if f.container != "" {
			followed = []string{f.container}
		}
		for _, name := range followed {
			if n := f.lines[name]; n != want {
				problems = append(problems, fmt.Sprintf("%s delivered %d lines of %s, want %d", f.cmd.Args[:3], n, name, want))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("lines lost or repeated:\n%s", strings.Join(problems[:min(10, len(problems))], "\n"))
	}
	return nil
}

// start runs the follower and counts its lines per container: monctl's
// by their "name | " prefix; a docker logs' all as its container's, on
// stdout and stderr.
func (f *follower) start(wg *sync.WaitGroup) error {
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var errOut io.Reader = strings.NewReader("")
	if f.container != "" {
		if errOut, err = f.cmd.StderrPipe(); err != nil {
			return err
		}
	} else {
		f.cmd.Stderr = os.Stderr
	}
	if err := f.cmd.Start(); err != nil {
		return err
	}
	var mu sync.Mutex
	count := func(r io.Reader) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			key := f.container
			if key == "" {
				prefix, _, _ := bytes.Cut(sc.Bytes(), []byte(" | "))
				key = string(prefix)
			}
			mu.Lock()
			f.lines[key]++
			mu.Unlock()
		}
	}
	var readers sync.WaitGroup
	readers.Go(func() { count(out) })
	readers.Go(func() { count(errOut) })
	wg.Go(func() {
		readers.Wait()
		f.err = f.cmd.Wait()
	})
	return nil
}

func (f *follower) total() int {
	n := 0
	for _, c := range f.lines {
		n += c
	}
	return n
}

// usage is the CPU time and peak RSS (KiB) of a process that has ended.
func usage(cmd *exec.Cmd) (time.Duration, int64) {
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss
}
