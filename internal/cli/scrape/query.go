package scrape

import (
	"context"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/monctl/monctl/internal/cli/ask"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/query"
)

// QueryFlags ask PromQL questions of what scrape gathered, over a window
// of several gatherings for range functions.
type QueryFlags struct {
	ask.Flags
	Window  time.Duration
	Samples int
}

func (q *QueryFlags) addQueryFlags(fl *pflag.FlagSet) {
	q.AddFlags(fl, "what was gathered (with up and scrape_duration_seconds per target)")
	cmdutil.DurationVar(fl, &q.Window, "window", 0, "gather --samples times over this window, for range functions (rate, increase, deriv, *_over_time)")
	fl.IntVar(&q.Samples, "samples", 2, "how many times --window gathers, evenly spread (at least 2)")
}

// check refuses bad questions before anything is gathered.
func (q *QueryFlags) check(p *output.Printer, rate time.Duration, targets []exposition.Target) error {
	if err := q.Check(p); err != nil {
		return err
	}
	switch {
	case q.Window < 0:
		return cmdutil.UsageError("--window must be positive")
	case q.Window > 0 && q.Samples < 2:
		return cmdutil.UsageError("--samples must be at least 2 (the start and the end of --window)")
	case rate > 0:
		return cmdutil.UsageError("--rate prints rates of the exposition; with --query, use rate() over a --window")
	}
	if q.Window > 0 {
		for _, t := range targets {
			if t.URL == "-" {
				return cmdutil.UsageError("--window gathers more than once, and standard input can be read only once")
			}
		}
	}
	return nil
}

// gather scrapes the targets (once, or --samples times over --window)
// into a store, with each target's up and scrape_duration_seconds as
// Prometheus records them. It returns the store and the results of the
// last gathering.
func (o *Options) gather(ctx context.Context, s *exposition.Scraper, targets []exposition.Target, sel *exposition.Selector) (*query.Store, []exposition.Result, error) {
	store := o.NewStore()
	rounds := 1
	if o.Window > 0 {
		rounds = o.Samples
	}
	var results []exposition.Result
	for i := range rounds {
		if i > 0 {
			select {
			case <-time.After(o.Window / time.Duration(rounds-1)):
			case <-ctx.Done():
				return nil, nil, context.Cause(ctx)
			}
		}
		results = o.gatherOnce(ctx, s, targets, sel, store)
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		if err := o.Round(ctx, store); err != nil {
			return nil, nil, err
		}
	}
	return store, results, nil
}

// gatherOnce scrapes every target at once (at most --concurrency), each
// streamed into a store of its own family by family, so that the parsed
// exposition is never held whole; the stores of the targets that
// succeeded join store, as a scrape that fails adds nothing in
// Prometheus. Every target adds its up and scrape_duration_seconds.
func (o *Options) gatherOnce(ctx context.Context, s *exposition.Scraper, targets []exposition.Target, sel *exposition.Selector, store *query.Store) []exposition.Result {
	stores := make([]*query.Store, len(targets))
	extra := func(target string) []exposition.Label {
		if len(targets) > 1 {
			return []exposition.Label{{Name: exposition.TargetLabel, Value: target}}
		}
		return nil
	}
	// Each target's families go into its store on a goroutine of their
	// own while the parser goes on: parsing and storing overlap.
	type parsed struct {
		at time.Time
		f  exposition.Family
	}
	queues := make([]chan parsed, len(targets))
	var adders sync.WaitGroup
	for i := range stores {
		stores[i] = o.NewStore()
		queues[i] = make(chan parsed, 256)
		adders.Go(func() {
			for p := range queues[i] {
				stores[i].Add(p.at, sel.Filter([]exposition.Family{p.f}), extra(targets[i].DisplayName())...)
			}
		})
	}
	results := s.StreamAll(ctx, targets, o.Concurrency, func(i int, start time.Time, f *exposition.Family) error {
		queues[i] <- parsed{start, *f} // an emitted family is the reader's
		return nil
	})
	for _, q := range queues {
		close(q)
	}
	adders.Wait()
	for i := range results {
		r := &results[i]
		if r.Err == nil {
			store.Merge(stores[i])
		}
		store.Add(r.Start, r.ScrapeFamilies(), extra(r.Target)...)
	}
	return results
}
