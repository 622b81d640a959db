package containers

import (
	"math"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
)

// Usage is one stats answer of the engine reduced to the counters that the
// docker stats formulas need. Counters only grow while a container lives;
// Compute treats one that went down as a restart.
type Usage struct {
	Read time.Time `json:"read"`
	// Windows is true for a Windows container: CPU is then in 100 ns
	// units over NumProcs processors, and there is no memory limit.
	Windows bool `json:"windows,omitempty"`
	// WallClock is true when the engine's system CPU time is not
	// dockerd's (all CPUs' time, idle included): Podman's is the time
	// the host's processes used, which would inflate the docker
	// formula. CPU % is then taken over the time between the reads.
	WallClock bool `json:"wall_clock,omitempty"`

	CPUTotal   uint64 `json:"cpu_total"`  // ns (Linux), 100 ns (Windows)
	SystemCPU  uint64 `json:"system_cpu"` // ns, all CPUs of the host (Linux)
	OnlineCPUs uint32 `json:"online_cpus"`
	NumProcs   uint32 `json:"num_procs,omitempty"` // Windows

	MemUsage uint64 `json:"mem_usage"` // raw usage, page cache included
	MemUsed  uint64 `json:"mem_used"`  // what docker stats shows: usage minus inactive file
	MemLimit uint64 `json:"mem_limit"`

	NetRx    uint64 `json:"net_rx"`
	NetTx    uint64 `json:"net_tx"`
	BlkRead  uint64 `json:"blk_read"`
	BlkWrite uint64 `json:"blk_write"`

	PIDs      uint64 `json:"pids"`
	PIDsLimit uint64 `json:"pids_limit,omitempty"`
}

// UsageOf reduces a stats answer (one-shot or streamed) to its counters.
// osType is the engine's OS ("windows" or "linux").
func UsageOf(s *container.StatsResponse, osType string) Usage {
	u := Usage{
		Read:      s.Read,
		Windows:   osType == "windows",
		CPUTotal:  s.CPUStats.CPUUsage.TotalUsage,
		SystemCPU: s.CPUStats.SystemUsage,
		NumProcs:  s.NumProcs,
		PIDs:      s.PidsStats.Current,
		PIDsLimit: s.PidsStats.Limit,
	}
	if u.PIDsLimit == math.MaxUint64 {
		u.PIDsLimit = 0 // cgroup v2's "max": no limit, as v1 says it
	}
	u.OnlineCPUs = s.CPUStats.OnlineCPUs
	if u.OnlineCPUs == 0 {
		// Engines before API 1.27 send only the per-CPU list.
		u.OnlineCPUs = uint32(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	for _, n := range s.Networks {
		u.NetRx += n.RxBytes
		u.NetTx += n.TxBytes
	}
	if u.Windows {
		u.MemUsage = s.MemoryStats.PrivateWorkingSet
		u.MemUsed = s.MemoryStats.PrivateWorkingSet
		u.BlkRead = s.StorageStats.ReadSizeBytes
		u.BlkWrite = s.StorageStats.WriteSizeBytes
		return u
	}
	u.MemUsage = s.MemoryStats.Usage
	u.MemUsed = memoryUsed(&s.MemoryStats)
	u.MemLimit = s.MemoryStats.Limit
	for _, e := range s.BlkioStats.IoServiceBytesRecursive {
		switch {
		case strings.EqualFold(e.Op, "read"):
			u.BlkRead += e.Value
		case strings.EqualFold(e.Op, "write"):
			u.BlkWrite += e.Value
		}
	}
	return u
}

// memoryUsed is docker stats' "MEM USAGE": the page cache that the kernel
// can drop at once (inactive file pages) does not count. cgroup v1 names it
// total_inactive_file, v2 inactive_file.
func memoryUsed(m *container.MemoryStats) uint64 {
	if v, ok := m.Stats["total_inactive_file"]; ok {
		if v < m.Usage {
			return m.Usage - v
		}
		return m.Usage
	}
	if v := m.Stats["inactive_file"]; v < m.Usage {
		return m.Usage - v
	}
	return m.Usage
}

// CPUSeconds is the container's CPU time so far.
func (u Usage) CPUSeconds() float64 {
	if u.Windows {
		return float64(u.CPUTotal) / 1e7
	}
	return float64(u.CPUTotal) / 1e9
}

// MemPercent is used memory as a share of the limit, 0 without a limit.
func (u Usage) MemPercent() float64 {
	if u.MemLimit == 0 {
		return 0
	}
	return float64(u.MemUsed) / float64(u.MemLimit) * 100
}

// CPUPercent is the docker stats CPU %: the container's share of the CPU
// time that passed between prev and u, times the number of CPUs, so one
// busy CPU is 100%. It is 0 when either delta is not positive (first sample
// after a restart, clock or counter going backwards).
func CPUPercent(prev, u Usage) float64 {
	if prev.CPUTotal > u.CPUTotal {
		return 0
	}
	used := float64(u.CPUTotal - prev.CPUTotal)
	if u.WallClock {
		// dockerd's system time stands for the wall clock times the CPUs,
		// which the docker formula multiplies back out.
		wall := float64(u.Read.Sub(prev.Read).Nanoseconds())
		if wall <= 0 {
			return 0
		}
		return used / wall * 100
	}
	if u.Windows {
		// 100 ns intervals the processors had between the two reads.
		possible := float64(u.Read.Sub(prev.Read).Nanoseconds()) / 100 * float64(u.NumProcs)
		if possible <= 0 {
			return 0
		}
		return used / possible * 100
	}
	if prev.SystemCPU >= u.SystemCPU || used == 0 {
		return 0
	}
	return used / float64(u.SystemCPU-prev.SystemCPU) * float64(u.OnlineCPUs) * 100
}

// Rate is the per-second growth of a counter from prev to cur over d; a
// counter that went down (the container restarted) counts from zero, as
// Prometheus' rate() does, so a rate is never negative.
func Rate(prev, cur uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	delta := cur
	if cur >= prev {
		delta = cur - prev
	}
	return float64(delta) / d.Seconds()
}
