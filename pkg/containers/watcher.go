package containers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"golang.org/x/sync/errgroup"

	"github.com/monctl/monctl/pkg/host"
)

// Container is what the engine says of a container, apart from its stats.
type Container struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Image     string            `json:"image"`
	Labels    map[string]string `json:"labels,omitempty"`
	State     string            `json:"state"`
	Health    string            `json:"health,omitempty"`
	Restarts  int               `json:"restarts"`
	OOMKilled bool              `json:"oom_killed"`
	// OOMKills and Exits (by exit code) count the oom and die events
	// seen since monctl began to watch the container: the series that
	// alert on a crash loop. Exits is replaced, never changed, once a
	// Stats holds it.
	OOMKills  uint64         `json:"oom_kills"`
	Exits     map[int]uint64 `json:"exits,omitempty"`
	Created   time.Time      `json:"created"`
	StartedAt time.Time      `json:"started_at,omitzero"`

	// For reading its numbers from the cgroup files: the main process
	// and the network mode ("host" has no networks of its own).
	pid     int
	netMode string
}

// Running tells whether the container has processes whose stats mean
// something now.
func (c *Container) Running() bool {
	return c.State == "running" || c.State == "paused"
}

// Stats is one container at one moment: what it is and its numbers, as
// docker stats computes them. Rates are per second over the last interval.
type Stats struct {
	Host string `json:"host"`
	Container
	Time          time.Time `json:"time"`
	UptimeSeconds float64   `json:"uptime_seconds"`

	CPUPercent float64 `json:"cpu_percent"`
	CPUSeconds float64 `json:"cpu_seconds_total"`
	OnlineCPUs uint32  `json:"online_cpus"`

	MemoryUsed    uint64  `json:"memory_used_bytes"`
	MemoryUsage   uint64  `json:"memory_usage_bytes"`
	MemoryLimit   uint64  `json:"memory_limit_bytes"`
	MemoryPercent float64 `json:"memory_percent"`

	NetRx        uint64  `json:"network_rx_bytes"`
	NetTx        uint64  `json:"network_tx_bytes"`
	NetRxRate    float64 `json:"network_rx_bytes_per_second"`
	NetTxRate    float64 `json:"network_tx_bytes_per_second"`
	BlkRead      uint64  `json:"block_read_bytes"`
	BlkWrite     uint64  `json:"block_write_bytes"`
	BlkReadRate  float64 `json:"block_read_bytes_per_second"`
	BlkWriteRate float64 `json:"block_write_bytes_per_second"`

	PIDs      uint64 `json:"pids"`
	PIDsLimit uint64 `json:"pids_limit,omitempty"`
}

// statsOf computes what docker stats shows from two samples.
func statsOf(host string, c Container, prev, cur Usage) Stats {
	d := cur.Read.Sub(prev.Read)
	s := Stats{
		Host: host, Container: c, Time: cur.Read,
		CPUPercent: CPUPercent(prev, cur), CPUSeconds: cur.CPUSeconds(), OnlineCPUs: cur.OnlineCPUs,
		MemoryUsed: cur.MemUsed, MemoryUsage: cur.MemUsage, MemoryLimit: cur.MemLimit, MemoryPercent: cur.MemPercent(),
		NetRx: cur.NetRx, NetTx: cur.NetTx, NetRxRate: Rate(prev.NetRx, cur.NetRx, d), NetTxRate: Rate(prev.NetTx, cur.NetTx, d),
		BlkRead: cur.BlkRead, BlkWrite: cur.BlkWrite, BlkReadRate: Rate(prev.BlkRead, cur.BlkRead, d), BlkWriteRate: Rate(prev.BlkWrite, cur.BlkWrite, d),
		PIDs: cur.PIDs, PIDsLimit: cur.PIDsLimit,
	}
	if c.Running() && !c.StartedAt.IsZero() {
		s.UptimeSeconds = max(0, cur.Read.Sub(c.StartedAt).Seconds())
	}
	return s
}

// Snapshot is every selected container of one engine at one moment.
// A running container appears once it has two samples, so that its CPU %
// and rates are real (unless WatchOptions.Totals); stopped containers
// (with All) carry no numbers.
type Snapshot struct {
	Host       string
	Time       time.Time
	Containers []Stats
	// Source is where the numbers came from: "cgroup-v1" or "cgroup-v2"
	// (the files of this host), "api" (the engine's stats endpoint), or
	// both joined by "+" when some containers could not be read from
	// the files.
	Source string
	// Stolen says that the host, a VM, lost CPU time to its hypervisor
	// since the round before, as read from the files: WallClockCPU was
	// not used then, since the wall clock would count that time.
	Stolen bool
}

// WatchOptions choose the containers and bound the work.
type WatchOptions struct {
	// All includes stopped containers.
	All    bool
	Filter Filter
	// Concurrency bounds the stats calls in flight (default 64).
	Concurrency int
	// Timeout bounds one Sample (default 10s), so that an engine that
	// hangs is reported rather than waited for.
	Timeout time.Duration
	// Totals shows a running container from its first sample on, with a
	// CPU % and rates of 0 until its second: for callers that only want
	// the totals, such as an exporter, whose reader computes rates.
	Totals bool
	// Stats chooses where the numbers come from (default SourceAuto).
	Stats StatsSource
	// WallClockCPU takes the CPU % of the containers read from cgroup
	// files over the wall clock between two reads, as podman stats does,
	// rather than over the host's CPU time (/proc/stat), which counts in
	// 1/100 s: exact over a window as short as one snapshot's, where the
	// host's clock would be off by several points. (It leaves steal time
	// in, which docker stats leaves out: a round over which the host had
	// steal takes the host's CPU time, and says so (Snapshot.Stolen).)
	WallClockCPU bool
}

// Watcher keeps the set of containers of one engine up to date by
// following its events, and samples their stats. Sample must not be called
// concurrently.
type Watcher struct {
	eng  *Engine
	opts WatchOptions
	// fs reads the cgroup files of a local engine's containers; nil asks
	// the engine for every container.
	fs *cgroupFS

	// Owned by Sample. stop ends the event stream; nil means the set must
	// be listed afresh (first call, or the engine went away).
	known map[string]*entry
	stop  context.CancelFunc
	// system is the host's CPU time at the last round read from files.
	system host.CPUTimes

	// Filled by the event stream, drained by Sample.
	mu        sync.Mutex
	queue     []events.Message
	streamErr error
}

type entry struct {
	c    Container
	prev *Usage
	// cg is the container's cgroup, found again when its process changes;
	// nil when it cannot be read from here.
	cg *cgroupDirs
}

// NewWatcher watches eng. Close stops it. With SourceCgroup, an engine
// whose containers' cgroup files cannot be read from here is a
// *StatsSourceError.
func NewWatcher(eng *Engine, opts WatchOptions) (*Watcher, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 64
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	w := &Watcher{eng: eng, opts: opts, known: map[string]*entry{}}
	if opts.Stats != SourceAPI {
		fs, err := eng.localCgroups()
		if err != nil && opts.Stats == SourceCgroup {
			return nil, &StatsSourceError{Host: eng.Host, Err: err}
		}
		w.fs = fs
	}
	return w, nil
}

// StatsSourceError is a cgroup source asked for where there is none.
type StatsSourceError struct {
	Host string
	Err  error
}

func (e *StatsSourceError) Error() string {
	return fmt.Sprintf("cannot read the cgroup files of the containers of %s: %v", e.Host, e.Err)
}

func (e *StatsSourceError) Unwrap() error { return e.Err }

// Source is where the numbers come from, as Snapshot.Source says of each
// round: what the watcher will try first.
func (w *Watcher) Source() string { return sourceOf(w.fs, nil) }

// Engine is the engine being watched.
func (w *Watcher) Engine() *Engine { return w.eng }

// Close stops following events and closes the cgroup files kept open.
func (w *Watcher) Close() {
	if w.stop != nil {
		w.stop()
	}
	for id := range w.known {
		w.forget(id)
	}
}

// forget drops a container, and closes its cgroup files.
func (w *Watcher) forget(id string) {
	if e := w.known[id]; e != nil {
		e.dropCgroup()
	}
	delete(w.known, id)
}

// dropCgroup closes the container's cgroup files, to be found again.
func (e *entry) dropCgroup() {
	if e.cg != nil {
		e.cg.close()
		e.cg = nil
	}
}

// EngineError is an engine that stopped answering while being watched.
// The next Sample tries again from scratch.
type EngineError struct {
	Host string
	Err  error
	// What Host is, for messages: "the Docker engine" when empty.
	What string
}

func (e *EngineError) Error() string {
	return fmt.Sprintf("%s at %s is not answering: %v", e.Kind(), e.Host, innermost(e.Err))
}

// Kind is what Host is: "the Docker engine", or what What says.
func (e *EngineError) Kind() string {
	if e.What != "" {
		return e.What
	}
	return "the Docker engine"
}

func (e *EngineError) Unwrap() error { return e.Err }

// Sample takes one stats sample of every selected container and returns
// the containers that have two samples by now.
func (w *Watcher) Sample(parent context.Context) (Snapshot, error) {
	ctx, cancel := context.WithTimeout(parent, w.opts.Timeout)
	defer cancel()
	if err := w.refresh(ctx); err != nil {
		return Snapshot{Host: w.eng.Host}, err
	}
	var running []*entry
	for _, e := range w.known {
		if e.c.Running() {
			running = append(running, e)
		}
	}
	samples := make([]*Usage, len(running))
	gone := make([]bool, len(running))
	failed := make([]error, len(running))
	byFile := make([]bool, len(running))
	fs := w.fs
	var system host.CPUTimes
	stolen := false
	if fs != nil {
		var err error
		if system, err = fs.systemCPU(); err != nil {
			fs = nil // /proc went away under us: ask the engine this time
		} else {
			stolen = system.StoleSince(w.system)
			w.system = system
		}
	}
	// CPU % as the engine's own stats command takes it: podman stats
	// over the wall clock, docker stats over the host's CPU time (which
	// leaves out steal), unless the window is too short for the host's
	// clock and there was no steal in it.
	wallClock := w.eng.Product == Podman || w.opts.WallClockCPU && !stolen
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(w.opts.Concurrency)
	for i, e := range running {
		g.Go(func() error {
			if u, ok := e.readFiles(fs, system); ok {
				u.WallClock = wallClock
				samples[i], byFile[i] = &u, true
				return nil
			}
			u, err := w.sampleOne(gctx, e.c.ID)
			switch {
			case err == nil:
				samples[i] = u
			case cerrdefs.IsNotFound(err):
				gone[i] = true // removed between list and stats
			case parent.Err() != nil:
				return parent.Err()
			default:
				failed[i] = err // including the timeout: the ping below decides
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Snapshot{Host: w.eng.Host}, err
	}
	// A container that stops or goes while its stats are read can cut the
	// answer short, much as a dead engine does; a ping tells them apart.
	if i := slices.IndexFunc(failed, func(err error) bool { return err != nil }); i >= 0 {
		pctx, cancel := context.WithTimeout(parent, 5*time.Second)
		_, err := w.eng.cli.Ping(pctx)
		cancel()
		if err != nil {
			w.unsync()
			return Snapshot{Host: w.eng.Host}, w.engineError(failed[i])
		}
	}

	snap := Snapshot{Host: w.eng.Host, Time: time.Now(), Source: sourceOf(fs, byFile), Stolen: stolen}
	for i, e := range running {
		switch {
		case gone[i]:
			w.forget(e.c.ID)
		case samples[i] != nil:
			switch {
			case e.prev != nil:
				snap.Containers = append(snap.Containers, statsOf(w.eng.Host, e.c, *e.prev, *samples[i]))
			case w.opts.Totals:
				snap.Containers = append(snap.Containers, statsOf(w.eng.Host, e.c, *samples[i], *samples[i]))
			}
			e.prev = samples[i]
		}
	}
	for _, e := range w.known {
		if !e.c.Running() {
			snap.Containers = append(snap.Containers, Stats{Host: w.eng.Host, Container: e.c, Time: snap.Time})
		}
	}
	slices.SortFunc(snap.Containers, func(a, b Stats) int { return strings.Compare(a.Name, b.Name) })
	return snap, nil
}

// Unmatched are the container references of the filter that name no
// container being watched.
func (w *Watcher) Unmatched() []string {
	var out []string
	for _, ref := range w.opts.Filter.Refs {
		found := false
		for _, e := range w.known {
			if found = e.c.IsRef(ref); found {
				break
			}
		}
		if !found {
			out = append(out, ref)
		}
	}
	return out
}

// readFiles reads a container's numbers from its cgroup files when fs is
// set and they can be read; a container that just stopped or whose
// process is not visible from here is left to the engine's stats API.
func (e *entry) readFiles(fs *cgroupFS, system host.CPUTimes) (Usage, bool) {
	if fs == nil {
		return Usage{}, false
	}
	if e.cg != nil && e.cg.proc != e.c.pid {
		e.dropCgroup() // restarted: another process, maybe another cgroup
	}
	if e.cg == nil {
		e.cg, _ = fs.resolve(&e.c)
	}
	if e.cg == nil {
		return Usage{}, false
	}
	u, err := fs.sample(e.cg, system)
	return u, err == nil
}

// sourceOf names where a round's numbers came from: the files when
// there were no running containers to read.
func sourceOf(fs *cgroupFS, byFile []bool) string {
	if fs == nil {
		return string(SourceAPI)
	}
	files, api := slices.Contains(byFile, true), slices.Contains(byFile, false)
	switch {
	case api && !files:
		return string(SourceAPI)
	case api:
		return fs.Version() + "+" + string(SourceAPI)
	}
	return fs.Version()
}

func (w *Watcher) sampleOne(ctx context.Context, id string) (*Usage, error) {
	resp, err := w.eng.cli.ContainerStatsOneShot(ctx, id)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, fmt.Errorf("stats of %s: %w", id, err)
	}
	if s.Read.IsZero() {
		return nil, fmt.Errorf("stats of %s: container is not running", id)
	}
	u := UsageOf(&s, w.eng.OSType)
	u.WallClock = w.eng.Product == Podman
	return &u, nil
}

// refresh brings the set of containers up to date: on the first call, or
// after the engine went away, subscribe to events and list; otherwise
// apply the events that arrived since the last call.
func (w *Watcher) refresh(ctx context.Context) error {
	w.mu.Lock()
	queued, streamErr := w.queue, w.streamErr
	w.queue, w.streamErr = nil, nil
	w.mu.Unlock()
	if streamErr != nil {
		w.unsync()
	}
	if w.stop == nil {
		return w.sync(ctx)
	}
	if err := w.apply(ctx, queued); err != nil {
		// The events are spent; a fresh list next time makes up for them.
		w.unsync()
		return err
	}
	return nil
}

func (w *Watcher) unsync() {
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
}

// sync subscribes to container events first and lists second, so that no
// container that starts in between is missed; events that repeat what the
// list says are harmless, since applying one re-reads the container.
func (w *Watcher) sync(ctx context.Context) error {
	opts := events.ListOptions{Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)))}
	if strings.HasPrefix(w.eng.Host, "unix://") {
		// The engine sends the response headers just before it subscribes,
		// and the client does not tell when they came, so the list could
		// still overtake the subscription. A local engine shares our
		// clock: asking for the last seconds again closes that gap.
		opts.Since = strconv.FormatInt(time.Now().Add(-2*time.Second).Unix(), 10)
	}
	streamCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	msgs, errs := w.eng.cli.Events(streamCtx, opts)
	go w.follow(streamCtx, msgs, errs)

	// The list has enough to filter on; only what passes is inspected.
	chosen, err := w.eng.Select(ctx, w.opts.Filter, w.opts.All)
	if err != nil {
		stop()
		return err
	}
	ids := make([]string, len(chosen))
	for i := range chosen {
		ids[i] = chosen[i].ID
	}
	fresh, err := w.inspectAll(ctx, ids)
	if err != nil {
		stop()
		return err
	}
	// Keep the previous samples of containers that are still there, so
	// an engine that comes back does not cost an interval of CPU %.
	old := w.known
	w.known = map[string]*entry{}
	for id, c := range fresh {
		if c == nil || !w.opts.Filter.Match(c, w.opts.All) {
			continue
		}
		e := &entry{c: *c}
		if o := old[id]; o != nil {
			e.prev = o.prev
		}
		w.known[id] = e
	}
	for _, o := range old {
		o.dropCgroup()
	}
	w.stop = stop
	return nil
}

func (w *Watcher) engineError(err error) error { return w.eng.engineError(err) }

// engineError is a failed call as an EngineError, unless it was
// cancelled.
func (e *Engine) engineError(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &EngineError{Host: e.Host, Err: err}
}

// follow queues the container events that can change what is shown.
func (w *Watcher) follow(ctx context.Context, msgs <-chan events.Message, errs <-chan error) {
	for {
		select {
		case m := <-msgs:
			// exec_* events come with every health check; they change
			// nothing we show.
			if strings.HasPrefix(string(m.Action), "exec_") || m.Action == events.ActionTop || m.Action == events.ActionAttach ||
				m.Action == events.ActionResize || m.Action == events.ActionDetach {
				continue
			}
			w.mu.Lock()
			w.queue = append(w.queue, m)
			w.mu.Unlock()
		case err := <-errs:
			if ctx.Err() == nil {
				w.mu.Lock()
				w.streamErr = err
				w.mu.Unlock()
			}
			return
		}
	}
}

// apply updates the set from queued events: a destroyed container goes,
// any other event re-reads the container once, however many came.
func (w *Watcher) apply(ctx context.Context, queued []events.Message) error {
	if len(queued) == 0 {
		return nil
	}
	last := map[string]events.Message{}
	oom := map[string]uint64{}
	exits := map[string]map[int]uint64{}
	for _, m := range queued {
		id := m.Actor.ID
		last[id] = m
		switch m.Action {
		case events.ActionOOM:
			oom[id]++
		case events.ActionDie:
			code, err := strconv.Atoi(m.Actor.Attributes["exitCode"])
			if err != nil {
				continue
			}
			if exits[id] == nil {
				exits[id] = map[int]uint64{}
			}
			exits[id][code]++
		}
	}
	var reread []string
	for id, m := range last {
		if m.Action == events.ActionDestroy {
			w.forget(id)
			continue
		}
		reread = append(reread, id)
	}
	fresh, err := w.inspectAll(ctx, reread)
	if err != nil {
		return err
	}
	for id, c := range fresh {
		e := w.known[id]
		if c == nil || !w.opts.Filter.Match(c, w.opts.All) {
			w.forget(id)
			continue
		}
		c.OOMKilled = c.OOMKilled || oom[id] > 0
		if e != nil {
			c.OOMKills, c.Exits = e.c.OOMKills, e.c.Exits
		}
		c.OOMKills += oom[id]
		if len(exits[id]) > 0 {
			c.Exits = maps.Clone(c.Exits) // a snapshot may hold the old one
			if c.Exits == nil {
				c.Exits = map[int]uint64{}
			}
			for code, n := range exits[id] {
				c.Exits[code] += n
			}
		}
		if e == nil {
			w.known[id] = &entry{c: *c}
			continue
		}
		// Found again on the next read: its process or limits may have
		// changed (restart, docker update).
		e.dropCgroup()
		e.c = *c
	}
	return nil
}

// inspectAll reads the containers concurrently; one that is gone maps to
// nil.
func (w *Watcher) inspectAll(ctx context.Context, ids []string) (map[string]*Container, error) {
	out := make([]*Container, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(w.opts.Concurrency)
	for i, id := range ids {
		g.Go(func() error {
			r, err := w.eng.cli.ContainerInspect(gctx, id)
			if cerrdefs.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return w.engineError(err)
			}
			out[i] = containerOf(&r)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	m := make(map[string]*Container, len(ids))
	for i, id := range ids {
		m[id] = out[i]
	}
	return m, nil
}

// summaryOf is what a list entry says of a container: enough to filter.
func summaryOf(s *container.Summary) *Container {
	c := &Container{ID: s.ID, Image: s.Image, Labels: s.Labels, State: string(s.State)}
	if len(s.Names) > 0 {
		c.Name = strings.TrimPrefix(s.Names[0], "/")
	}
	return c
}

func containerOf(r *container.InspectResponse) *Container {
	if r.ContainerJSONBase == nil {
		return nil
	}
	c := &Container{ID: r.ID, Name: strings.TrimPrefix(r.Name, "/"), Restarts: r.RestartCount}
	if r.HostConfig != nil {
		c.netMode = string(r.HostConfig.NetworkMode)
	}
	c.Created, _ = time.Parse(time.RFC3339Nano, r.Created)
	if r.Config != nil {
		c.Image = r.Config.Image
		c.Labels = maps.Clone(r.Config.Labels)
	}
	if st := r.State; st != nil {
		c.State = string(st.Status)
		c.OOMKilled = st.OOMKilled
		c.pid = st.Pid
		if t, err := time.Parse(time.RFC3339Nano, st.StartedAt); err == nil && t.Year() > 1 {
			c.StartedAt = t
		}
		if st.Health != nil {
			c.Health = string(st.Health.Status)
		}
	}
	return c
}
