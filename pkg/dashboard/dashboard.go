// Package dashboard is serve's live web view: a page of the containers
// and targets of every collection, with sparklines from an in-memory
// history, a page per container with its numbers over time and its
// recent logs, and the JSON API behind both (/api/v1/...).
//
// Everything shown is text from containers and targets, which their
// owners control: pages are made with html/template, the script writes
// with textContent only, and every answer carries a strict
// Content-Security-Policy, so that no name, label or log line can run
// anything in the viewer's browser. The package keeps no global state;
// the caller mounts Handler and runs Run.
package dashboard

import (
	"cmp"
	"context"
	"crypto/rand"
	"html/template"
	"log/slog"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exporter"
	"github.com/monctl/monctl/pkg/fleet"
	"github.com/monctl/monctl/pkg/query"
)

// Options of a Dashboard.
type Options struct {
	// Exporter is asked for a collection every Interval; every complete
	// collection it makes (for Prometheus too) should reach Record.
	Exporter *exporter.Exporter
	// Engines are the engines whose containers are shown, for their logs.
	Engines []*containers.Engine
	// ContainerLabels are the labels shown, as on /metrics; no others.
	ContainerLabels []string
	// Interval between collections (default 5s); Points of history are
	// kept per container (default 120: ten minutes at 5s).
	Interval time.Duration
	Points   int
	// MaxRequests bounds the requests served at once (0: no bound).
	MaxRequests int
	// LogsTimeout bounds one logs request to an engine (default 10s).
	LogsTimeout time.Duration
	// Actions lets the view start, stop, restart and kill the containers
	// it shows (serve --web.enable-actions); Audit gets a line for each.
	// Without it, no action endpoint exists.
	Actions bool
	Audit   *slog.Logger
	// MaxStreams bounds the live log streams open at once, from all
	// clients (default DefaultMaxStreams). Each holds one of
	// MaxRequests while it is open, so keep it well below that.
	MaxStreams int

	// AllowedHosts are the names (no port) by which clients may reach the
	// view besides IP addresses and localhost: a request for any other
	// Host is refused, so that a web page whose name was rebound to this
	// machine's address cannot read it (DNS rebinding).
	AllowedHosts []string

	TelemetryPath string
	Version       string
	Logger        *slog.Logger
	// Alerts, when set, gives the active alerts of the rules, evaluated
	// over each collection before Record takes it in.
	Alerts func() []query.Alert
}

// Dashboard keeps the latest round and the history, and serves them.
type Dashboard struct {
	opts  Options
	pages *template.Template

	// searches is the budget of log reads and searches at once: half
	// the CPUs, at least one.
	searches chan struct{}
	// streams is the budget of live log streams.
	streams chan struct{}
	// actionKey signs the CSRF tokens of container actions: new at each
	// start, so a token is worth nothing to another serve or run.
	actionKey []byte

	mu        sync.RWMutex
	round     Round
	history   map[string]*History // host/id → its last Points samples
	lastPoint time.Time           // of the last round that made history
	// index is the index page of the round, rendered once by the first
	// request that wants it: every visitor until the next round gets
	// the same bytes.
	index *renderedPage
	// hub turns the containers that re-exposed monctl serves expose
	// into rates between collections. Only Record uses it, and the
	// exporter records one collection at a time.
	hub fleet.Rates
}

// renderedPage is a page rendered once.
type renderedPage struct {
	once sync.Once
	body []byte
	err  error
}

// Round is what the last collection found: the API's answer, less the
// history.
type Round struct {
	Time       time.Time   `json:"time"`
	Engines    []Engine    `json:"engines"`
	Containers []Container `json:"containers"`
	Targets    []Target    `json:"targets"`
	// Alerts are the rules' active alerts, as Prometheus's
	// /api/v1/alerts lists them.
	Alerts []query.Alert `json:"alerts"`
}

// Engine is one engine's part of a round.
type Engine struct {
	Host            string  `json:"host"`
	Up              bool    `json:"up"`
	Error           string  `json:"error,omitempty"`
	StatsSource     string  `json:"stats_source,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`
}

// Container is a container as docker stats and watch containers -o json
// show it, with its history.
type Container struct {
	containers.Stats
	History *History `json:"history,omitempty"`
	// labels are all the container's labels, for choosing the
	// containers of a log stream; Labels has only those shown.
	labels map[string]string
}

// History is a container's numbers over its last rounds, oldest first:
// parallel arrays, one entry per round in which it was running.
type History struct {
	Time       []int64   `json:"time"` // Unix seconds
	CPUPercent []float64 `json:"cpu_percent"`
	MemoryUsed []uint64  `json:"memory_used_bytes"`
}

// Target is a re-exposed target's last scrape.
type Target struct {
	Name                  string    `json:"name"`
	Up                    bool      `json:"up"`
	Error                 string    `json:"error,omitempty"`
	ScrapeDurationSeconds float64   `json:"scrape_duration_seconds"`
	Series                int       `json:"series"`
	LastScrape            time.Time `json:"last_scrape"`
}

// New makes a dashboard; it shows nothing until the first Record.
func New(opts Options) *Dashboard {
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	if opts.Points <= 0 {
		opts.Points = 120
	}
	if opts.LogsTimeout <= 0 {
		opts.LogsTimeout = 10 * time.Second
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = DefaultMaxStreams
	}
	if opts.TelemetryPath == "" {
		opts.TelemetryPath = "/metrics"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Audit == nil {
		opts.Audit = opts.Logger
	}
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand)
	return &Dashboard{opts: opts, actionKey: key, pages: parsePages(), history: map[string]*History{}, index: &renderedPage{},
		searches: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)), streams: make(chan struct{}, opts.MaxStreams)}
}

// Run asks for a collection now and every Interval until ctx ends, so
// that the view is live and the history full whether or not Prometheus
// scrapes.
func (d *Dashboard) Run(ctx context.Context) {
	t := time.NewTicker(d.opts.Interval)
	defer t.Stop()
	for {
		// The collection goes on past this wait if it takes longer; a
		// tick that comes during it shares it.
		if _, err := d.opts.Exporter.Collect(ctx, time.Now().Add(d.opts.Interval)); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Record takes a complete collection in: the round shown from now on,
// and a point of history for each running container, at most one per
// half Interval (Prometheus' scrapes come in between, maybe many a
// second: the history stays a history of minutes).
func (d *Dashboard) Record(c *exporter.Collection) {
	r := Round{Time: c.End}
	live := map[string]bool{}
	var hub []containers.Stats
	for _, s := range c.Sources {
		switch s.Collector {
		case exporter.CollectorContainers:
			e := Engine{Host: s.Source, Up: s.Err == nil, StatsSource: s.StatsSource, DurationSeconds: s.Duration.Seconds()}
			if s.Err != nil {
				e.Error = oneLine(s.Err.Error())
			}
			r.Engines = append(r.Engines, e)
			for _, st := range s.Containers {
				all := st.Labels
				st.Labels = d.shownLabels(st.Labels)
				r.Containers = append(r.Containers, Container{Stats: st, labels: all})
				live[key(st.Host, st.ID)] = true
			}
		case exporter.CollectorTarget:
			// A target that is another host's monctl serve: its
			// containers join the table under that host.
			hub = append(hub, fleet.FromTarget(s.Families, targetHost(s.Source), c.End)...)
			t := Target{Name: s.Source, Up: s.Err == nil, ScrapeDurationSeconds: s.Duration.Seconds(), Series: s.Samples, LastScrape: c.Start}
			if s.Err != nil {
				t.Error = oneLine(s.Err.Error())
			}
			r.Targets = append(r.Targets, t)
		}
	}
	d.hub.Apply(hub)
	for _, st := range hub {
		all := st.Labels
		st.Labels = d.shownLabels(st.Labels)
		r.Containers = append(r.Containers, Container{Stats: st, labels: all})
		live[key(st.Host, st.ID)] = true
	}
	slices.SortFunc(r.Containers, func(a, b Container) int { return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Name, b.Name)) })
	if d.opts.Alerts != nil {
		r.Alerts = d.opts.Alerts()
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	d.round = r
	d.index = &renderedPage{}
	if !d.lastPoint.IsZero() && c.End.Sub(d.lastPoint) < d.opts.Interval/2 {
		return
	}
	d.lastPoint = c.End
	for i := range r.Containers {
		st := &r.Containers[i].Stats
		if !st.Running() {
			continue
		}
		h := d.history[key(st.Host, st.ID)]
		if h == nil {
			h = &History{}
			d.history[key(st.Host, st.ID)] = h
		}
		h.add(st.Time.Unix(), st.CPUPercent, st.MemoryUsed, d.opts.Points)
	}
	// A container no longer shown takes its history with it; an engine
	// that failed this round keeps its containers' history for when it
	// is back.
	down := map[string]bool{}
	for _, e := range r.Engines {
		down[e.Host] = !e.Up
	}
	for k := range d.history {
		host, _, _ := strings.Cut(k, "\x00")
		if !live[k] && !down[host] {
			delete(d.history, k)
		}
	}
}

// add appends a point, dropping the oldest beyond points. The arrays are
// new each time: answers being written hold the old ones.
func (h *History) add(t int64, cpu float64, mem uint64, points int) {
	drop := max(0, len(h.Time)+1-points)
	h.Time = append(slices.Clone(h.Time[drop:]), t)
	h.CPUPercent = append(slices.Clone(h.CPUPercent[drop:]), cpu)
	h.MemoryUsed = append(slices.Clone(h.MemoryUsed[drop:]), mem)
}

// snapshot is the last round with each container's history, shared
// read-only with the answers being written.
func (d *Dashboard) snapshot() Round {
	d.mu.RLock()
	defer d.mu.RUnlock()
	r := d.round
	r.Containers = slices.Clone(r.Containers)
	for i := range r.Containers {
		if h := d.history[key(r.Containers[i].Host, r.Containers[i].ID)]; h != nil {
			hc := *h
			r.Containers[i].History = &hc
		}
	}
	return r
}

// shownLabels keeps the labels that serve shows.
func (d *Dashboard) shownLabels(all map[string]string) map[string]string {
	var out map[string]string
	for _, k := range d.opts.ContainerLabels {
		if v, ok := all[k]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

func key(host, id string) string { return host + "\x00" + id }

// targetHost is the host a re-exposed target's containers are shown
// under: its host:port, as Prometheus's instance label.
func targetHost(name string) string {
	if u, err := url.Parse(name); err == nil && u.Host != "" {
		return u.Host
	}
	return name
}

// oneLine keeps an error on one line of a table cell.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
