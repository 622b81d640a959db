// Package serve implements 'monctl serve': containers and re-exposed
// scrape targets on one /metrics endpoint for a Prometheus server, with
// the flags and conventions of the Prometheus exporters.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v2"

	"github.com/monctl/monctl/internal/buildinfo"
	"github.com/monctl/monctl/internal/cli/ask"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/cli/version"
	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/dashboard"
	"github.com/monctl/monctl/pkg/discovery"
	"github.com/monctl/monctl/pkg/exporter"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/fleet"
	"github.com/monctl/monctl/pkg/kube"
)

// allowedHosts are the names the web view answers to: --web.allowed-host,
// the names in the listen addresses, and this host's own name.
func (o *Options) allowedHosts() []string {
	hosts := append([]string{}, o.AllowedHosts...)
	for _, a := range o.ListenAddresses {
		if h, _, err := net.SplitHostPort(a); err == nil && h != "" {
			hosts = append(hosts, h)
		}
	}
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	return hosts
}

// DefaultListenAddress is loopback only, on a port outside the ranges of
// the Prometheus default-port-allocations list (9090-9999 for Prometheus
// and its exporters, which is full, and the allocations from 10000 on).
const DefaultListenAddress = "127.0.0.1:19100"

// shutdownGrace is how long scrapes in flight get to finish on their own
// at shutdown; after it their collections stop and answer with what they
// have.
const shutdownGrace = 3 * time.Second

// Options of 'monctl serve'.
type Options struct {
	IO cmdutil.IOStreams

	ListenAddresses        []string
	WebConfigFile          string
	TelemetryPath          string
	MaxRequests            int
	DisableExporterMetrics bool
	WebUI                  bool
	WebUIInterval          time.Duration
	AllowedHosts           []string
	ReadHeaderTimeout      time.Duration
	WriteTimeout           time.Duration
	IdleTimeout            time.Duration

	Containers bool
	// EnableActions lets the web view start, stop, restart and kill
	// containers.
	EnableActions bool
	// --kube: Kubernetes resource types whose objects are served as
	// kube-state-metrics' series.
	cmdutil.KubeFlags
	// FromPrometheus are query APIs whose monctl_container_* series are
	// served as containers (a fleet), instead of the local engines'.
	FromPrometheus []string
	cmdutil.EngineFlags
	cmdutil.ContainerFlags
	cmdutil.StatsFlags
	ContainerLabels []string

	Targets       []string
	ConfigTargets []exposition.Target
	cmdutil.DiscoverFlags
	Match  []string
	Limits cmdutil.LimitFlags

	ScrapeTimeout       time.Duration
	ScrapeTimeoutOffset time.Duration
	CacheTTL            time.Duration
	Once                bool
	OnceTimeout         time.Duration

	LogLevel  string
	LogFormat string

	// Ask holds --rules and --fail-if, evaluated over every collection,
	// and the delivery of the alerts.
	Ask         ask.Flags
	ExternalURL string

	discovering bool
	filter      containers.Filter
	sel         *exposition.Selector
	targets     []exposition.Target
	limits      exposition.Limits
	bodyLimit   int64
	logLevel    *promslog.Level
	logFormat   *promslog.Format
}

// NewCmd builds 'monctl serve'.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve containers and scrape targets on /metrics for Prometheus",
		Long: `Serve, on one /metrics endpoint, the containers of the Docker engine(s)
(monctl_container_*: CPU seconds, memory, network and block I/O, PIDs,
restarts, start time, state, health, and an info metric with the image)
and the families of the targets listed in the config file or given with
--target, each series labelled with its target. Everything is collected
when Prometheus scrapes, within its scrape timeout; concurrent scrapes
share one collection, and --cache-ttl lets them share it for longer.

monctl's own metrics say how each source did: monctl_collector_success
and monctl_collector_duration_seconds per source, monctl_target_up,
monctl_target_scrape_duration_seconds, monctl_target_samples and
monctl_target_dropped_families per target (a family is dropped when an
earlier source serves the same name with another type). A target or an
engine that fails never fails the scrape.

The web flags are node_exporter's: --web.config.file takes the exporter
toolkit's web configuration (TLS, client certificates, basic auth with
bcrypt hashes), for the metrics and everything else served.

At / is a live web view (--web.ui=false: a plain landing page): the
containers with CPU and memory sparklines of the last ten minutes, the
targets, and a page per container with its numbers over time and a search
of its recent logs; it collects every --web.ui.interval. Its JSON API is
/api/v1/containers, /api/v1/containers/ID, /api/v1/containers/ID/logs
?tail=N&grep=RE, /api/v1/targets and /api/v1/alerts (docs/api.md). /-/healthy and
/-/ready answer health checks.

--rules and --fail-if are evaluated over every collection, as Prometheus
would over what it scraped: the alerts are served as ALERTS and
ALERTS_FOR_STATE, listed in the web view and at /api/v1/alerts, logged
when they change, and delivered to --alertmanager and --notify-webhook
(their generatorURL is the web view, --web.external-url); a check is
logged when it begins and stops returning series, and served as
monctl_check_failing. With the web view that is every --web.ui.interval.

--once serves until one /metrics response has been sent, then exits 0:
the ad-hoc mode for scripts. SIGINT and SIGTERM stop serving gracefully:
scrapes in flight get ` + shutdownGrace.String() + ` to finish, and the exit code is 0.`,
		Example: `  monctl serve
  monctl serve --web.listen-address :19100 --container-labels com.docker.compose.service
  monctl serve --target localhost:9100 --target http://app:8080/metrics --containers=false
  monctl serve --web.config.file web.yml --cache-ttl 5s
  monctl serve --once --once-timeout 1m --web.listen-address 127.0.0.1:0
  monctl serve --rules containers.rules.yml --alertmanager http://localhost:9093`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (len(opts.FromPrometheus) > 0 || len(opts.Kube) > 0) && !cmd.Flags().Changed("containers") {
				opts.Containers = false // the fleet's instead of this host's
			}
			opts.ConfigTargets = f.ConfigTargets()
			opts.Ask.ConfigAlertmanagers = f.ConfigAlertmanagers()
			return run(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&opts.ListenAddresses, "web.listen-address", []string{DefaultListenAddress}, "address to listen on (repeatable)")
	fl.StringVar(&opts.WebConfigFile, "web.config.file", "", "web configuration file for TLS and basic auth (exporter-toolkit format)")
	fl.StringVar(&opts.TelemetryPath, "web.telemetry-path", "/metrics", "path under which to expose metrics")
	fl.IntVar(&opts.MaxRequests, "web.max-requests", 40, "most /metrics requests served at once, and as many of the web view's; beyond it 503 (0: no limit)")
	fl.StringArrayVar(&opts.AllowedHosts, "web.allowed-host", nil, "a name by which browsers may reach the web view and its API, besides IP addresses, localhost, this host's name and the listen addresses' (repeatable); others get 421, against DNS rebinding")
	fl.BoolVar(&opts.WebUI, "web.ui", true, "serve the live web view at / and its JSON API at /api/v1/ (--web.ui=false: the plain landing page)")
	cmdutil.DurationVar(fl, &opts.WebUIInterval, "web.ui.interval", 5*time.Second, "with --web.ui, collect this often for the live view, whether or not Prometheus scrapes")
	fl.BoolVar(&opts.EnableActions, "web.enable-actions", false, "let the web view and its API start, stop, restart and kill the containers it shows (POST with a CSRF token, each said on stderr); only with TLS or basic auth in --web.config.file, or on loopback addresses only")
	fl.BoolVar(&opts.DisableExporterMetrics, "web.disable-exporter-metrics", false, "leave out Go runtime, process and promhttp metrics")
	cmdutil.DurationVar(fl, &opts.ReadHeaderTimeout, "web.read-header-timeout", 10*time.Second, "close a connection whose request headers take longer than this")
	cmdutil.DurationVar(fl, &opts.WriteTimeout, "web.write-timeout", 0, "close a connection whose answer is not written within this of its request (0: --scrape-timeout + 10s), so a client that never reads frees its slot")
	cmdutil.DurationVar(fl, &opts.IdleTimeout, "web.idle-timeout", 30*time.Second, "close a keep-alive connection idle for this long")
	fl.BoolVar(&opts.Containers, "containers", true, "serve the containers of the Docker engine(s); --containers=false serves only targets")
	opts.AddKubeFlags(cmd, "serve", "; instead of this host's containers (unless --containers)")
	fl.StringArrayVar(&opts.FromPrometheus, "from-prometheus", nil, "serve the containers whose monctl_container_* series are in this Prometheus-compatible query API (Prometheus, VictoriaMetrics, Mimir, Thanos; repeatable), each under its instance label, in the web view and on /metrics, instead of this host's (unless --containers)")
	opts.AddEngineFlags(cmd)
	opts.AddContainerFlags(cmd, f, &opts.EngineFlags, "include stopped containers (info, state, restarts)", "f")
	fl.StringSliceVar(&opts.ContainerLabels, "container-labels", nil, "container labels to serve as container_label_<key> labels (comma-separated or repeatable)")
	opts.AddStatsFlags(cmd, "concurrency")
	fl.StringArrayVar(&opts.Targets, "target", nil, "exporter to re-expose: URL, host:port or file (repeatable; added to the config file's targets)")
	opts.AddDiscoverFlags(cmd, defaultDiscoverInterval.String())
	fl.StringArrayVar(&opts.Match, "match", nil, `serve only the series of the targets and containers that match this PromQL selector, e.g. 'node_load1' or '{__name__=~"node_(cpu|memory)_.*"}' (repeatable, OR'ed; monctl's own series are always served)`)
	opts.Limits.AddLimitFlags(cmd)
	cmdutil.DurationVar(fl, &opts.ScrapeTimeout, "scrape-timeout", 10*time.Second, "time limit of a collection, and the most a scrape waits whatever its X-Prometheus-Scrape-Timeout-Seconds says")
	cmdutil.DurationVar(fl, &opts.ScrapeTimeoutOffset, "scrape-timeout-offset", 500*time.Millisecond, "taken off the scraper's timeout, so that the answer arrives in time")
	cmdutil.DurationVar(fl, &opts.CacheTTL, "cache-ttl", 0, "answer scrapes within this long of a collection from it (0: collect on every scrape)")
	fl.BoolVar(&opts.Once, "once", false, "exit 0 after one /metrics response has been sent")
	cmdutil.DurationVar(fl, &opts.OnceTimeout, "once-timeout", 0, "with --once, exit 1 if nobody scraped within this long (0: wait forever)")
	opts.Ask.AddRuleFlags(fl, "a check evaluated over every collection: logged when this PromQL expression begins to return series and when it stops, and served as monctl_check_failing (repeatable)")
	fl.StringVar(&opts.ExternalURL, "web.external-url", "", "the URL by which the web view is reached, which delivered alerts link to (default: http://HOST:PORT of the first --web.listen-address)")
	fl.StringVar(&opts.LogLevel, "log.level", "info", "log level: debug, info, warn, error")
	fl.StringVar(&opts.LogFormat, "log.format", "logfmt", "log format: logfmt, json")
	_ = cmd.RegisterFlagCompletionFunc("log.level", cobra.FixedCompletions([]string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("log.format", cobra.FixedCompletions([]string{"logfmt", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagFilename("web.config.file", "yml", "yaml")
	return cmd
}

// validate checks the options before anything is contacted.
func (o *Options) validate() error {
	switch {
	case len(o.ListenAddresses) == 0:
		return cmdutil.UsageError("--web.listen-address: give at least one address")
	case !strings.HasPrefix(o.TelemetryPath, "/"):
		return cmdutil.UsageError("--web.telemetry-path %q must start with /", o.TelemetryPath)
	case o.TelemetryPath == "/" || o.TelemetryPath == "/-/healthy" || o.TelemetryPath == "/-/ready":
		return cmdutil.UsageError("--web.telemetry-path %q is taken by the landing page or a health endpoint", o.TelemetryPath)
	case o.MaxRequests < 0:
		return cmdutil.UsageError("--web.max-requests must be 0 or more")
	case o.WebUI && o.WebUIInterval < time.Second:
		return cmdutil.UsageError("--web.ui.interval %s: want 1s or more", o.WebUIInterval)
	case o.ScrapeTimeout <= 0:
		return cmdutil.UsageError("--scrape-timeout must be positive")
	case o.ScrapeTimeoutOffset < 0 || o.CacheTTL < 0 || o.OnceTimeout < 0:
		return cmdutil.UsageError("--scrape-timeout-offset, --cache-ttl and --once-timeout cannot be negative")
	case o.ReadHeaderTimeout <= 0 || o.IdleTimeout <= 0 || o.WriteTimeout < 0:
		return cmdutil.UsageError("--web.read-header-timeout and --web.idle-timeout must be positive, --web.write-timeout 0 or more")
	case o.WriteTimeout > 0 && o.WriteTimeout <= o.ScrapeTimeout:
		return cmdutil.UsageError("--web.write-timeout %s must be longer than --scrape-timeout %s, or no scrape could be answered", o.WriteTimeout, o.ScrapeTimeout)
	case o.OnceTimeout > 0 && !o.Once:
		return cmdutil.UsageError("--once-timeout goes with --once")
	case o.ExternalURL != "" && !strings.HasPrefix(o.ExternalURL, "http://") && !strings.HasPrefix(o.ExternalURL, "https://"):
		return cmdutil.UsageError("--web.external-url %q: want an http(s):// URL", o.ExternalURL)
	}
	o.logLevel, o.logFormat = promslog.NewLevel(), promslog.NewFormat()
	if err := o.logLevel.Set(o.LogLevel); err != nil {
		return cmdutil.UsageError("--log.level %q: want debug, info, warn or error", o.LogLevel)
	}
	if err := o.logFormat.Set(o.LogFormat); err != nil {
		return cmdutil.UsageError("--log.format %q: want logfmt or json", o.LogFormat)
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = o.ScrapeTimeout + 10*time.Second
	}
	var err error
	if o.limits, o.bodyLimit, err = o.Limits.Resolve(); err != nil {
		return err
	}
	if err = o.StatsFlags.Check(); err != nil {
		return err
	}
	if o.filter, err = o.Filter(); err != nil {
		return err
	}
	if o.sel, err = exposition.NewSelector(o.Match, nil); err != nil {
		return cmdutil.SelectorUsage(err)
	}
	o.targets = append([]exposition.Target(nil), o.ConfigTargets...)
	for _, arg := range o.Targets {
		t, err := exposition.ParseTargetArg(arg)
		if err != nil {
			return cmdutil.UsageError("--target %v", err)
		}
		o.targets = append(o.targets, t)
	}
	seen := map[string]bool{}
	for _, t := range o.targets {
		name := t.DisplayName()
		switch {
		case t.URL == "-":
			return cmdutil.UsageError("--target -: standard input can be read only once; serve a file or a URL")
		case seen[name]:
			return cmdutil.UsageError("two targets are named %q; give them different names in the config file", name)
		}
		seen[name] = true
		if err := cmdutil.CheckCredentialFiles(&t); err != nil {
			return err
		}
	}
	if !o.Containers && len(o.targets) == 0 && !o.discovering && len(o.FromPrometheus) == 0 && len(o.Kube) == 0 {
		return cmdutil.UsageError("nothing to serve: --containers=false and no targets (--target, --discover or the config file's targets or scrape_configs)")
	}
	return nil
}

// discovered are the targets disc finds now, each named apart from the
// static ones (whose names are the target label of their series): one
// of the same name is called JOB/NAME.
func (o *Options) discovered(disc *discovery.Discovery) func() []exposition.Target {
	static := map[string]bool{}
	for _, t := range o.targets {
		static[t.DisplayName()] = true
	}
	return func() []exposition.Target {
		found := disc.Targets()
		out := found
		for i := range found {
			if !static[found[i].DisplayName()] {
				continue
			}
			if &out[0] == &found[0] {
				out = slices.Clone(found) // found is shared
			}
			out[i].Name = out[i].Job + "/" + out[i].DisplayName()
		}
		return out
	}
}

// watchKube starts an informer for each type of --kube, and logs what
// is watched and what cannot be.
func (o *Options) watchKube(ctx context.Context, logger *slog.Logger) (*kube.Source, error) {
	src, errs, err := o.WatchKube(ctx)
	for _, e := range errs {
		logger.Warn("cannot watch Kubernetes objects", "err", e)
	}
	if err != nil {
		return nil, err
	}
	for _, w := range src.Watchers {
		logger.Info("Watching Kubernetes objects", "resource", w.Resource.Name(), "cluster", src.Cluster.Where())
	}
	return src, nil
}

// checkActions refuses --web.enable-actions where anyone who can reach
// the port could act: without TLS or basic auth, on an address that is
// not loopback.
func (o *Options) checkActions() error {
	if !o.EnableActions {
		return nil
	}
	if !o.WebUI {
		return cmdutil.UsageError("--web.enable-actions acts from the web view: it needs --web.ui")
	}
	if o.WebConfigFile != "" {
		b, err := os.ReadFile(o.WebConfigFile)
		if err != nil {
			return cmdutil.ConfigError("web config file %s: %v", o.WebConfigFile, err)
		}
		var cfg web.Config
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			return cmdutil.ConfigError("web config file %s: %v", o.WebConfigFile, err)
		}
		if len(cfg.Users) > 0 || cfg.TLSConfig.TLSCertPath != "" || cfg.TLSConfig.TLSCert != "" {
			return nil
		}
	}
	for _, addr := range o.ListenAddresses {
		host, _, err := net.SplitHostPort(addr)
		ip := net.ParseIP(host)
		if err != nil || host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return cmdutil.UsageError("--web.enable-actions on %s: anyone who reaches it could stop your containers; configure TLS or basic auth in --web.config.file, or listen on loopback only (127.0.0.1:PORT)", addr)
		}
	}
	return nil
}

// auditLogger says each container action on stderr, whatever
// --log.level, in --log.format.
func (o *Options) auditLogger() *slog.Logger {
	return promslog.New(&promslog.Config{Level: promslog.NewLevel(), Format: o.logFormat, Writer: o.IO.ErrOut}).With("audit", true)
}

// defaultDiscoverInterval is how often serve's discovery looks again: a
// usual scrape interval, since serve has no interval of its own.
const defaultDiscoverInterval = 15 * time.Second

func run(ctx context.Context, f *cmdutil.Factory, o *Options) error {
	o.discovering = o.Discovering(f)
	if err := o.validate(); err != nil {
		return err
	}
	logger := promslog.New(&promslog.Config{Level: o.logLevel, Format: o.logFormat, Writer: o.IO.ErrOut})
	if err := web.Validate(o.WebConfigFile); err != nil {
		return cmdutil.ConfigError("web config file %s: %v", o.WebConfigFile, err)
	}
	if err := o.checkActions(); err != nil {
		return err
	}
	info := buildinfo.Get()
	logger.Info("Starting monctl serve", "version", info.Version, "revision", info.Commit)

	var watchers []*containers.Watcher
	if o.Containers {
		engines, errs := o.Connect(ctx, f, o.EngineConcurrency)
		defer func() {
			for _, eng := range engines {
				eng.Close()
			}
		}()
		if len(errs) > 0 {
			// Later outages only fail the containers collector; an engine
			// that cannot be reached now is a mistake to report.
			return cmdutil.Failure(errors.Join(errs...))
		}
		var err error
		if watchers, err = o.Watchers(engines, containers.WatchOptions{All: o.All, Filter: o.filter, Totals: true}); err != nil {
			return err
		}
		for _, w := range watchers {
			defer w.Close()
			eng := w.Engine()
			logger.Info("Watching containers", "host", eng.Host, "engine", eng.ServerVersion, "api", eng.APIVersion, "stats_source", w.Source())
		}
	}

	listeners := make([]net.Listener, 0, len(o.ListenAddresses))
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for _, addr := range o.ListenAddresses {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return cmdutil.Failure(fmt.Errorf("cannot listen on %s: %w", addr, unwrapOp(err)))
		}
		listeners = append(listeners, l)
	}

	// Collections outlive the signal by the grace period, so that scrapes
	// in flight can finish.
	collectCtx, stopCollecting := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCollecting()
	var rules *evaluator
	if o.Ask.Asking() {
		if o.WebUI {
			o.Ask.GeneratorURL = o.externalURL(listeners[0].Addr()) + "/#alerts-section"
		}
		if err := o.Ask.CheckRules(logWriter{logger}); err != nil {
			return err
		}
		defer o.Ask.Close() // delivers what is queued, keeps the state
		rules = newEvaluator(collectCtx, &o.Ask, logger)
	}
	served := make(chan struct{})
	var once sync.Once
	disc, err := o.Discovery(collectCtx, f, &o.EngineFlags, defaultDiscoverInterval,
		discovery.Scrape{Interval: defaultDiscoverInterval, Timeout: o.ScrapeTimeout}, logger)
	if err != nil {
		return err
	}
	var fleets []fleet.Source
	for _, u := range o.FromPrometheus {
		st, err := fleet.NewStore(u, nil)
		if err != nil {
			return cmdutil.UsageError("%v", err)
		}
		fleets = append(fleets, st)
		logger.Info("Watching the containers of a store", "url", st.Name())
	}
	var objects []exporter.ObjectSource
	if len(o.Kube) > 0 {
		src, err := o.watchKube(collectCtx, logger)
		if err != nil {
			return err
		}
		defer func() {
			for _, w := range src.Watchers {
				w.Close()
			}
		}()
		objects = append(objects, src)
	}
	opts := exporter.Options{
		Engines:         watchers,
		Fleets:          fleets,
		Objects:         objects,
		ContainerLabels: o.ContainerLabels,
		Targets:         o.targets,
		Scraper:         &exposition.Scraper{UserAgent: "monctl/" + info.Version, Limits: o.limits, BodySizeLimit: o.bodyLimit},
		Static:          []exposition.Family{version.BuildInfoFamily(info)},
		Select:          o.sel,
		ScrapeTimeout:   o.ScrapeTimeout,
		TimeoutOffset:   o.ScrapeTimeoutOffset,
		CacheTTL:        o.CacheTTL,
		MaxRequests:     o.MaxRequests,
		ExporterMetrics: !o.DisableExporterMetrics,
		TelemetryPath:   o.TelemetryPath,
		Version:         info.Version,
		Logger:          logger,
	}
	if disc != nil {
		opts.Discovered, opts.Discovery = o.discovered(disc), disc.Families
	}
	if rules != nil {
		opts.Evaluate, opts.Alerts = rules.evaluate, rules.Families
	}
	if o.Once {
		opts.Served = func() { once.Do(func() { close(served) }) }
	}
	// The live view sees every complete collection, those it asks for
	// and those of Prometheus' scrapes.
	var dash *dashboard.Dashboard
	if o.WebUI {
		opts.Collected = func(c *exporter.Collection) { dash.Record(c) }
	}
	exp, err := exporter.New(collectCtx, opts)
	if err != nil {
		return cmdutil.Failure(err)
	}
	handler, err := exp.Handler(!o.WebUI)
	if err != nil {
		return cmdutil.Failure(err)
	}
	if o.WebUI {
		var engines []*containers.Engine
		for _, w := range watchers {
			engines = append(engines, w.Engine())
		}
		// A live log stream holds one of --web.max-requests while it is
		// open: a quarter of them at most, so that the view and its API
		// are always served.
		streams := dashboard.DefaultMaxStreams
		if o.MaxRequests > 0 {
			streams = max(1, min(streams, o.MaxRequests/4))
		}
		dopts := dashboard.Options{Exporter: exp, Engines: engines, ContainerLabels: o.ContainerLabels, MaxStreams: streams,
			Actions: o.EnableActions, Audit: o.auditLogger(),
			Interval: o.WebUIInterval, MaxRequests: o.MaxRequests, LogsTimeout: min(10*time.Second, o.WriteTimeout/2),
			TelemetryPath: o.TelemetryPath, Version: info.Version, Logger: logger, AllowedHosts: o.allowedHosts()}
		if rules != nil && o.Ask.Rules() {
			dopts.Alerts = rules.Alerts
		}
		dash = dashboard.New(dopts)
		handler.Handle("/", dash.Handler())
		go dash.Run(collectCtx)
	}

	flags := &web.FlagConfig{WebListenAddresses: &o.ListenAddresses, WebSystemdSocket: new(bool), WebConfigFile: &o.WebConfigFile}
	servers := make([]*http.Server, len(listeners))
	failed := make(chan error, len(listeners))
	for i, l := range listeners {
		// One server per listener: the toolkit wraps a server's handler
		// when it serves, which must not happen twice to one server.
		// The timeouts bound what a client can hold: a slow header, an
		// answer it never reads, an idle keep-alive connection.
		servers[i] = &http.Server{Handler: handler, ReadHeaderTimeout: o.ReadHeaderTimeout, WriteTimeout: o.WriteTimeout,
			IdleTimeout: o.IdleTimeout, MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		go func() {
			if err := web.Serve(l, servers[i], flags, logger); !errors.Is(err, http.ErrServerClosed) {
				failed <- fmt.Errorf("serving on %s: %w", l.Addr(), err)
			}
		}()
	}

	var timeout <-chan time.Time
	if o.OnceTimeout > 0 {
		timer := time.NewTimer(o.OnceTimeout)
		defer timer.Stop()
		timeout = timer.C
	}
	var result error
	select {
	case <-ctx.Done():
		logger.Info("Shutting down", "reason", context.Cause(ctx))
		if o.Once {
			result = ctx.Err() // nothing was served: interrupted
		}
	case <-served:
		logger.Info("Served one scrape; exiting (--once)")
	case <-timeout:
		result = cmdutil.Failure(fmt.Errorf("nobody scraped %s within %s (--once-timeout)", o.TelemetryPath, o.OnceTimeout))
	case err := <-failed:
		result = cmdutil.Failure(err)
	}
	shutdown(servers, stopCollecting)
	return result
}

// shutdown stops accepting, gives scrapes in flight the grace period to
// finish, then stops their collections so that they answer with what they
// have, and closes whatever is left.
func shutdown(servers []*http.Server, stopCollecting context.CancelFunc) {
	stop := time.AfterFunc(shutdownGrace, stopCollecting)
	defer stop.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace+2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			if s.Shutdown(ctx) != nil {
				s.Close()
			}
		})
	}
	wg.Wait()
}

// externalURL is --web.external-url, else http://HOST:PORT of the first
// listener, HOST this host's name when it listens on every address.
func (o *Options) externalURL(first net.Addr) string {
	if o.ExternalURL != "" {
		return strings.TrimSuffix(o.ExternalURL, "/")
	}
	host, port, _ := net.SplitHostPort(first.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil {
			host = name
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// unwrapOp drops net.OpError's repetition of the address.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}
