package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/discovery"
	httpsd "github.com/prometheus/prometheus/discovery/http"
	"github.com/prometheus/prometheus/discovery/moby"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/redact"
)

// Discovery runs the mechanisms of some jobs and keeps what they last
// found. A mechanism that fails keeps its last good targets: its
// Sources entry says it is failing, and since when.
type Discovery struct {
	scrape  Scrape
	changed chan struct{}
	settled chan struct{}

	mu         sync.Mutex
	providers  []*provider
	unsettled  int
	candidates []Candidate
	targets    []exposition.Target
}

// provider is one mechanism of one job (one entry of its
// docker_sd_configs, say) and what it last sent.
type provider struct {
	job  *Job
	mech string
	// url is an http_sd endpoint's URL, whose credentials never show in
	// a source's name or error.
	url string
	// groups are its target groups by their Source; a group sent with
	// no targets is gone.
	groups  map[string]*targetgroup.Group
	settled bool

	// errs are its errors until it sends again: by file for file_sd
	// (a file that cannot be read keeps its last targets while the
	// others are sent), else under "".
	errs     map[string]string
	since    time.Time // when it started failing
	failures int
	updated  time.Time
}

// Options of Start.
type Options struct {
	Scrape Scrape
	// Logger gets what the mechanisms log, at their levels; nil: nothing.
	Logger *slog.Logger
}

// Start runs every mechanism of jobs until ctx ends.
func Start(ctx context.Context, jobs []Job, opts Options) (*Discovery, error) {
	d := &Discovery{scrape: opts.Scrape, changed: make(chan struct{}, 1), settled: make(chan struct{})}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Each Discovery has its metrics to itself; the mechanisms insist
	// on some, monctl reports its own (Families).
	reg := prometheus.NewRegistry()
	refresh := discovery.NewRefreshMetrics(reg)
	metrics, err := discovery.RegisterSDMetrics(reg, refresh)
	if err != nil {
		return nil, fmt.Errorf("discovery metrics: %w", err)
	}
	type started struct {
		p *provider
		d discovery.Discoverer
	}
	var all []started
	for i := range jobs {
		j := &jobs[i]
		for _, c := range j.SD {
			p := &provider{job: j, mech: c.Name(), groups: map[string]*targetgroup.Group{}, errs: map[string]string{}}
			if hc, ok := c.(*httpsd.SDConfig); ok {
				p.url = hc.URL
			}
			opts := discovery.DiscovererOptions{
				Logger:  slog.New(&errorRecorder{next: logger.Handler(), d: d, p: p}).With("job", j.Name, "mechanism", p.mech),
				Metrics: metrics[c.Name()],
			}
			var disc discovery.Discoverer
			var err error
			if dc, ok := c.(*moby.DockerSDConfig); ok && !strings.HasPrefix(dc.Host, "http") {
				disc, err = newDockerDiscoverer(dc, opts)
			} else {
				disc, err = c.NewDiscoverer(opts)
			}
			if err != nil {
				return nil, fmt.Errorf("job %s: %s discovery: %w", j.Name, p.mech, err)
			}
			d.providers = append(d.providers, p)
			all = append(all, started{p, disc})
		}
	}
	d.unsettled = len(d.providers)
	if d.unsettled == 0 {
		close(d.settled)
	}
	for _, s := range all {
		ch := make(chan []*targetgroup.Group)
		go s.d.Run(ctx, ch)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case tgs, ok := <-ch:
					if !ok {
						return // static_configs send once and close
					}
					d.update(s.p, tgs)
				}
			}
		}()
	}
	return d, nil
}

// redact masks the credentials of an http_sd URL in s.
func (p *provider) redact(s string) string {
	if p.url == "" {
		return s
	}
	return redact.In(s, p.url)
}

// update takes a mechanism's groups.
func (d *Discovery) update(p *provider, tgs []*targetgroup.Group) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(p.errs, "")
	for _, g := range tgs {
		if g == nil {
			continue
		}
		if len(g.Targets) == 0 {
			delete(p.groups, g.Source)
		} else {
			p.groups[g.Source] = g
		}
		for f := range p.errs {
			if strings.HasPrefix(g.Source, f+":") {
				delete(p.errs, f)
			}
		}
	}
	p.updated = time.Now()
	d.settle(p)
	d.rebuild()
}

// failed notes a mechanism's error; its groups stay.
func (d *Discovery) failed(p *provider, file, msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(p.errs) == 0 {
		p.since = time.Now()
	}
	p.errs[file] = p.redact(msg)
	p.failures++
	d.settle(p)
	d.notify()
}

// settle marks p as having answered once, one way or the other.
func (d *Discovery) settle(p *provider) {
	if p.settled {
		return
	}
	p.settled = true
	if d.unsettled--; d.unsettled == 0 {
		close(d.settled)
	}
}

func (d *Discovery) notify() {
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

// rebuild recomputes the candidates and targets; called with d.mu held.
func (d *Discovery) rebuild() {
	lb := labels.NewBuilder(labels.EmptyLabels())
	var cands []Candidate
	for _, p := range d.providers {
		sources := make([]string, 0, len(p.groups))
		for s := range p.groups {
			sources = append(sources, s)
		}
		slices.Sort(sources)
		for _, s := range sources {
			cands = append(cands, p.job.candidates(p.mech+": "+p.redact(s), p.groups[s], d.scrape, lb)...)
		}
	}
	// A target found twice (by two mechanisms, say) is scraped once, as
	// in Prometheus; two targets shown by one name are told apart by
	// their job, then by a number.
	var targets []exposition.Target
	seen := map[string]bool{}
	names := map[string]bool{}
	for i := range cands {
		c := &cands[i]
		if !c.Kept() {
			continue
		}
		key := c.Target.URL + "\xff" + c.Labels.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		name := c.Target.Name
		if names[name] {
			name = c.Job + "/" + name
		}
		for n := 2; names[name]; n++ {
			name = c.Job + "/" + c.Target.Name + "#" + strconv.Itoa(n)
		}
		names[name] = true
		c.Target.Name = name
		targets = append(targets, c.Target)
	}
	d.candidates, d.targets = cands, targets
	d.notify()
}

// Settled is closed once every mechanism has sent targets or failed once.
func (d *Discovery) Settled() <-chan struct{} { return d.settled }

// Changed receives after the targets or a mechanism's health changed.
func (d *Discovery) Changed() <-chan struct{} { return d.changed }

// Targets are the targets found now; the caller may keep them.
func (d *Discovery) Targets() []exposition.Target {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.targets
}

// Candidates are every target found now, kept or not.
func (d *Discovery) Candidates() []Candidate {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.candidates
}

// Source is the health of one mechanism of one job.
type Source struct {
	Job       string
	Mechanism string
	// Groups counts its target groups (files, URLs, engines).
	Groups int
	// Err is its last error while it has not sent since, with when it
	// started failing; its last good targets stay meanwhile.
	Err      string
	Since    time.Time
	Failures int
	Updated  time.Time
}

// Sources says how each mechanism fares.
func (d *Discovery) Sources() []Source {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Source, len(d.providers))
	for i, p := range d.providers {
		errs := slices.Sorted(maps.Values(p.errs))
		out[i] = Source{Job: p.job.Name, Mechanism: p.mech, Groups: len(p.groups), Err: strings.Join(errs, "; "), Failures: p.failures, Updated: p.updated}
		if len(errs) > 0 {
			out[i].Since = p.since
		}
	}
	return out
}

// Failing is a line naming the mechanisms that fail, "" when none does.
func Failing(sources []Source) string {
	var bad []string
	for _, s := range sources {
		if s.Err != "" {
			bad = append(bad, fmt.Sprintf("%s %s: %s", s.Job, s.Mechanism, s.Err))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return "discovery failing (last good targets kept): " + strings.Join(bad, "; ")
}

// errorRecorder passes a mechanism's log records on and notes its
// errors: the mechanisms report a failed refresh only by logging it.
type errorRecorder struct {
	next  slog.Handler
	d     *Discovery
	p     *provider
	attrs []slog.Attr
}

func (h *errorRecorder) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError || h.next.Enabled(ctx, l)
}

func (h *errorRecorder) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		msg, file := r.Message, ""
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "path":
				file = a.Value.String()
				msg += " " + file
			case "err":
				msg += ": " + a.Value.String()
			}
			return true
		})
		h.d.failed(h.p, file, msg)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.WithAttrs(h.attrs).Handle(ctx, r)
}

func (h *errorRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &errorRecorder{next: h.next, d: h.d, p: h.p, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h *errorRecorder) WithGroup(name string) slog.Handler {
	return &errorRecorder{next: h.next.WithGroup(name), d: h.d, p: h.p, attrs: h.attrs}
}

// Families are the health of discovery as series: per mechanism of each
// job, the groups it has, whether it fails and how often it failed; per
// job, its candidates by what became of them.
func (d *Discovery) Families() []exposition.Family {
	groups := exposition.Family{Name: "monctl_discovery_groups", Type: exposition.Gauge,
		Help: "Target groups (files, URLs, engines) the discovery mechanism has now."}
	failing := exposition.Family{Name: "monctl_discovery_failing", Type: exposition.Gauge,
		Help: "1 while the discovery mechanism fails; its last good targets are kept meanwhile."}
	failures := exposition.Family{Name: "monctl_discovery_failures", Type: exposition.Counter,
		Help: "Times the discovery mechanism failed."}
	targets := exposition.Family{Name: "monctl_discovery_targets", Type: exposition.Gauge,
		Help: "Targets the job's discovery found, by what became of them: kept, dropped by a rule, or invalid."}
	for _, s := range d.Sources() {
		ls := exposition.Labels{{Name: "job", Value: s.Job}, {Name: "mechanism", Value: s.Mechanism}}
		groups.Metrics = append(groups.Metrics, exposition.Metric{Labels: ls, Value: float64(s.Groups)})
		v := 0.0
		if s.Err != "" {
			v = 1
		}
		failing.Metrics = append(failing.Metrics, exposition.Metric{Labels: ls, Value: v})
		failures.Metrics = append(failures.Metrics, exposition.Metric{Labels: ls, Value: float64(s.Failures)})
	}
	type key struct{ job, state string }
	counts := map[key]int{}
	var jobs []string
	for _, c := range d.Candidates() {
		if !slices.Contains(jobs, c.Job) {
			jobs = append(jobs, c.Job)
		}
		state := "kept"
		switch {
		case c.DroppedBy > 0:
			state = "dropped"
		case c.Err != nil:
			state = "invalid"
		}
		counts[key{c.Job, state}]++
	}
	for _, j := range jobs {
		for _, st := range [...]string{"dropped", "invalid", "kept"} {
			targets.Metrics = append(targets.Metrics, exposition.Metric{
				Labels: exposition.Labels{{Name: "job", Value: j}, {Name: "state", Value: st}}, Value: float64(counts[key{j, st}])})
		}
	}
	return []exposition.Family{failing, failures, groups, targets}
}
