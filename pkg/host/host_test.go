package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// proc writes a /proc of the files given.
func proc(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadCPU(t *testing.T) {
	dir := proc(t, map[string]string{"stat": "cpu  100 10 50 800 20 5 15 40 0 0\ncpu0 50 5 25 400 10 2 8 20 0 0\ncpu1 50 5 25 400 10 3 7 20 0 0\nintr 12345 1 2 3\nctxt 99\n"})
	c, err := ReadCPU(dir)
	if err != nil {
		t.Fatal(err)
	}
	// dockerd's count: 100+10+50+800+20+5+15 ticks of 10 ms, not steal.
	if c.CPUs != 2 || c.DockerNanos() != 10_000_000_000 || c.Ticks() != 1040 || c.BusyTicks() != 180 || c.Steal != 40 {
		t.Errorf("%+v: docker %d ns, %d ticks, %d busy", c, c.DockerNanos(), c.Ticks(), c.BusyTicks())
	}
	for _, c := range []struct{ stat, want string }{
		{"cpu  1 2 3\n", "too few cpu fields"},
		{"cpu  1 2 3 4 5 6 7 x\n", "invalid syntax"},
		{"intr 1\n", "no cpu line"},
	} {
		if _, err := ReadCPU(proc(t, map[string]string{"stat": c.stat})); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %s", c.stat, err, c.want)
		}
	}
	if _, err := ReadCPU(t.TempDir()); err == nil {
		t.Error("no stat file: no error")
	}
}

func TestReadMemoryLoadUptime(t *testing.T) {
	dir := proc(t, map[string]string{
		"meminfo": "MemTotal:        2048000 kB\nMemFree:          100000 kB\nMemAvailable:    1024000 kB\n",
		"loadavg": "0.50 1.25 2.00 2/345 6789\n",
		"uptime":  "3600.52 7000.10\n",
	})
	m, err := ReadMemory(dir)
	if err != nil || m.Total != 2048000*1024 || m.Available != 1024000*1024 {
		t.Errorf("memory %+v, %v", m, err)
	}
	l, err := ReadLoad(dir)
	if err != nil || l != (Load{0.5, 1.25, 2}) {
		t.Errorf("load %+v, %v", l, err)
	}
	up, err := ReadUptime(dir)
	if err != nil || up != 3600.52 {
		t.Errorf("uptime %v, %v", up, err)
	}
	if _, err := ReadMemory(proc(t, map[string]string{"meminfo": "MemFree: 1 kB\n"})); err == nil || !strings.Contains(err.Error(), "no MemTotal") {
		t.Errorf("no MemTotal: %v", err)
	}
}

func TestStoleSince(t *testing.T) {
	prev := CPUTimes{User: 10, Steal: 5, CPUs: 2}
	for _, c := range []struct {
		prev, now CPUTimes
		want      bool
	}{
		{CPUTimes{}, CPUTimes{Steal: 9, CPUs: 2}, false}, // nothing read before
		{prev, CPUTimes{User: 20, Steal: 5, CPUs: 2}, false},
		{prev, CPUTimes{User: 20, Steal: 6, CPUs: 2}, true},
	} {
		if got := c.now.StoleSince(c.prev); got != c.want {
			t.Errorf("%+v since %+v: %v, want %v", c.now, c.prev, got, c.want)
		}
	}
}
