package containers

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/monctl/monctl/internal/cli/watch/live"
	ctr "github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/fleet"
)

// frame is what one interval shows: every container of every engine that
// answered, and the engines that did not.
type frame struct {
	time      time.Time
	stats     []ctr.Stats
	down      []*ctr.EngineError
	unmatched []string // container arguments that name nothing (first frame only)
	engines   []*ctr.Engine
	sources   []string             // where each engine's numbers came from (Snapshot.Source)
	fleets    []fleet.Source       // the fleets asked, after the engines
	history   map[string][]float64 // host/id → recent CPU %, oldest first
}

// sampler asks the watchers of all engines on one clock.
type sampler struct {
	watchers []*ctr.Watcher
	// fleets are asked beside the engines; their containers pass filter
	// (all: stopped ones too) as an engine's do.
	fleets  []fleet.Source
	filter  ctr.Filter
	all     bool
	history *live.History
	samples int
	// unmatched are the arguments that named nothing at the first
	// sample, to be reported with the first frame.
	unmatched []string
	// stolenWindow, when set, is how much longer a snapshot's window is
	// made when the host had steal over it: the wall clock it was to be
	// taken over counts stolen time, and the host's CPU clock, which
	// leaves it out as docker stats does, needs about a second to be
	// exact.
	stolenWindow time.Duration
}

func newSampler(watchers []*ctr.Watcher) *sampler {
	return &sampler{watchers: watchers, history: live.NewHistory(historyLen)}
}

// sample asks every engine at once. The first sample only primes the CPU
// deltas; the arguments that name nothing are known after it, and go with
// the next frame. An engine that is down is in the frame, not an error:
// the watch goes on, and says so.
func (s *sampler) sample(ctx context.Context) (*frame, error) {
	fr, stolen := s.sampleOnce(ctx)
	if s.samples == 2 && stolen && s.stolenWindow > 0 {
		select {
		case <-time.After(s.stolenWindow):
		case <-ctx.Done():
			return fr, nil
		}
		unmatched := fr.unmatched
		fr, _ = s.sampleOnce(ctx)
		fr.unmatched = unmatched
	}
	return fr, nil
}

// sampleOnce is one sample of every engine, and whether any of them had
// steal over it.
func (s *sampler) sampleOnce(ctx context.Context) (*frame, bool) {
	snaps := make([]ctr.Snapshot, len(s.watchers))
	errs := make([]error, len(s.watchers))
	var wg sync.WaitGroup
	for i, w := range s.watchers {
		wg.Go(func() { snaps[i], errs[i] = w.Sample(ctx) })
	}
	fleetStats := make([][]ctr.Stats, len(s.fleets))
	fleetErrs := make([]error, len(s.fleets))
	for i, f := range s.fleets {
		wg.Go(func() { fleetStats[i], fleetErrs[i] = f.Sample(ctx) })
	}
	wg.Wait()
	fr := &frame{time: time.Now(), fleets: s.fleets}
	for i, w := range s.watchers {
		fr.engines = append(fr.engines, w.Engine())
		fr.sources = append(fr.sources, cmp.Or(snaps[i].Source, w.Source()))
		var ee *ctr.EngineError
		switch {
		case errors.As(errs[i], &ee):
			fr.down = append(fr.down, ee)
		case errs[i] != nil: // cancelled
			fr.down = append(fr.down, &ctr.EngineError{Host: w.Engine().Host, Err: errs[i]})
		}
		fr.stats = append(fr.stats, snaps[i].Containers...)
	}
	for i, f := range s.fleets {
		if fleetErrs[i] != nil {
			fr.down = append(fr.down, &ctr.EngineError{Host: f.Name(), Err: fleetErrs[i], What: "the " + f.Kind()})
		}
		for _, st := range fleetStats[i] {
			if s.filter.Match(&st.Container, s.all) {
				fr.stats = append(fr.stats, st)
			}
		}
	}
	s.remember(fr.stats)
	fr.history = s.history.Snapshot()
	switch s.samples++; s.samples {
	case 1:
		s.unmatched = s.findUnmatched()
	case 2:
		fr.unmatched = s.unmatched
	}
	return fr, slices.ContainsFunc(snaps, func(sn ctr.Snapshot) bool { return sn.Stolen })
}

// remember keeps the last CPU % values of each running container, and
// forgets containers that are gone.
func (s *sampler) remember(stats []ctr.Stats) {
	seen := make(map[string]bool, len(stats))
	for i := range stats {
		k := historyKey(&stats[i])
		seen[k] = true
		if stats[i].Running() {
			s.history.Add(k, stats[i].CPUPercent)
		}
	}
	s.history.Keep(func(k string) bool { return seen[k] })
}

// findUnmatched are the container arguments that no engine knows.
func (s *sampler) findUnmatched() []string {
	misses := map[string]int{}
	var out []string
	for _, w := range s.watchers {
		for _, ref := range w.Unmatched() {
			if misses[ref]++; misses[ref] == len(s.watchers) {
				out = append(out, ref)
			}
		}
	}
	return out
}

// sourcesText says where the numbers came from: the source, or each
// engine's when there are several.
func (fr *frame) sourcesText() string {
	if len(fr.sources) == 1 && len(fr.fleets) == 0 {
		return fr.sources[0]
	}
	var parts []string
	for i, src := range fr.sources {
		parts = append(parts, fr.engines[i].Host+": "+src)
	}
	for _, f := range fr.fleets {
		parts = append(parts, f.Name()+": "+f.Kind())
	}
	return strings.Join(parts, ", ")
}

// sourceCount is how many engines and fleets were asked.
func (fr *frame) sourceCount() int { return len(fr.engines) + len(fr.fleets) }
