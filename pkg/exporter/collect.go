package exporter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/fleet"
)

// The collectors a source can belong to, as the collector label says.
const (
	CollectorContainers = "containers"
	CollectorTarget     = "target"
	CollectorKubernetes = "kubernetes"
)

// SourceResult is what one source gave in one collection.
type SourceResult struct {
	// Collector is CollectorContainers (Source: the engine's address) or
	// CollectorTarget (Source: the target's name).
	Collector, Source string
	Duration          time.Duration
	// Err is why the source gave nothing this time.
	Err      error
	Families []exposition.Family
	// Samples counts the samples a target exposed (as Prometheus'
	// scrape_samples_scraped does).
	Samples int
	// Dropped names the families left out because an earlier source
	// serves the same name with another type.
	Dropped []string
	// StatsSource is where an engine's container numbers came from
	// (containers.Snapshot.Source).
	StatsSource string
	// Containers are an engine's containers as sampled (for the web
	// view; the families are made from them).
	Containers []containers.Stats
}

// Collection is one round of gathering every source, ready to be served
// to every request that shares it.
type Collection struct {
	Start, End time.Time
	Sources    []SourceResult
	// GatherErr holds the series client_golang refused (such as a
	// histogram whose buckets do not add up); the others are served.
	GatherErr error

	families []*dto.MetricFamily
	// Each format and encoding asked for is encoded once.
	mu     sync.Mutex
	bodies map[bodyKey]*body
}

// flight is a collection in progress that requests wait for. Its
// sources report as they finish, so that a request whose deadline comes
// first can be answered with what is in by then.
type flight struct {
	start time.Time
	done  chan struct{}
	c     *Collection // complete; set before done closes

	targets []exposition.Target // the targets of this collection

	mu       sync.Mutex
	sources  []SourceResult // each source's result, once finished[i]
	finished []bool
}

// ErrNotInTime is the error of a source that had not finished by a
// request's deadline: down in that answer, while the collection goes on
// for the requests that wait longer.
var ErrNotInTime = errors.New("not collected within this scrape's timeout")

// Collect returns the collection for a request that waits until
// deadline. A collection in progress is shared rather than started again,
// and with a cache TTL a recent one is reused. A collection runs for the
// exporter's ScrapeTimeout, whoever started it: a request's deadline only
// decides how long that request waits. A request whose deadline comes
// first gets a collection of its own made of the sources finished by
// then, the others reported as failed (ErrNotInTime). ctx bounds the wait.
func (e *Exporter) Collect(ctx context.Context, deadline time.Time) (*Collection, error) {
	e.mu.Lock()
	if c := e.last; c != nil && e.opts.CacheTTL > 0 && time.Since(c.End) < e.opts.CacheTTL {
		e.mu.Unlock()
		return c, nil
	}
	f := e.flight
	if f == nil {
		f = e.startFlight()
		e.flight = f
	}
	e.mu.Unlock()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-f.done:
		return f.c, nil
	case <-timer.C:
		return e.partial(f), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startFlight starts a collection. Called with e.mu held.
func (e *Exporter) startFlight() *flight {
	targets := e.opts.Targets
	if e.opts.Discovered != nil {
		targets = append(slices.Clip(targets), e.opts.Discovered()...)
	}
	n := len(e.opts.Engines) + len(e.opts.Fleets) + len(e.opts.Objects) + len(targets)
	f := &flight{start: time.Now(), done: make(chan struct{}), sources: make([]SourceResult, n), finished: make([]bool, n), targets: targets}
	for i, w := range e.opts.Engines {
		f.sources[i] = SourceResult{Collector: CollectorContainers, Source: w.Engine().Host}
	}
	for i, fl := range e.opts.Fleets {
		f.sources[len(e.opts.Engines)+i] = SourceResult{Collector: CollectorContainers, Source: fl.Name(), StatsSource: fl.Kind()}
	}
	for i, src := range e.opts.Objects {
		f.sources[e.firstObjects()+i] = SourceResult{Collector: CollectorKubernetes, Source: src.Name()}
	}
	for i := range targets {
		f.sources[e.firstTarget()+i] = SourceResult{Collector: CollectorTarget, Source: targets[i].DisplayName()}
	}
	go func() {
		ctx, cancel := context.WithTimeout(e.ctx, e.opts.ScrapeTimeout)
		c := e.collect(ctx, f)
		cancel()
		e.mu.Lock()
		e.flight = nil
		if e.opts.CacheTTL > 0 {
			e.last = c // nothing else keeps a collection past its requests
		}
		e.mu.Unlock()
		f.c = c
		close(f.done)
	}()
	return f
}

// collect gathers every source at once. Only one runs at a time (the
// watchers' Sample is not concurrent), which Collect ensures.
func (e *Exporter) collect(ctx context.Context, f *flight) *Collection {
	var wg sync.WaitGroup
	report := func(i int, r SourceResult) {
		f.mu.Lock()
		f.sources[i], f.finished[i] = r, true
		f.mu.Unlock()
	}
	for i, w := range e.opts.Engines {
		wg.Go(func() { report(i, e.collectEngine(ctx, w)) })
	}
	for i, fl := range e.opts.Fleets {
		wg.Go(func() { report(len(e.opts.Engines)+i, e.collectFleet(ctx, fl)) })
	}
	for i, src := range e.opts.Objects {
		wg.Go(func() { report(e.firstObjects()+i, e.collectObjects(ctx, src)) })
	}
	for i := range f.targets {
		wg.Go(func() { report(e.firstTarget()+i, e.collectTarget(ctx, &f.targets[i])) })
	}
	wg.Wait()
	f.mu.Lock() // partial may be reading the sources
	c := &Collection{Start: f.start, End: time.Now(), Sources: slices.Clone(f.sources)}
	f.mu.Unlock()
	if e.opts.Evaluate != nil {
		e.opts.Evaluate(c)
	}
	e.descs.next()
	e.build(c, &e.descs)
	e.logChanges(c)
	if c.GatherErr != nil && c.GatherErr.Error() != e.lastGatherErr {
		e.opts.Logger.Warn("some series cannot be served", "err", oneLine(c.GatherErr))
	}
	e.lastGatherErr = fmt.Sprint(c.GatherErr)
	if e.opts.Collected != nil {
		e.opts.Collected(c)
	}
	return c
}

// partial is the collection as far as it got: for one request only, so
// it is neither logged nor cached.
func (e *Exporter) partial(f *flight) *Collection {
	f.mu.Lock()
	c := &Collection{Start: f.start, End: time.Now(), Sources: slices.Clone(f.sources)}
	for i, ok := range f.finished {
		if !ok {
			c.Sources[i].Err, c.Sources[i].Duration = ErrNotInTime, c.End.Sub(f.start)
		}
	}
	f.mu.Unlock()
	e.build(c, &descCache{}) // not the collections': partial runs beside collect
	return c
}

// build turns the sources' families into what is served.
func (e *Exporter) build(c *Collection, descs *descCache) {
	served := e.plan(c)
	reg := prometheus.NewRegistry()
	reg.MustRegister(familiesCollector{served, descs})
	mfs, err := reg.Gather()
	c.GatherErr = err
	// The exporter metrics are taken with the collection, so that every
	// request sharing it gets the same bytes, encoded once.
	if e.own != nil {
		own, err := e.own.Gather()
		if err != nil {
			e.opts.Logger.Warn("gathering the exporter metrics", "err", oneLine(err))
		}
		mfs = mergeSorted(mfs, own)
	}
	c.families = mfs
	c.bodies = map[bodyKey]*body{}
}

func (e *Exporter) collectEngine(ctx context.Context, w *containers.Watcher) SourceResult {
	start := time.Now()
	snap, err := w.Sample(ctx)
	r := SourceResult{Collector: CollectorContainers, Source: w.Engine().Host, Duration: time.Since(start), Err: err,
		StatsSource: cmp.Or(snap.Source, w.Source())}
	if err == nil {
		r.Families, r.Containers = e.opts.Select.Filter(containers.Families(snap.Containers, e.opts.ContainerLabels)), snap.Containers
	}
	return r
}

// firstObjects and firstTarget are the indexes of the first source of
// each kind: engines, fleets, objects, then targets.
func (e *Exporter) firstObjects() int { return len(e.opts.Engines) + len(e.opts.Fleets) }
func (e *Exporter) firstTarget() int  { return e.firstObjects() + len(e.opts.Objects) }

// collectObjects serves the series an object source makes.
func (e *Exporter) collectObjects(ctx context.Context, src ObjectSource) SourceResult {
	start := time.Now()
	fams, err := src.Families(ctx)
	return SourceResult{Collector: CollectorKubernetes, Source: src.Name(), Duration: time.Since(start), Err: err, Families: e.opts.Select.Filter(fams)}
}

// collectFleet serves a fleet's containers as an engine's: every
// container label it has (they were chosen where the containers run).
func (e *Exporter) collectFleet(ctx context.Context, fl fleet.Source) SourceResult {
	start := time.Now()
	stats, err := fl.Sample(ctx)
	r := SourceResult{Collector: CollectorContainers, Source: fl.Name(), Duration: time.Since(start), Err: err, StatsSource: fl.Kind()}
	if err == nil {
		var keys []string
		for i := range stats {
			for k := range stats[i].Labels {
				if !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
		slices.Sort(keys)
		r.Families, r.Containers = e.opts.Select.Filter(containers.Families(stats, keys)), stats
	}
	return r
}

func (e *Exporter) collectTarget(ctx context.Context, t *exposition.Target) SourceResult {
	res := e.opts.Scraper.Scrape(ctx, t)
	for _, w := range res.Warnings {
		e.opts.Logger.Debug("target exposition", "target", res.Target, "warning", w)
	}
	// Samples counts what the target exposed; Families are what is served.
	return SourceResult{Collector: CollectorTarget, Source: res.Target, Duration: res.Duration,
		Err: res.Err, Families: e.opts.Select.Filter(res.Families), Samples: res.Series}
}

// sourceLog is what was last said of a source, so that the log speaks
// of changes rather than repeating itself every scrape.
type sourceLog struct {
	failing bool
	dropped string
}

// logChanges logs a source when it starts failing (warn) and when it is
// back (info), and the families it loses to clashes when they change.
func (e *Exporter) logChanges(c *Collection) {
	for _, s := range c.Sources {
		key := s.Collector + "\xff" + s.Source
		prev, seen := e.logged[key]
		now := sourceLog{failing: s.Err != nil, dropped: strings.Join(s.Dropped, ",")}
		switch {
		case now.failing && !prev.failing:
			e.opts.Logger.Warn("source failed", s.attr(), "err", s.Err)
		case now.failing:
			e.opts.Logger.Debug("source still failing", s.attr(), "err", s.Err)
		case prev.failing && seen:
			e.opts.Logger.Info("source is back", s.attr())
		}
		if now.dropped != "" && now.dropped != prev.dropped {
			e.opts.Logger.Warn("families left out: another source serves them with another type", s.attr(), "families", now.dropped)
		}
		e.logged[key] = now
	}
}

// attr names the source in a log line: host=... or target=...
func (s *SourceResult) attr() slog.Attr {
	if s.Collector == CollectorTarget {
		return slog.String(TargetLabel, s.Source)
	}
	return slog.String("host", s.Source)
}

// plan decides what is served. A name belongs to the first source that
// uses it, in this order: monctl's own families, the exporter metrics,
// the containers, the targets in the order given. A later family of the
// same name and type is merged (series of targets stay apart by their
// target label, containers by host); one of another type is left out and
// counted against its target, so that one odd target never breaks the
// whole scrape. monctl's own families (monctl_collector_success...) are
// never merged into: a source's family of one of their names is left out
// whatever its type, so that no target can speak for monctl.
func (e *Exporter) plan(c *Collection) []servedFamily {
	types, helps := maps.Clone(e.reservedTypes), maps.Clone(e.reservedHelp)
	var served []servedFamily
	add := func(s *SourceResult, f *exposition.Family, source exposition.Label) {
		sf := servedAs(f, source)
		if prev, ok := types[sf.name]; (ok && prev != sf.typ) || e.ownNames[sf.name] {
			s.Dropped = append(s.Dropped, sf.name)
			return
		}
		types[sf.name] = sf.typ
		if help, ok := helps[sf.name]; ok {
			sf.help = help
		} else {
			helps[sf.name] = sf.help
		}
		served = append(served, sf)
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		for j := range s.Families {
			add(s, &s.Families[j], s.label())
		}
	}
	// monctl's own go first; their names were reserved by New.
	own := e.selfFamilies(c.Sources)
	self := make([]servedFamily, 0, len(own)+len(served))
	for i := range own {
		self = append(self, servedAs(&own[i], exposition.Label{}))
	}
	return append(self, served...)
}

// Series gives every family of the collection's sources with the label
// that marks its source as served (target="node"; none for the
// containers'), then monctl's own about the sources (monctl_target_up...).
func (c *Collection) Series() iter.Seq2[*exposition.Family, exposition.Label] {
	return func(yield func(*exposition.Family, exposition.Label) bool) {
		for i := range c.Sources {
			s := &c.Sources[i]
			for j := range s.Families {
				if !yield(&s.Families[j], s.label()) {
					return
				}
			}
		}
		own := sourceFamilies(c.Sources)
		for i := range own {
			if !yield(&own[i], exposition.Label{}) {
				return
			}
		}
	}
}

// label marks the source's series as served: target="node" for a
// target, none for the containers (their own labels tell them apart).
func (s *SourceResult) label() exposition.Label {
	if s.Collector == CollectorTarget {
		return exposition.Label{Name: TargetLabel, Value: s.Source}
	}
	return exposition.Label{}
}

// TargetLabel marks every re-exposed series with its target; a label of
// that name the target had already becomes exported_target.
const TargetLabel = "target"

// mergeSorted merges two name-sorted lists of families. A name in both
// (go_goroutines of a re-exposed node_exporter and monctl's own) has one
// type by then (see plan) and is served as one family, with own's help.
func mergeSorted(data, own []*dto.MetricFamily) []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(data)+len(own))
	i, j := 0, 0
	for i < len(data) && j < len(own) {
		a, b := data[i].GetName(), own[j].GetName()
		switch {
		case a < b:
			out = append(out, data[i])
			i++
		case a > b:
			out = append(out, own[j])
			j++
		default:
			both := &dto.MetricFamily{Name: own[j].Name, Help: own[j].Help, Type: own[j].Type, Unit: own[j].Unit,
				Metric: append(append(make([]*dto.Metric, 0, len(own[j].Metric)+len(data[i].Metric)), own[j].Metric...), data[i].Metric...)}
			out = append(out, both)
			i++
			j++
		}
	}
	out = append(out, data[i:]...)
	return append(out, own[j:]...)
}

// oneLine turns client_golang's multi-line MultiError into one log line.
func oneLine(err error) string {
	var me prometheus.MultiError
	if errors.As(err, &me) && len(me) > 1 {
		return fmt.Sprintf("%v (and %d more)", me[0], len(me)-1)
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
