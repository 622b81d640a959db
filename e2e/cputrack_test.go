//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cpuTrack reads a process's CPU time every 20 ms in the background, so
// that its rate can be taken over exactly the window monctl measured
// (between the times its records carry), whatever else the machine is
// doing: a busy machine gives a burner less than a core, and any other
// window would see another share.
type cpuTrack struct {
	mu  sync.Mutex
	at  []time.Time
	cpu []float64 // seconds
}

// trackCPU starts reading pid's CPU time (all its threads, from
// /proc/PID/stat) until the test ends.
func trackCPU(t *testing.T, pid string) *cpuTrack {
	t.Helper()
	c := &cpuTrack{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, ok := readProcessCPU(pid); ok {
				c.mu.Lock()
				c.at, c.cpu = append(c.at, time.Now()), append(c.cpu, v)
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

// readProcessCPU is the CPU seconds a process has used, all its threads.
func readProcessCPU(pid string) (float64, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, true // USER_HZ
}

// percent is the process's CPU between from and to, in percent of one
// core, from the readings around each (interpolated).
func (c *cpuTrack) percent(t *testing.T, from, to time.Time) float64 {
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
	return (c.value(to) - c.value(from)) / to.Sub(from).Seconds() * 100
}

func (c *cpuTrack) value(at time.Time) float64 {
	i := sort.Search(len(c.at), func(i int) bool { return !c.at[i].Before(at) })
	if i == 0 {
		return c.cpu[0]
	}
	span := c.at[i].Sub(c.at[i-1]).Seconds()
	return c.cpu[i-1] + (c.cpu[i]-c.cpu[i-1])*at.Sub(c.at[i-1]).Seconds()/span
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
// process's CPU time over the same window.
func agreesWithTrack(t *testing.T, track *cpuTrack, r windowed) (float64, bool) {
	t.Helper()
	ref := track.percent(t, r.From, r.Time)
	return ref, r.CPUPercent-ref <= max(10, 0.15*ref) && ref-r.CPUPercent <= max(10, 0.15*ref)
}
