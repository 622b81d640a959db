package containers

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
)

// StatsSource is where a watcher reads a running container's numbers.
type StatsSource string

const (
	// SourceAuto reads the cgroup files when the engine is on this host
	// and they are readable, else asks the engine.
	SourceAuto StatsSource = "auto"
	// SourceCgroup reads the cgroup files and /proc, as cAdvisor does:
	// the engine is asked only for the list, events and inspect.
	SourceCgroup StatsSource = "cgroup"
	// SourceAPI asks the engine's stats endpoint for every container.
	SourceAPI StatsSource = "api"
)

// ParseStatsSource reads auto, cgroup or api.
func ParseStatsSource(s string) (StatsSource, error) {
	switch v := StatsSource(s); v {
	case SourceAuto, SourceCgroup, SourceAPI:
		return v, nil
	}
	return "", fmt.Errorf("unknown stats source %q (want auto, cgroup or api)", s)
}

// cgroupFS reads container numbers from the cgroup file system and /proc
// the way dockerd and containerd compute its stats answer, so that the
// numbers are the ones docker stats shows: the same files, the same
// fallbacks, the same clamps (docs/architecture.md, Container numbers).
type cgroupFS struct {
	root string // /sys/fs/cgroup
	proc string // /proc
	// v2 is the unified hierarchy; a hybrid host (cgroup2 only at
	// unified/) runs its containers on v1, as containerd does.
	v2 bool
	// memTotal is the host's memory, which dockerd reports as the limit
	// of a container that has none.
	memTotal uint64
}

// openCgroupFS checks that the cgroup files and /proc of this host can
// be read, and which hierarchy is in use.
func openCgroupFS(root, proc string) (*cgroupFS, error) {
	fs := &cgroupFS{root: root, proc: proc}
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		fs.v2 = true
	} else if _, err := os.Stat(filepath.Join(root, "cpuacct")); err != nil {
		return nil, fmt.Errorf("no cgroup v1 or v2 hierarchy at %s", root)
	}
	mem, err := readMemTotal(filepath.Join(proc, "meminfo"))
	if err != nil {
		return nil, err
	}
	fs.memTotal = mem
	if _, err := fs.systemCPU(); err != nil {
		return nil, err
	}
	return fs, nil
}

// Version is "cgroup-v1" or "cgroup-v2", for saying where numbers come
// from.
func (fs *cgroupFS) Version() string {
	if fs.v2 {
		return "cgroup-v2"
	}
	return "cgroup-v1"
}

// localCgroups are the cgroup files of the engine's containers, when the
// engine runs on this host: a Linux engine on a unix socket. A VM behind
// a socket (Docker Desktop) passes this check; its containers' processes
// do not show in our /proc, so each falls back to the stats API.
func (e *Engine) localCgroups() (*cgroupFS, error) {
	if e.OSType != "linux" {
		return nil, fmt.Errorf("the engine runs %s containers", e.OSType)
	}
	if u, err := client.ParseHostURL(e.cli.DaemonHost()); err != nil || u.Scheme != "unix" {
		return nil, errors.New("the engine is not on this host (not a unix socket)")
	}
	return openCgroupFS("/sys/fs/cgroup", "/proc")
}

// cgroupDirs are the directories of one container's cgroup: one per
// controller on v1, the same one for all on v2.
type cgroupDirs struct {
	proc                     int // the container's main process
	cpu, memory, blkio, pids string
	netHost                  bool
}

// errNotLocal is a container whose cgroup cannot be found from here: its
// process is not in our /proc (another host, a VM, another PID
// namespace) or is not the container's.
var errNotLocal = errors.New("the container's process is not visible on this host")

// resolve finds a container's cgroup from its main process, and checks
// that it is the container's: its path names the container ID, as every
// cgroup driver's does (docker/ID, docker-ID.scope, libpod-ID.scope).
// That guards against a PID of another host that happens to exist here.
func (fs *cgroupFS) resolve(c *Container) (*cgroupDirs, error) {
	if c.pid <= 0 {
		return nil, errNotLocal
	}
	b, err := os.ReadFile(filepath.Join(fs.proc, strconv.Itoa(c.pid), "cgroup"))
	if err != nil {
		return nil, errNotLocal
	}
	d := &cgroupDirs{proc: c.pid, netHost: c.netMode == "host"}
	for line := range strings.Lines(string(b)) {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 || !strings.Contains(parts[2], c.ID) {
			continue
		}
		if fs.v2 {
			if parts[0] == "0" {
				dir := filepath.Join(fs.root, parts[2])
				d.cpu, d.memory, d.blkio, d.pids = dir, dir, dir, dir
			}
			continue
		}
		for ctl := range strings.SplitSeq(parts[1], ",") {
			// Each controller has a directory of its name, also when
			// several share one hierarchy (cpu,cpuacct has cpuacct/).
			dir := filepath.Join(fs.root, ctl, parts[2])
			switch ctl {
			case "cpuacct":
				d.cpu = dir
			case "memory":
				d.memory = dir
			case "blkio":
				d.blkio = dir
			case "pids":
				d.pids = dir
			}
		}
	}
	if d.cpu == "" || d.memory == "" || d.blkio == "" || d.pids == "" {
		return nil, errNotLocal
	}
	return d, nil
}

// sample reads one container's counters. system is the host's CPU time
// and CPU count read for this round.
func (fs *cgroupFS) sample(d *cgroupDirs, system hostCPU) (Usage, error) {
	var s container.StatsResponse
	s.Read = time.Now()
	s.CPUStats.SystemUsage, s.CPUStats.OnlineCPUs = system.total, system.cpus
	var err error
	if fs.v2 {
		err = fs.readV2(d, &s)
	} else {
		err = fs.readV1(d, &s)
	}
	if err != nil {
		return Usage{}, err
	}
	// dockerd reports the host's memory as the limit of a container
	// without one.
	if s.MemoryStats.Limit > fs.memTotal && fs.memTotal > 0 {
		s.MemoryStats.Limit = fs.memTotal
	}
	if !d.netHost {
		// In the host's network namespace dockerd reports no networks.
		if s.Networks, err = readNetDev(filepath.Join(fs.proc, strconv.Itoa(d.proc), "net", "dev")); err != nil {
			return Usage{}, err
		}
	}
	return UsageOf(&s, "linux"), nil
}

// readV1 reads what containerd's cgroup1 stats read.
func (fs *cgroupFS) readV1(d *cgroupDirs, s *container.StatsResponse) error {
	var err error
	read := func(dir, name string) uint64 {
		v, e := readUintFile(filepath.Join(dir, name), 0)
		err = cmp.Or(err, e)
		return v
	}
	s.CPUStats.CPUUsage.TotalUsage = read(d.cpu, "cpuacct.usage")
	s.MemoryStats.Usage = read(d.memory, "memory.usage_in_bytes")
	s.MemoryStats.Limit = read(d.memory, "memory.limit_in_bytes")
	s.PidsStats.Current = read(d.pids, "pids.current")
	s.PidsStats.Limit = read(d.pids, "pids.max")
	if err != nil {
		return err
	}
	if s.MemoryStats.Stats, err = readKeyed(filepath.Join(d.memory, "memory.stat"), "total_inactive_file"); err != nil {
		return err
	}
	// CFQ's recursive files when the kernel has them and they say
	// something, else the throttle files, as containerd does.
	if _, e := os.Lstat(filepath.Join(d.blkio, "blkio.io_serviced_recursive")); e == nil {
		if s.BlkioStats.IoServiceBytesRecursive, err = readBlkio(filepath.Join(d.blkio, "blkio.io_service_bytes_recursive")); err != nil {
			return err
		}
		if len(s.BlkioStats.IoServiceBytesRecursive) > 0 {
			return nil
		}
	}
	s.BlkioStats.IoServiceBytesRecursive, err = readBlkio(filepath.Join(d.blkio, "blkio.throttle.io_service_bytes"))
	return err
}

// readV2 reads what containerd's cgroup2 stats read. An unlimited
// memory.max or pids.max ("max") is the largest uint64 there.
func (fs *cgroupFS) readV2(d *cgroupDirs, s *container.StatsResponse) error {
	var err error
	read := func(name string) uint64 {
		v, e := readUintFile(filepath.Join(d.cpu, name), math.MaxUint64)
		err = cmp.Or(err, e)
		return v
	}
	s.MemoryStats.Usage = read("memory.current")
	s.MemoryStats.Limit = read("memory.max")
	s.PidsStats.Current = read("pids.current")
	s.PidsStats.Limit = read("pids.max")
	if err != nil {
		return err
	}
	cpu, err := readKeyed(filepath.Join(d.cpu, "cpu.stat"), "usage_usec")
	if err != nil {
		return err
	}
	s.CPUStats.CPUUsage.TotalUsage = cpu["usage_usec"] * 1000
	if s.MemoryStats.Stats, err = readKeyed(filepath.Join(d.memory, "memory.stat"), "inactive_file"); err != nil {
		return err
	}
	s.BlkioStats.IoServiceBytesRecursive, err = readIOStat(filepath.Join(d.blkio, "io.stat"))
	return err
}

// readUintFile reads a file holding one number, or "max", which is
// unlimited.
func readUintFile(path string, unlimited uint64) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := string(bytes.TrimSpace(b))
	if s == "max" {
		return unlimited, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return 0, nil // v1 files say -1 for unlimited in places
		}
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// readKeyed reads the named "key value" lines of a file such as
// memory.stat; a key that is not there is left out.
func readKeyed(path string, keys ...string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, len(keys))
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) < 2 || !slices.Contains(keys, string(f[0])) {
			continue
		}
		n, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, f[0], err)
		}
		out[string(f[0])] = n
	}
	return out, nil
}

// readBlkio reads a v1 blkio file: "MAJ:MIN Op value" lines and a
// "Total value" line, which is left out.
func readBlkio(path string) ([]container.BlkioStatEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []container.BlkioStatEntry
	for line := range bytes.Lines(b) {
		f := strings.Fields(string(line))
		if len(f) != 3 {
			continue
		}
		v, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, container.BlkioStatEntry{Op: f[1], Value: v})
	}
	return out, nil
}

// readIOStat reads v2's io.stat: per device, "MAJ:MIN rbytes=N wbytes=N
// ..."; dockerd turns each device into a read and a write entry.
func readIOStat(path string) ([]container.BlkioStatEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []container.BlkioStatEntry
	for line := range bytes.Lines(b) {
		var r, w uint64
		for _, kv := range strings.Fields(string(line))[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			switch {
			case k != "rbytes" && k != "wbytes":
				continue
			case err != nil:
				return nil, fmt.Errorf("%s: %w", path, err)
			case k == "rbytes":
				r = n
			default:
				w = n
			}
		}
		out = append(out, container.BlkioStatEntry{Op: "read", Value: r}, container.BlkioStatEntry{Op: "write", Value: w})
	}
	return out, nil
}

// readNetDev sums /proc/PID/net/dev per interface, without the loopback
// one, which dockerd does not count (it reports the interfaces it made).
func readNetDev(path string) (map[string]container.NetworkStats, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]container.NetworkStats{}
	for line := range bytes.Lines(b) {
		name, rest, ok := strings.Cut(string(line), ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" {
			continue
		}
		// receive: bytes packets errs drop fifo frame compressed multicast,
		// then transmit: bytes ...
		f := strings.Fields(rest)
		if len(f) < 16 {
			continue
		}
		rx, err1 := strconv.ParseUint(f[0], 10, 64)
		tx, err2 := strconv.ParseUint(f[8], 10, 64)
		if err := cmp.Or(err1, err2); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[name] = container.NetworkStats{RxBytes: rx, TxBytes: tx}
	}
	return out, nil
}

// hostCPU is the host's CPU time (ns, all CPUs) and CPU count, as dockerd
// reads them from /proc/stat for every stats answer.
type hostCPU struct {
	total uint64
	cpus  uint32
}

// systemCPU reads /proc/stat as dockerd does: the first seven fields of
// the cpu line (user to softirq; not steal) in clock ticks of 1/100 s,
// and a CPU per cpuN line.
func (fs *cgroupFS) systemCPU() (hostCPU, error) {
	f, err := os.Open(filepath.Join(fs.proc, "stat"))
	if err != nil {
		return hostCPU{}, err
	}
	defer f.Close()
	var h hostCPU
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 4 || line[:3] != "cpu" {
			break
		}
		if line[3] == ' ' {
			parts := strings.Fields(line)
			if len(parts) < 8 {
				return hostCPU{}, errors.New("/proc/stat: too few cpu fields")
			}
			var ticks uint64
			for _, p := range parts[1:8] {
				v, err := strconv.ParseUint(p, 10, 64)
				if err != nil {
					return hostCPU{}, fmt.Errorf("/proc/stat: %w", err)
				}
				ticks += v
			}
			h.total = ticks * 1e9 / 100
		}
		if '0' <= line[3] && line[3] <= '9' {
			h.cpus++
		}
	}
	if h.total == 0 {
		return hostCPU{}, errors.New("/proc/stat: no cpu line")
	}
	return h, sc.Err()
}

// readMemTotal is MemTotal of /proc/meminfo in bytes.
func readMemTotal(path string) (uint64, error) {
	m, err := readKeyed(path, "MemTotal:")
	if err != nil {
		return 0, err
	}
	// "MemTotal:       24684084 kB": the value holds the unit.
	return m["MemTotal:"] * 1024, nil
}
