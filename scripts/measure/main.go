// Command measure runs commands side by side and reports their wall time
// and peak resident memory (from the kernel's rusage), with ratios to the
// last command, the baseline:
//
//	measure -runs 5 -- cmd1 args... :: baseline args...
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

type sample struct {
	wall   time.Duration
	maxRSS int64 // KiB
}

func main() {
	runs := flag.Int("runs", 5, "runs of each command (interleaved)")
	flag.Parse()
	var cmds [][]string
	cur := []string{}
	for _, a := range flag.Args() {
		if a == "::" {
			cmds = append(cmds, cur)
			cur = []string{}
			continue
		}
		cur = append(cur, a)
	}
	cmds = append(cmds, cur)
	if len(cmds) < 2 {
		fmt.Fprintln(os.Stderr, "usage: measure [-runs N] -- cmd... :: baseline...")
		os.Exit(2)
	}
	results := make([][]sample, len(cmds))
	for r := 0; r < *runs; r++ {
		for i, c := range cmds {
			s, err := run(c)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", strings.Join(c, " "), err)
				os.Exit(1)
			}
			results[i] = append(results[i], s)
		}
	}
	base := median(results[len(cmds)-1])
	fmt.Printf("| command | wall (median of %d) | peak RSS (median) | wall vs baseline | RSS vs baseline |\n|---|---|---|---|---|\n", *runs)
	for i, c := range cmds {
		m := median(results[i])
		fmt.Printf("| `%s` | %.3f s | %.1f MiB | %.2f× | %.2f× |\n", strings.Join(c, " "), m.wall.Seconds(), float64(m.maxRSS)/1024,
			m.wall.Seconds()/base.wall.Seconds(), float64(m.maxRSS)/float64(base.maxRSS))
	}
}

func run(args []string) (sample, error) {
	cmd := exec.Command(args[0], args[1:]...)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return sample{}, err
	}
	defer devnull.Close()
	cmd.Stdout, cmd.Stderr = devnull, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return sample{}, err
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return sample{}, fmt.Errorf("no rusage on this platform")
	}
	return sample{wall: time.Since(start), maxRSS: ru.Maxrss}, nil
}

// median takes wall and RSS medians independently.
func median(ss []sample) sample {
	w := make([]time.Duration, len(ss))
	m := make([]int64, len(ss))
	for i, s := range ss {
		w[i], m[i] = s.wall, s.maxRSS
	}
	sort.Slice(w, func(i, j int) bool { return w[i] < w[j] })
	sort.Slice(m, func(i, j int) bool { return m[i] < m[j] })
	return sample{wall: w[len(w)/2], maxRSS: m[len(m)/2]}
}
