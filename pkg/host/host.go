// Package host reads the numbers of the machine monctl runs on from its
// /proc: the CPU time and memory that the container formulas need
// (dockerd's system CPU time, the memory it gives a container without a
// limit) and what a view of the host shows (CPU, memory, load, uptime).
//
// Memory and load come through prometheus/procfs. /proc/stat is read here:
// it is read every round for every engine, and procfs parses all of it
// (a line per CPU, every interrupt) where only the cpu lines are needed.
package host

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/prometheus/procfs"
)

// userHZ is the unit of /proc/stat's times: the kernel's USER_HZ, 100 on
// every architecture Linux exposes it for.
const userHZ = 100

// CPUTimes are the host's CPU times since boot, summed over its CPUs, in
// ticks of 1/100 s, as /proc/stat's cpu line gives them.
type CPUTimes struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal uint64
	// CPUs is how many cpuN lines there are: the CPUs online.
	CPUs int
}

// dockerTicks are the first seven fields (not steal): what dockerd
// counts as the host's CPU time.
func (c CPUTimes) dockerTicks() uint64 {
	return c.User + c.Nice + c.System + c.Idle + c.IOWait + c.IRQ + c.SoftIRQ
}

// DockerNanos is the host's CPU time as dockerd counts it for the
// system_cpu_usage of its stats, in nanoseconds.
func (c CPUTimes) DockerNanos() uint64 { return c.dockerTicks() * (1e9 / userHZ) }

// Ticks is every tick, steal included.
func (c CPUTimes) Ticks() uint64 { return c.dockerTicks() + c.Steal }

// StoleSince says whether the hypervisor took CPU time from this host, a
// VM, between prev and c; false when prev was never read.
func (c CPUTimes) StoleSince(prev CPUTimes) bool { return prev.CPUs > 0 && c.Steal > prev.Steal }

// BusyTicks are the ticks that were not idle, waiting for I/O or stolen.
func (c CPUTimes) BusyTicks() uint64 { return c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ }

// ReadCPU reads the cpu lines of proc's stat (proc is /proc, or another
// mount of it).
func ReadCPU(proc string) (CPUTimes, error) {
	f, err := os.Open(filepath.Join(proc, "stat"))
	if err != nil {
		return CPUTimes{}, err
	}
	defer f.Close()
	var c CPUTimes
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) < 4 || string(line[:3]) != "cpu" {
			break // the cpu lines come first
		}
		if line[3] == ' ' {
			fields := bytes.Fields(line[4:])
			if len(fields) < 8 {
				return CPUTimes{}, errors.New("/proc/stat: too few cpu fields")
			}
			var v [8]uint64
			for i := range v {
				if v[i], err = strconv.ParseUint(string(fields[i]), 10, 64); err != nil {
					return CPUTimes{}, fmt.Errorf("/proc/stat: %w", err)
				}
			}
			c = CPUTimes{User: v[0], Nice: v[1], System: v[2], Idle: v[3], IOWait: v[4], IRQ: v[5], SoftIRQ: v[6], Steal: v[7], CPUs: c.CPUs}
			found = true
		} else if '0' <= line[3] && line[3] <= '9' {
			c.CPUs++
		}
	}
	if err := sc.Err(); err != nil {
		return CPUTimes{}, err
	}
	if !found {
		return CPUTimes{}, errors.New("/proc/stat: no cpu line")
	}
	return c, nil
}

// Memory is the host's memory, in bytes.
type Memory struct {
	Total uint64
	// Available is what can be given to programs without swapping
	// (MemAvailable): Total less it is what free(1) calls used.
	Available uint64
}

// ReadMemory reads proc's meminfo.
func ReadMemory(proc string) (Memory, error) {
	fs, err := procfs.NewFS(proc)
	if err != nil {
		return Memory{}, err
	}
	mi, err := fs.Meminfo()
	if err != nil {
		return Memory{}, err
	}
	if mi.MemTotalBytes == nil {
		return Memory{}, fmt.Errorf("%s: no MemTotal", filepath.Join(proc, "meminfo"))
	}
	m := Memory{Total: *mi.MemTotalBytes}
	if mi.MemAvailableBytes != nil {
		m.Available = *mi.MemAvailableBytes
	}
	return m, nil
}

// Load is the load average over 1, 5 and 15 minutes.
type Load struct{ Load1, Load5, Load15 float64 }

// ReadLoad reads proc's loadavg.
func ReadLoad(proc string) (Load, error) {
	fs, err := procfs.NewFS(proc)
	if err != nil {
		return Load{}, err
	}
	l, err := fs.LoadAvg()
	if err != nil {
		return Load{}, err
	}
	return Load{l.Load1, l.Load5, l.Load15}, nil
}

// ReadUptime is the seconds since boot, from proc's uptime.
func ReadUptime(proc string) (float64, error) {
	b, err := os.ReadFile(filepath.Join(proc, "uptime"))
	if err != nil {
		return 0, err
	}
	first, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte(" "))
	up, err := strconv.ParseFloat(string(first), 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", filepath.Join(proc, "uptime"), err)
	}
	return up, nil
}
