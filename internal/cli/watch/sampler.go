package watch

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/monctl/monctl/pkg/containers"
)

// historyLen is how many CPU % values the sparkline of -o wide shows.
const historyLen = 10

// frame is what one interval shows: every container of every engine that
// answered, and the engines that did not.
type frame struct {
	time      time.Time
	stats     []containers.Stats
	down      []*containers.EngineError
	unmatched []string // container arguments that name nothing (first frame only)
	engines   []*containers.Engine
	history   map[string][]float64 // host+id → recent CPU %, oldest first
}

// sampler drives the watchers of all engines on one clock.
type sampler struct {
	watchers []*containers.Watcher
	interval time.Duration
	history  map[string][]float64
}

// run emits a frame every interval, count times (0: until ctx ends). The
// first sample only primes the CPU deltas, so the first frame comes one
// interval after the start and already has real CPU % and rates.
func (s *sampler) run(ctx context.Context, count int, emit func(*frame) error) error {
	s.history = map[string][]float64{}
	// The clock starts before the first sample: engines before 25 answer
	// a stats call only at their next 1 s collection, and the interval
	// should not come on top of that wait.
	ticker := time.NewTicker(s.interval)
	defer ticker.Stop()
	s.sample(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	unmatched := s.unmatched()
	for n := 0; count == 0 || n < count; n++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
		fr := s.sample(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fr.unmatched, unmatched = unmatched, nil
		if err := emit(fr); err != nil {
			return err
		}
	}
	return nil
}

// sample asks every engine at once.
func (s *sampler) sample(ctx context.Context) *frame {
	snaps := make([]containers.Snapshot, len(s.watchers))
	errs := make([]error, len(s.watchers))
	var wg sync.WaitGroup
	for i, w := range s.watchers {
		wg.Go(func() { snaps[i], errs[i] = w.Sample(ctx) })
	}
	wg.Wait()
	fr := &frame{time: time.Now()}
	for i, w := range s.watchers {
		fr.engines = append(fr.engines, w.Engine())
		var ee *containers.EngineError
		switch {
		case errors.As(errs[i], &ee):
			fr.down = append(fr.down, ee)
		case errs[i] != nil: // cancelled
			fr.down = append(fr.down, &containers.EngineError{Host: w.Engine().Host, Err: errs[i]})
		}
		fr.stats = append(fr.stats, snaps[i].Containers...)
	}
	s.remember(fr.stats)
	fr.history = maps.Clone(s.history)
	return fr
}

// remember keeps the last CPU % values of each container, and forgets
// containers that are gone.
func (s *sampler) remember(stats []containers.Stats) {
	seen := make(map[string]bool, len(stats))
	for i := range stats {
		k := stats[i].Host + "/" + stats[i].ID
		seen[k] = true
		if !stats[i].Running() {
			continue
		}
		// A new slice each time: frames handed to the live view keep
		// reading the old ones while the next sample is taken.
		old := s.history[k]
		s.history[k] = append(slices.Clone(old[max(0, len(old)-historyLen+1):]), stats[i].CPUPercent)
	}
	for k := range s.history {
		if !seen[k] {
			delete(s.history, k)
		}
	}
}

// unmatched are the container arguments that no engine knows.
func (s *sampler) unmatched() []string {
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
