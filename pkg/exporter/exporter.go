// Package exporter serves Docker containers and re-exposed scrape targets
// on one /metrics endpoint for a Prometheus server, with the conventions of
// the Prometheus exporters: collection on scrape, bounded by the scraper's
// timeout, shared between concurrent scrapes together with its encoded
// answer (negotiated as promhttp does, gzip when asked); monctl's own
// metrics per source; Go and process metrics from a registry of their own.
//
// The package keeps no global state and never listens by itself: Handler
// is mounted by the caller, who owns the listeners (see
// github.com/prometheus/exporter-toolkit/web for TLS and basic auth).
package exporter

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/fleet"
)

// ObjectSource gives the series of the objects it watches at each
// collection.
type ObjectSource interface {
	// Name names it in monctl_collector_* and logs: no credentials.
	Name() string
	Families(ctx context.Context) ([]exposition.Family, error)
}

// Options of an Exporter.
type Options struct {
	// Engines are the Docker engines whose containers are served. The
	// exporter is the only caller of their Sample.
	Engines []*containers.Watcher
	// Fleets are sources of other hosts' containers (a Prometheus
	// query API), served as an engine's are, after the engines.
	Fleets []fleet.Source
	// Objects are sources of series about objects (a Kubernetes
	// cluster's, as kube-state-metrics names them), served as they are.
	Objects []ObjectSource
	// ContainerLabels are the container labels served, as
	// container_label_<key>; no others become series labels.
	ContainerLabels []string
	// Targets are re-exposed with a target label on each series.
	Targets []exposition.Target
	// Discovered, when set, gives the targets discovery finds now; each
	// collection scrapes them after Targets, in the same way.
	Discovered func() []exposition.Target
	// Discovery, when set, gives monctl's own families of discovery's
	// health, served with the collector's (their names never change).
	Discovery func() []exposition.Family
	Scraper   *exposition.Scraper
	// Static families are served as they are (monctl_build_info).
	Static []exposition.Family
	// Select keeps only the series of the targets and engines that match
	// (nil: all). monctl's own series are always served.
	Select *exposition.Selector

	// ScrapeTimeout bounds every collection, and how long a request
	// waits. A scraper that says it waits less (Prometheus sends
	// X-Prometheus-Scrape-Timeout-Seconds) is answered within that, less
	// TimeoutOffset so that the answer arrives in time, with the sources
	// finished by then.
	ScrapeTimeout time.Duration
	TimeoutOffset time.Duration
	// CacheTTL lets requests that come within this long after a
	// collection ended be answered from it. 0: collect on every scrape
	// (concurrent scrapes still share one collection).
	CacheTTL time.Duration
	// MaxRequests bounds the /metrics requests served at once; beyond it
	// the answer is 503. 0: no bound.
	MaxRequests int
	// ExporterMetrics adds Go runtime, process and promhttp metrics.
	ExporterMetrics bool

	// TelemetryPath is where metrics are served (default /metrics).
	TelemetryPath string
	// Version is shown on the landing page.
	Version string
	Logger  *slog.Logger
	// Served, when set, is called after each /metrics response sent in
	// full with status 200.
	Served func()
	// Collected, when set, is called with every complete collection (not
	// the partial ones of a request that could not wait), one at a time.
	Collected func(*Collection)
	// Evaluate, when set, is called with every complete collection
	// before it is served, one at a time: rules evaluated over its series
	// (Collection.Series) make what Alerts gives.
	Evaluate func(*Collection)
	// Alerts, when set, gives families served beside monctl's own (ALERTS,
	// ALERTS_FOR_STATE, monctl_notifications_*): their names, reserved
	// for them, are those of its first answer.
	Alerts func() []exposition.Family
}

// Exporter collects and serves. Its zero value is not usable; see New.
type Exporter struct {
	opts Options
	// ctx bounds every collection: when it ends, collections in progress
	// stop and answer with what they have.
	ctx context.Context

	own *prometheus.Registry // nil without exporter metrics
	// The names that monctl's own families and the exporter metrics hold
	// before any source is looked at (see plan).
	reservedTypes map[string]dto.MetricType
	reservedHelp  map[string]string
	// ownNames are monctl's own families, which no source may serve into.
	ownNames map[string]bool
	metrics  http.Handler

	mu     sync.Mutex
	flight *flight
	last   *Collection
	// Touched only by collect, which never runs twice at once.
	logged        map[string]sourceLog
	lastGatherErr string
	descs         descCache
}

// New builds an exporter whose collections stop when ctx ends.
func New(ctx context.Context, opts Options) (*Exporter, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ScrapeTimeout <= 0 {
		opts.ScrapeTimeout = 10 * time.Second
	}
	if opts.TelemetryPath == "" {
		opts.TelemetryPath = "/metrics"
	}
	if opts.Scraper == nil {
		opts.Scraper = &exposition.Scraper{}
	}
	e := &Exporter{opts: opts, ctx: ctx, logged: map[string]sourceLog{},
		reservedTypes: map[string]dto.MetricType{}, reservedHelp: map[string]string{}, ownNames: map[string]bool{}}

	var h http.Handler = http.HandlerFunc(e.serveMetrics)
	if opts.MaxRequests > 0 {
		h = Limit(h, opts.MaxRequests)
	}
	if opts.ExporterMetrics {
		e.own = prometheus.NewRegistry()
		e.own.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		h = promhttp.InstrumentMetricHandler(e.own, h)
		mfs, err := e.own.Gather()
		if err != nil {
			return nil, fmt.Errorf("gathering the exporter metrics: %w", err)
		}
		for _, mf := range mfs {
			e.reservedTypes[mf.GetName()] = mf.GetType()
		}
	}
	for _, f := range e.selfFamilies(nil) {
		sf := servedAs(&f, exposition.Label{})
		e.reservedTypes[sf.name], e.reservedHelp[sf.name] = sf.typ, sf.help
		e.ownNames[sf.name] = true
	}
	e.metrics = h
	return e, nil
}

// Handler serves the metrics at the telemetry path, /-/healthy and
// /-/ready, and with landing a landing page at / (else / is left for the
// caller to mount, on the mux returned).
func (e *Exporter) Handler(landing bool) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	mux.Handle(e.opts.TelemetryPath, e.metrics)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if e.ctx.Err() != nil {
			http.Error(w, "Shutting down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	if !landing || e.opts.TelemetryPath == "/" {
		return mux, nil
	}
	page, err := web.NewLandingPage(web.LandingConfig{
		Name:        "monctl",
		Description: "Docker containers and re-exposed scrape targets, for Prometheus",
		Version:     e.opts.Version,
		Profiling:   "false",
		Links: []web.LandingLinks{
			{Address: e.opts.TelemetryPath, Text: "Metrics"},
			{Address: "/-/healthy", Text: "Health"},
			{Address: "/-/ready", Text: "Readiness"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("building the landing page: %w", err)
	}
	mux.Handle("/", page)
	return mux, nil
}

// serveMetrics answers one scrape from a (shared) collection.
func (e *Exporter) serveMetrics(w http.ResponseWriter, r *http.Request) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		// Go refuses more than 10,000 parameters; answering everything
		// instead would ignore what the client asked for.
		http.Error(w, "Bad query: "+err.Error(), http.StatusBadRequest)
		return
	}
	c, err := e.Collect(r.Context(), time.Now().Add(e.timeout(r)))
	if err != nil {
		return // the client went away
	}
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	c.write(rec, r, query["name[]"])
	if rec.status == http.StatusOK && rec.err == nil && e.opts.Served != nil {
		e.opts.Served()
	}
}

// timeout is how long a request waits: what its scraper says it waits,
// less the offset, but never longer than ScrapeTimeout; a header that is
// not a positive, finite number of seconds is ignored.
func (e *Exporter) timeout(r *http.Request) time.Duration {
	t := e.opts.ScrapeTimeout
	secs, err := strconv.ParseFloat(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64)
	// NaN fails both comparisons; +Inf and 1e300 the second.
	if err != nil || !(secs > 0) || !(secs < t.Seconds()) {
		return t
	}
	t = time.Duration(secs * float64(time.Second))
	if t > e.opts.TimeoutOffset {
		t -= e.opts.TimeoutOffset
	}
	return t
}

// Limit answers 503 beyond n requests at once, as promhttp's
// MaxRequestsInFlight does (answers are written from the shared
// collection, not by a promhttp handler, so the bound lives here).
func Limit(h http.Handler, n int) http.Handler {
	sem := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			h.ServeHTTP(w, r)
		default:
			http.Error(w, fmt.Sprintf("Limit of concurrent requests reached (%d), try again later.", n), http.StatusServiceUnavailable)
		}
	})
}

// recorder notes the status and whether every write went through.
type recorder struct {
	http.ResponseWriter
	status int
	err    error
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	if err != nil && r.err == nil {
		r.err = err
	}
	return n, err
}
