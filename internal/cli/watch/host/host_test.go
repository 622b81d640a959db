package host

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monctl/monctl/internal/cli/cmdtest"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/pkg/host"
)

func writeProc(t *testing.T, dir, stat string) {
	t.Helper()
	for name, content := range map[string]string{
		"stat":    stat,
		"meminfo": "MemTotal:        4000000 kB\nMemAvailable:    3000000 kB\n",
		"loadavg": "0.50 1.25 2.00 2/345 6789\n",
		"uptime":  "7200.00 100.00\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSample: CPU % is the busy share of all CPUs' ticks between two
// reads; I/O wait and steal are their shares; memory used is total less
// available.
func TestSample(t *testing.T) {
	dir := t.TempDir()
	writeProc(t, dir, "cpu  100 0 100 700 50 0 0 50\ncpu0 0 0 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0\n")
	s := &sampler{proc: dir, name: "box"}
	first, err := s.sample(context.Background())
	if err != nil || first.CPUPercent != 0 {
		t.Fatalf("the first read primes: %+v, %v", first, err)
	}
	// 200 more ticks: 100 busy (50 user, 30 system, 20 softirq), 40
	// idle, 40 iowait, 20 steal.
	writeProc(t, dir, "cpu  150 0 130 740 90 0 20 70\ncpu0 0 0 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0\n")
	r, err := s.sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := Record{Host: "box", CPUs: 2, CPUPercent: 50, IOWaitPercent: 20, StealPercent: 10, Load1: 0.5, Load5: 1.25, Load15: 2,
		MemoryUsed: 1000000 * 1024, MemoryTotal: 4000000 * 1024, MemoryPercent: 25, UptimeSeconds: 7200}
	r.Time = want.Time
	if r != want {
		t.Errorf("got  %+v\nwant %+v", r, want)
	}
	// I/O wait that goes back, as some kernels count it: no share, and
	// no wrap-around.
	writeProc(t, dir, "cpu  200 0 130 800 80 0 20 70\ncpu0 0 0 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0\n")
	if r, err := s.sample(context.Background()); err != nil || r.IOWaitPercent != 0 || r.CPUPercent != 50 {
		t.Errorf("iowait went back: %+v, %v", r, err)
	}
}

// TestThisHost runs the verb on this machine's /proc: the record says
// what /proc says, and a /proc without a file it needs is a failure that
// names the file.
func TestThisHost(t *testing.T) {
	var out, errOut bytes.Buffer
	err := cmdtest.Execute(NewCmd(cmdutil.NewFactory(cmdutil.IOStreams{Out: &out, ErrOut: &errOut})), "--count", "2", "--interval", "50ms", "-o", "jsonl")
	if err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	cpu, _ := host.ReadCPU("/proc")
	mem, _ := host.ReadMemory("/proc")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a record per interval:\n%s", out.String())
	}
	var r Record
	if err := json.Unmarshal([]byte(lines[1]), &r); err != nil {
		t.Fatal(err)
	}
	if r.CPUs != cpu.CPUs || r.MemoryTotal != mem.Total || r.CPUPercent < 0 || r.CPUPercent > 100 || r.MemoryUsed == 0 || r.UptimeSeconds <= 0 {
		t.Errorf("record %+v; /proc says %d CPUs, %d bytes", r, cpu.CPUs, mem.Total)
	}

	broken := t.TempDir()
	writeProc(t, broken, "cpu  1 2 3 4 5 6 7 8\n")
	os.Remove(filepath.Join(broken, "loadavg"))
	err = cmdtest.Execute(newCmd(cmdutil.NewFactory(cmdutil.IOStreams{Out: &out, ErrOut: &errOut}), broken), "--once")
	if cmdutil.CodeOf(err) != cmdutil.ExitFailure || !strings.Contains(err.Error(), "loadavg") {
		t.Errorf("no loadavg: %v", err)
	}
}
