//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/benchproc"
	"github.com/monctl/monctl/pkg/host"
)

// cpuTrack reads a process's CPU time and the host's every 20 ms in the
// background, so that its rate can be taken over exactly the window
// monctl measured (between the times its records carry), whatever else
// the machine is doing: a busy machine gives a burner less than a core,
// and any other window would see another share.
type cpuTrack struct {
	mu   sync.Mutex
	at   []time.Time
	cpu  []float64 // the process's CPU seconds
	host []float64 // the host's CPU seconds as dockerd counts them (no steal)
	cpus int
}

// cpuFormula is how an engine turns CPU time into a percent.
type cpuFormula int

const (
	// overHostCPU is docker stats': the container's CPU time over the
	// host's CPU time times the CPU count. On a virtual machine whose
	// host steals time it says more than overWallClock.
	overHostCPU cpuFormula = iota
	// overWallClock is podman stats': CPU time over the time between
	// the reads.
	overWallClock
)

// trackCPU starts reading pid's CPU time (all its threads, from
// /proc/PID/stat) until the test ends.
func trackCPU(t *testing.T, pidText string) *cpuTrack {
	t.Helper()
	pid, err := strconv.Atoi(pidText)
	if err != nil {
		t.Fatalf("PID %q: %v", pidText, err)
	}
	c := &cpuTrack{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			v, ok := benchproc.ProcessCPU(pid)
			// The host's CPU time as dockerd counts it (no steal); its
			// reader is unit-tested on a fixture.
			h, err := host.ReadCPU("/proc")
			if ok && err == nil {
				c.mu.Lock()
				c.at, c.cpu, c.host, c.cpus = append(c.at, time.Now()), append(c.cpu, v), append(c.host, float64(h.DockerNanos())/1e9), h.CPUs
				c.mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return c
}

// start is the time of the first reading: windows begin after it.
func (c *cpuTrack) start() time.Time {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c.mu.Lock()
		if len(c.at) > 0 {
			defer c.mu.Unlock()
			return c.at[0]
		}
		c.mu.Unlock()
	}
	return time.Now() // no reading: percent will say so
}

// percent is the process's CPU between from and to, in percent of one
// core as formula takes it, from the readings around each
// (interpolated).
func (c *cpuTrack) percent(t *testing.T, from, to time.Time, formula cpuFormula) float64 {
	t.Helper()
	waitFor(t, "a CPU reading after the window", 5*time.Second, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.at) > 0 && c.at[len(c.at)-1].After(to)
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.at) == 0 || from.Before(c.at[0]) || !to.After(from) {
		t.Fatalf("the window %v–%v is not within the readings", from, to)
	}
	used := c.value(c.cpu, to) - c.value(c.cpu, from)
	if formula == overWallClock {
		return used / to.Sub(from).Seconds() * 100
	}
	return used / (c.value(c.host, to) - c.value(c.host, from)) * float64(c.cpus) * 100
}

// value is series (one of c's) at a time, interpolated between readings.
func (c *cpuTrack) value(series []float64, at time.Time) float64 {
	i := sort.Search(len(c.at), func(i int) bool { return !c.at[i].Before(at) })
	if i == 0 {
		return series[0]
	}
	span := c.at[i].Sub(c.at[i-1]).Seconds()
	return series[i-1] + (series[i]-series[i-1])*at.Sub(c.at[i-1]).Seconds()/span
}

// windowed is a record of 'watch containers -o jsonl --count 2' with its
// sample time.
type windowed struct {
	ctr
	Time time.Time `json:"time"`
	From time.Time `json:"-"` // the sample before: where the window starts
}

// lastWindow reads the records of 'watch containers -o jsonl' and returns,
// per container, its last record and the time of the record before it:
// the window over which that record's CPU % was measured.
func lastWindow(t *testing.T, out string) map[string]windowed {
	t.Helper()
	last, from := map[string]windowed{}, map[string]time.Time{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r windowed
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		if prev, ok := last[r.Name]; ok {
			from[r.Name] = prev.Time
		}
		last[r.Name] = r
	}
	for name, r := range last {
		if from[name].IsZero() {
			t.Fatalf("%s has one record, want two to know its window:\n%s", name, out)
		}
		r.From = from[name]
		last[name] = r
	}
	return last
}

// agreesWithTrack says whether monctl's CPU % of a container matches its
// process's CPU time over the same window, taken as the engine's formula
// takes it.
func agreesWithTrack(t *testing.T, track *cpuTrack, r windowed, formula cpuFormula) (float64, bool) {
	t.Helper()
	ref := track.percent(t, r.From, r.Time, formula)
	return ref, r.CPUPercent-ref <= max(10, 0.15*ref) && ref-r.CPUPercent <= max(10, 0.15*ref)
}
