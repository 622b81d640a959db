package containers

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

// The cgroup1-* fixtures are one-shot answers of Debian's Docker 20.10
// (API 1.41) on a cgroup v1 host; cgroup2.json and windows.json follow the
// Engine API reference's examples of those platforms.
func fixture(t *testing.T, name string) *container.StatsResponse {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var s container.StatsResponse
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &s
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestCgroupV1(t *testing.T) {
	a := UsageOf(fixture(t, "cgroup1-burner-a.json"), "linux")
	b := UsageOf(fixture(t, "cgroup1-burner-b.json"), "linux")
	// (393002395852-391875093386) / (5876770000000-5874530000000) × 2 CPUs × 100
	near(t, "burner CPU %", CPUPercent(a, b), 1127302466.0/2240000000.0*2*100)
	near(t, "burner CPU seconds", b.CPUSeconds(), 393.002395852)
	if b.OnlineCPUs != 2 || b.PIDs != 4 {
		t.Errorf("online CPUs %d, PIDs %d; want 2, 4", b.OnlineCPUs, b.PIDs)
	}

	w := UsageOf(fixture(t, "cgroup1-writer-a.json"), "linux")
	// usage 36573184 minus total_inactive_file 33554432 (the file it wrote).
	if w.MemUsed != 3018752 || w.MemUsage != 36573184 {
		t.Errorf("writer memory used %d, usage %d; want 3018752, 36573184", w.MemUsed, w.MemUsage)
	}
	// Only the Read and Write rows count, not Sync, Async or Total.
	if w.BlkRead != 0 || w.BlkWrite != 33693696 {
		t.Errorf("writer block I/O %d / %d, want 0 / 33693696", w.BlkRead, w.BlkWrite)
	}
	near(t, "writer MEM %", w.MemPercent(), 3018752.0/float64(w.MemLimit)*100)
}

func TestCgroupV2(t *testing.T) {
	u := UsageOf(fixture(t, "cgroup2.json"), "linux")
	want := Usage{
		Read: time.Date(2026, 11, 21, 10, 0, 1, 0, time.UTC), CPUTotal: 5500000000, SystemCPU: 100004000000000, OnlineCPUs: 4,
		MemUsage: 209715200, MemUsed: 209715200 - 41943040, MemLimit: 536870912,
		NetRx: 1500, NetTx: 2700, BlkRead: 1048576 + 4096, BlkWrite: 2097152, PIDs: 12, PIDsLimit: 4096,
	}
	if u != want {
		t.Errorf("usage\n got %+v\nwant %+v", u, want)
	}
	near(t, "MEM %", u.MemPercent(), 167772160.0/536870912*100)
	prev := u
	prev.CPUTotal -= 2e9      // two CPU seconds...
	prev.SystemCPU -= 4 * 1e9 // ...in one second of four CPUs
	near(t, "CPU %", CPUPercent(prev, u), 200)
}

func TestWindows(t *testing.T) {
	s := fixture(t, "windows.json")
	u := UsageOf(s, "windows")
	prev := Usage{Windows: true, Read: s.PreRead, CPUTotal: s.PreCPUStats.CPUUsage.TotalUsage, NumProcs: 4}
	// 2e7 × 100 ns of CPU in 1 s on 4 processors (4e7 intervals): 50%.
	near(t, "CPU %", CPUPercent(prev, u), 50)
	near(t, "CPU seconds", u.CPUSeconds(), 3)
	if u.MemUsed != 50000000 || u.MemLimit != 0 || u.MemPercent() != 0 {
		t.Errorf("memory %d limit %d (%v%%); want the private working set, no limit", u.MemUsed, u.MemLimit, u.MemPercent())
	}
	if u.BlkRead != 65536 || u.BlkWrite != 131072 || u.NetRx != 4200 || u.NetTx != 2100 {
		t.Errorf("I/O %+v", u)
	}
	if CPUPercent(u, u) != 0 {
		t.Error("no time passed: want 0%")
	}
}

func TestCountersGoingBackwards(t *testing.T) {
	at := func(sec int, cpu, sys, rx uint64) Usage {
		return Usage{Read: time.Unix(int64(sec), 0), CPUTotal: cpu, SystemCPU: sys, OnlineCPUs: 2, NetRx: rx}
	}
	before, restarted := at(10, 5e9, 100e9, 1e6), at(11, 1e8, 102e9, 500)
	if got := CPUPercent(before, restarted); got != 0 {
		t.Errorf("CPU %% across a restart = %v, want 0", got)
	}
	// The restarted counter counts from zero: 500 bytes in one second.
	near(t, "rate across a restart", Rate(before.NetRx, restarted.NetRx, time.Second), 500)
	near(t, "rate", Rate(1000, 3000, 2*time.Second), 1000)
	if Rate(1, 2, 0) != 0 {
		t.Error("rate over no time must be 0")
	}
	// A system counter that did not move (two reads in the same tick).
	if got := CPUPercent(at(1, 1, 5, 0), at(1, 2, 5, 0)); got != 0 {
		t.Errorf("CPU %% without system delta = %v, want 0", got)
	}
}

func TestZeroLimitsAndOldEngines(t *testing.T) {
	s := &container.StatsResponse{}
	s.MemoryStats.Usage = 100
	s.MemoryStats.Stats = map[string]uint64{"total_inactive_file": 300} // more than usage: ignored
	s.CPUStats.CPUUsage.PercpuUsage = []uint64{1, 2, 3}                 // no online_cpus before API 1.27
	u := UsageOf(s, "linux")
	if u.MemUsed != 100 || u.MemPercent() != 0 || u.OnlineCPUs != 3 {
		t.Errorf("used %d, %v%%, %d CPUs; want 100, 0%%, 3", u.MemUsed, u.MemPercent(), u.OnlineCPUs)
	}
}

// TestPodmanCPUOverTheWallClock: Podman's system_cpu_usage is the CPU
// time the host's processes used, not all of it; with the host half busy
// the docker formula would say 200% for one busy core (and 0% on cgroup
// v2, where Podman sends no online_cpus). Over the wall clock it is 100%.
func TestPodmanCPUOverTheWallClock(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	prev := Usage{Read: t0, CPUTotal: 1e9, SystemCPU: 10e9, OnlineCPUs: 2, WallClock: true}
	cur := Usage{Read: t0.Add(2 * time.Second), CPUTotal: 3e9, SystemCPU: 12e9, WallClock: true}
	near(t, "Podman CPU %", CPUPercent(prev, cur), 100)
	cur.Read = t0
	if got := CPUPercent(prev, cur); got != 0 {
		t.Errorf("CPU %% over no time = %v, want 0", got)
	}
}
