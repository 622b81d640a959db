package containers

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"golang.org/x/sys/unix"

	"github.com/monctl/monctl/pkg/host"
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
	// bufs are the buffers of read, one per file being read at once.
	bufs sync.Pool
}

// openCgroupFS checks that the cgroup files and /proc of this host can
// be read, and which hierarchy is in use.
func openCgroupFS(root, proc string) (*cgroupFS, error) {
	fs := &cgroupFS{root: root, proc: proc}
	fs.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		fs.v2 = true
	} else if _, err := os.Stat(filepath.Join(root, "cpuacct")); err != nil {
		return nil, fmt.Errorf("no cgroup v1 or v2 hierarchy at %s", root)
	}
	mem, err := host.ReadMemory(proc)
	if err != nil {
		return nil, err
	}
	fs.memTotal = mem.Total
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
	// noNet: in the host's network or none, dockerd reports no networks.
	noNet bool
	// Read when the container is (re)inspected: limits change only with
	// 'docker update', which sends an event that inspects it again; and
	// whether the kernel has CFQ's blkio files, which it does or not.
	memLimit, pidsLimit uint64
	cfq                 bool
	// The files read every round, kept open between rounds, so that a
	// read is one pread instead of a path walk, a read and a close;
	// close releases them. -1 is not open (0 is a file too when monctl
	// runs with its standard input closed).
	paths [fileCount]string
	fds   [fileCount]int
}

// The files of a container read every round.
const (
	fileCPU           = iota // cpuacct.usage (v1), cpu.stat (v2)
	fileMemory               // memory.usage_in_bytes, memory.current
	filePids                 // pids.current
	fileMemoryStat           // memory.stat
	fileBlkio                // CFQ's blkio.io_service_bytes_recursive (v1), io.stat (v2)
	fileBlkioThrottle        // blkio.throttle.io_service_bytes (v1)
	fileNetDev               // /proc/PID/net/dev
	fileCount
)

// close releases the files kept open.
func (d *cgroupDirs) close() {
	for i, fd := range d.fds {
		if fd >= 0 {
			unix.Close(fd)
		}
		d.fds[i] = -1
	}
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
	d := &cgroupDirs{proc: c.pid, noNet: c.netMode == "host" || c.netMode == "none"}
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
	if err := fs.readLimits(d); err != nil {
		return nil, errNotLocal // it went away meanwhile
	}
	if fs.v2 {
		d.paths = [fileCount]string{fileCPU: filepath.Join(d.cpu, "cpu.stat"), fileMemory: filepath.Join(d.memory, "memory.current"),
			fileMemoryStat: filepath.Join(d.memory, "memory.stat"), fileBlkio: filepath.Join(d.blkio, "io.stat")}
	} else {
		d.paths = [fileCount]string{fileCPU: filepath.Join(d.cpu, "cpuacct.usage"), fileMemory: filepath.Join(d.memory, "memory.usage_in_bytes"),
			fileMemoryStat: filepath.Join(d.memory, "memory.stat"), fileBlkio: filepath.Join(d.blkio, "blkio.io_service_bytes_recursive"),
			fileBlkioThrottle: filepath.Join(d.blkio, "blkio.throttle.io_service_bytes")}
	}
	d.paths[filePids] = filepath.Join(d.pids, "pids.current")
	for i := range d.fds {
		d.fds[i] = -1
	}
	d.paths[fileNetDev] = filepath.Join(fs.proc, strconv.Itoa(d.proc), "net", "dev")
	return d, nil
}

// readLimits reads what changes only with 'docker update': the memory
// and PIDs limits ("max" is no limit: the largest uint64 on v2, 0 on v1,
// as containerd reads them), and whether CFQ's blkio files are there.
func (fs *cgroupFS) readLimits(d *cgroupDirs) error {
	var err error
	if fs.v2 {
		err = fs.readPath(filepath.Join(d.memory, "memory.max"), uintInto(&d.memLimit, math.MaxUint64))
		if err == nil {
			err = fs.readPath(filepath.Join(d.pids, "pids.max"), uintInto(&d.pidsLimit, math.MaxUint64))
		}
		return err
	}
	err = fs.readPath(filepath.Join(d.memory, "memory.limit_in_bytes"), uintInto(&d.memLimit, 0))
	if err == nil {
		err = fs.readPath(filepath.Join(d.pids, "pids.max"), uintInto(&d.pidsLimit, 0))
	}
	_, cfqErr := os.Lstat(filepath.Join(d.blkio, "blkio.io_serviced_recursive"))
	d.cfq = cfqErr == nil
	return err
}

// sample reads one container's counters. system is the host's CPU time
// and CPU count read for this round.
func (fs *cgroupFS) sample(d *cgroupDirs, system host.CPUTimes) (Usage, error) {
	var s container.StatsResponse
	s.Read = time.Now()
	s.CPUStats.SystemUsage, s.CPUStats.OnlineCPUs = system.DockerNanos(), uint32(system.CPUs)
	s.MemoryStats.Limit, s.PidsStats.Limit = d.memLimit, d.pidsLimit
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
	if !d.noNet {
		err = fs.read(d, fileNetDev, func(b []byte) (err error) {
			s.Networks, err = parseNetDev(b)
			return err
		})
		if err != nil {
			return Usage{}, err
		}
	}
	return UsageOf(&s, "linux"), nil
}

// readV1 reads what containerd's cgroup1 stats read, but the limits.
func (fs *cgroupFS) readV1(d *cgroupDirs, s *container.StatsResponse) error {
	if err := fs.read(d, fileCPU, uintInto(&s.CPUStats.CPUUsage.TotalUsage, 0)); err != nil {
		return err
	}
	if err := fs.read(d, fileMemory, uintInto(&s.MemoryStats.Usage, 0)); err != nil {
		return err
	}
	if err := fs.read(d, filePids, uintInto(&s.PidsStats.Current, 0)); err != nil {
		return err
	}
	if err := fs.readMemoryStat(d, s, "total_inactive_file"); err != nil {
		return err
	}
	// CFQ's recursive files when the kernel has them and they say
	// something, else the throttle files, as containerd does.
	blkio := func(file int) error {
		return fs.read(d, file, func(b []byte) (err error) {
			s.BlkioStats.IoServiceBytesRecursive, err = parseBlkio(b)
			return err
		})
	}
	if d.cfq {
		if err := blkio(fileBlkio); err != nil || len(s.BlkioStats.IoServiceBytesRecursive) > 0 {
			return err
		}
	}
	return blkio(fileBlkioThrottle)
}

// readV2 reads what containerd's cgroup2 stats read, but the limits.
func (fs *cgroupFS) readV2(d *cgroupDirs, s *container.StatsResponse) error {
	if err := fs.read(d, fileMemory, uintInto(&s.MemoryStats.Usage, 0)); err != nil {
		return err
	}
	if err := fs.read(d, filePids, uintInto(&s.PidsStats.Current, 0)); err != nil {
		return err
	}
	err := fs.read(d, fileCPU, func(b []byte) error {
		usec, _, err := parseKey(b, "usage_usec")
		s.CPUStats.CPUUsage.TotalUsage = usec * 1000
		return err
	})
	if err != nil {
		return err
	}
	if err := fs.readMemoryStat(d, s, "inactive_file"); err != nil {
		return err
	}
	return fs.read(d, fileBlkio, func(b []byte) (err error) {
		s.BlkioStats.IoServiceBytesRecursive, err = parseIOStat(b)
		return err
	})
}

// readMemoryStat reads the one memory.stat key docker stats' formula
// needs (the inactive file cache), into the stats map where the formula
// looks for it.
func (fs *cgroupFS) readMemoryStat(d *cgroupDirs, s *container.StatsResponse, key string) error {
	return fs.read(d, fileMemoryStat, func(b []byte) error {
		v, ok, err := parseKey(b, key)
		if ok {
			s.MemoryStats.Stats = map[string]uint64{key: v}
		}
		return err
	})
}

// uintInto parses a file holding one number, or "max", which is
// unlimited, into v.
func uintInto(v *uint64, unlimited uint64) func([]byte) error {
	return func(b []byte) (err error) {
		*v, err = parseUint(b, unlimited)
		return err
	}
}

// read hands the contents of one of a container's files to parse. It
// opens the file the first time and keeps it open: the next rounds
// read it again from the start with one pread (a kernel file is made
// afresh for each read from its start). A file that fails is closed, to
// be opened again next time.
func (fs *cgroupFS) read(d *cgroupDirs, file int, parse func([]byte) error) error {
	path := d.paths[file]
	if d.fds[file] < 0 {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: path, Err: err}
		}
		d.fds[file] = fd
	}
	err := fs.readFD(d.fds[file], path, parse)
	if err != nil {
		unix.Close(d.fds[file])
		d.fds[file] = -1
	}
	return err
}

// readPath hands the contents of the file at path to parse, for files
// read once.
func (fs *cgroupFS) readPath(path string, parse func([]byte) error) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	return fs.readFD(fd, path, parse)
}

// readFD reads a small kernel file from its start into a buffer used
// again, without allocating.
func (fs *cgroupFS) readFD(fd int, path string, parse func([]byte) error) error {
	bp := fs.bufs.Get().(*[]byte)
	defer fs.bufs.Put(bp)
	b := (*bp)[:cap(*bp)]
	n := 0
	for {
		if n == len(b) {
			b = append(b, make([]byte, len(b))...)
			*bp = b
		}
		m, err := unix.Pread(fd, b[n:], int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
		// The kernel fills a read with as much of a seq_file as it
		// holds, a page at a time: a short read within the first page
		// is the whole file.
		if n < len(b) && n < os.Getpagesize() {
			break
		}
	}
	if err := parse(b[:n]); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// parseUint reads one number, or "max", which is unlimited; a negative
// number (v1's -1) is 0, as containerd reads it.
func parseUint(b []byte, unlimited uint64) (uint64, error) {
	t := string(bytes.TrimSpace(b))
	if t == "max" {
		return unlimited, nil
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		if i, ierr := strconv.ParseInt(t, 10, 64); ierr == nil && i < 0 {
			return 0, nil
		}
		return 0, err
	}
	return v, nil
}

// parseKey finds the "key value" line of a file such as memory.stat
// (some 40 lines, read for every container in every round: no
// allocation per line).
func parseKey(b []byte, key string) (uint64, bool, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte(key))
		if !ok || len(rest) == 0 || rest[0] != ' ' && rest[0] != '\t' {
			continue
		}
		v, err := strconv.ParseUint(string(bytes.TrimSpace(rest)), 10, 64)
		if err != nil {
			// meminfo's "MemTotal: 123 kB" carries its unit.
			f := bytes.Fields(rest)
			if len(f) > 0 {
				v, err = strconv.ParseUint(string(f[0]), 10, 64)
			}
		}
		return v, err == nil, err
	}
	return 0, false, nil
}

// parseBlkio reads a v1 blkio file: "MAJ:MIN Op value" lines and a
// "Total value" line, which is left out.
func parseBlkio(b []byte) ([]container.BlkioStatEntry, error) {
	var out []container.BlkioStatEntry
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) != 3 {
			continue
		}
		v, err := strconv.ParseUint(string(f[2]), 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, container.BlkioStatEntry{Op: string(f[1]), Value: v})
	}
	return out, nil
}

// parseIOStat reads v2's io.stat: per device, "MAJ:MIN rbytes=N wbytes=N
// ..."; dockerd turns each device into a read and a write entry.
func parseIOStat(b []byte) ([]container.BlkioStatEntry, error) {
	var out []container.BlkioStatEntry
	for line := range bytes.Lines(b) {
		var r, w uint64
		for _, kv := range bytes.Fields(line) {
			k, v, _ := bytes.Cut(kv, []byte("="))
			var dst *uint64
			switch string(k) {
			case "rbytes":
				dst = &r
			case "wbytes":
				dst = &w
			default:
				continue
			}
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return nil, err
			}
			*dst = n
		}
		out = append(out, container.BlkioStatEntry{Op: "read", Value: r}, container.BlkioStatEntry{Op: "write", Value: w})
	}
	return out, nil
}

// parseNetDev reads /proc/PID/net/dev per interface, without the
// loopback one, which dockerd does not count (it reports the interfaces
// it made).
func parseNetDev(b []byte) (map[string]container.NetworkStats, error) {
	out := map[string]container.NetworkStats{}
	for line := range bytes.Lines(b) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		name = bytes.TrimSpace(name)
		if !ok || string(name) == "lo" {
			continue
		}
		// receive: bytes packets errs drop fifo frame compressed multicast,
		// then transmit: bytes ...
		f := bytes.Fields(rest)
		if len(f) < 16 {
			continue
		}
		rx, err1 := strconv.ParseUint(string(f[0]), 10, 64)
		tx, err2 := strconv.ParseUint(string(f[8]), 10, 64)
		if err := cmp.Or(err1, err2); err != nil {
			return nil, err
		}
		out[string(name)] = container.NetworkStats{RxBytes: rx, TxBytes: tx}
	}
	return out, nil
}

// systemCPU reads the host's CPU time as dockerd does for every stats
// answer.
func (fs *cgroupFS) systemCPU() (host.CPUTimes, error) { return host.ReadCPU(fs.proc) }
