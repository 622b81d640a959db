package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v2"

	"github.com/monctl/monctl/pkg/discovery"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/redact"
)

// DiscoverFlags find targets beside those given: --discover, and the
// config file's scrape_configs. --discover docker reaches the engines the
// verb's EngineFlags name.
type DiscoverFlags struct {
	Discover []string
	// Refresh is how often --discover docker and an http_sd URL look
	// again; 0: the verb's interval.
	Refresh time.Duration
}

// AddDiscoverFlags registers --discover and --discover-interval on cmd;
// every says what the latter defaults to in this verb.
func (d *DiscoverFlags) AddDiscoverFlags(cmd *cobra.Command, every string) {
	DurationVar(cmd.Flags(), &d.Refresh, "discover-interval", 0, "how often --discover docker and an http_sd URL look again (default "+every+")")
	cmd.Flags().StringArrayVar(&d.Discover, "discover", nil, "find targets: 'docker' (the containers of the engines -H names that are labelled prometheus.io/scrape=true), 'file:GLOB' (Prometheus file_sd files), an http_sd URL, or 'kubernetes:ROLE' (pod, service, endpoints, endpointslice or node, in the kubeconfig's cluster; pods annotated prometheus.io/scrape=true) (repeatable; added to the config file's scrape_configs)")
	_ = cmd.RegisterFlagCompletionFunc("discover", cobra.FixedCompletions([]string{"docker", "file:", "kubernetes:pod", "kubernetes:service", "kubernetes:endpoints", "kubernetes:endpointslice", "kubernetes:node"}, cobra.ShellCompDirectiveNoSpace|cobra.ShellCompDirectiveNoFileComp))
}

// CheckEngines refuses -H and --context where they would name engines
// only for --discover docker, without it.
func (d *DiscoverFlags) CheckEngines(e *EngineFlags) error {
	if e.Named() && !slices.Contains(d.Discover, "docker") {
		return UsageError("-H and --context name the engines of --discover docker; give --discover docker")
	}
	return nil
}

// Discovering says whether there is anything to discover.
func (d *DiscoverFlags) Discovering(f *Factory) bool {
	return len(d.Discover) > 0 || (f.Config != nil && len(f.Config.Jobs) > 0)
}

// Discovery starts the discovery the flags and the config file ask for,
// until ctx ends: nil when there is none. refresh is how often --discover
// docker and an http_sd URL look again unless --discover-interval says;
// s is what the verb scrapes with.
// The engines of --discover docker are reached through f.
func (d *DiscoverFlags) Discovery(ctx context.Context, f *Factory, e *EngineFlags, refresh time.Duration, s discovery.Scrape, logger *slog.Logger) (*discovery.Discovery, error) {
	var jobs []discovery.Job
	if f.Config != nil {
		jobs = append(jobs, f.Config.Jobs...)
	}
	if d.Refresh < 0 {
		return nil, UsageError("--discover-interval must be positive, got %s", d.Refresh)
	}
	if d.Refresh > 0 {
		refresh = d.Refresh
	}
	flagJobs, err := d.jobs(ctx, f, e, refresh)
	if err != nil {
		return nil, err
	}
	for _, j := range flagJobs {
		for _, c := range jobs {
			if c.Name == j.Name {
				return nil, UsageError("--discover adds the job %q, and the config file has a job of that name; rename the file's", j.Name)
			}
		}
	}
	jobs = append(jobs, flagJobs...)
	if len(jobs) == 0 {
		return nil, nil
	}
	SilenceKlog() // kubernetes_sd_configs: client-go's logs are said as discovery's errors
	disc, err := discovery.Start(ctx, jobs, discovery.Options{Scrape: s, Logger: logger})
	if err != nil {
		return nil, Failure(err)
	}
	return disc, nil
}

// jobs are the jobs of --discover, one per mechanism, named after it.
func (d *DiscoverFlags) jobs(ctx context.Context, f *Factory, e *EngineFlags, refresh time.Duration) ([]discovery.Job, error) {
	every := model.Duration(refresh).String()
	byMech := map[string][]map[string]any{}
	var order []string
	add := func(mech string, c map[string]any) {
		if byMech[mech] == nil {
			order = append(order, mech)
		}
		byMech[mech] = append(byMech[mech], c)
	}
	// Every value is checked before any engine is reached.
	for _, v := range d.Discover {
		switch {
		case v == "docker", strings.HasPrefix(v, "http://"), strings.HasPrefix(v, "https://"):
		case v == "file:":
			return nil, UsageError("--discover file:GLOB: the glob is missing")
		case strings.HasPrefix(v, "file:"), strings.HasPrefix(v, "kubernetes:"):
		default:
			return nil, UsageError("--discover %q: want docker, file:GLOB, an http(s):// URL or kubernetes:ROLE", redact.URL(v))
		}
	}
	for _, v := range d.Discover {
		switch {
		case v == "docker":
			if byMech["docker"] != nil {
				continue
			}
			engines, err := dockerConfigs(ctx, f, e, every)
			if err != nil {
				return nil, err
			}
			for _, c := range engines {
				add("docker", c)
			}
		case strings.HasPrefix(v, "file:"):
			add("file", map[string]any{"files": []string{strings.TrimPrefix(v, "file:")}})
		case strings.HasPrefix(v, "kubernetes:"):
			add("kubernetes", map[string]any{"role": strings.TrimPrefix(v, "kubernetes:")})
		default:
			add("http", map[string]any{"url": v, "refresh_interval": every})
		}
	}
	var out []discovery.Job
	for _, mech := range order {
		// Written as the config file would have it, so that Prometheus's
		// types check it and set their defaults.
		doc, err := yaml.Marshal(map[string]any{"scrape_configs": []map[string]any{{"job_name": mech, mech + "_sd_configs": byMech[mech]}}})
		if err != nil {
			return nil, err
		}
		jobs, err := discovery.ParseJobs(doc)
		if err != nil {
			return nil, UsageError("--discover: %s", redactURLs(err.Error(), d.Discover))
		}
		out = append(out, jobs...)
	}
	return out, nil
}

// dockerConfigs are the docker_sd_configs of the engines e names: each
// engine reached as monctl reaches it (a context, ssh), its containers
// with host networking at its host.
func dockerConfigs(ctx context.Context, f *Factory, e *EngineFlags, every string) ([]map[string]any, error) {
	var hosts []string
	var ctxName string
	if e != nil {
		hosts, ctxName = e.Hosts, e.Context
	}
	engines, errs := f.Engines(ctx, hosts, ctxName, 1)
	if len(errs) > 0 {
		for _, en := range engines {
			en.Close()
		}
		return nil, Failure(fmt.Errorf("--discover docker: %w", errors.Join(errs...)))
	}
	var out []map[string]any
	for _, en := range engines {
		dir, err := os.MkdirTemp("", "monctl-discover-")
		if err != nil {
			return nil, Failure(err)
		}
		socket, err := en.Socket(ctx, dir)
		if err != nil {
			return nil, Failure(fmt.Errorf("--discover docker: %s: %w", en.Host, err))
		}
		context.AfterFunc(ctx, func() {
			en.Close()
			os.RemoveAll(dir)
		})
		out = append(out, map[string]any{"host": socket, "host_networking_host": en.HostName(), "refresh_interval": every})
	}
	return out, nil
}

// TargetsNow are the verb's targets at this moment: the static ones,
// then what disc finds now (nil: none), each with the flags' headers,
// auth and TLS applied.
func (s *ScrapeFlags) TargetsNow(static []exposition.Target, disc *discovery.Discovery) func() []exposition.Target {
	if disc == nil {
		return func() []exposition.Target { return static }
	}
	headers, _ := s.headers() // checked with the static targets
	return func() []exposition.Target {
		found := disc.Targets()
		out := make([]exposition.Target, 0, len(static)+len(found))
		out = append(out, static...)
		for _, t := range found {
			_ = s.apply(&t, headers) // the flags were checked already
			out = append(out, t)
		}
		return out
	}
}

// Once runs the discovery until every mechanism has answered once, or
// for timeout at most, and stops it: for a verb that scrapes once. What
// a mechanism said when it failed goes to stderr. nil: nothing to
// discover.
func (d *DiscoverFlags) Once(ctx context.Context, f *Factory, e *EngineFlags, timeout time.Duration, s discovery.Scrape) (*discovery.Discovery, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	disc, err := d.Discovery(ctx, f, e, timeout, s, nil)
	if disc == nil || err != nil {
		return nil, err
	}
	if err := WaitSettled(ctx, disc, timeout, f.IO.ErrOut); err != nil {
		return nil, err
	}
	if msg := discovery.Failing(disc.Sources()); msg != "" {
		fmt.Fprintf(f.IO.ErrOut, "monctl: %s\n", msg)
	}
	return disc, nil
}

// WaitSettled waits until every mechanism of disc has answered once, for
// timeout at most (an engine that hangs must not hold the verb): then it
// says so on errOut and the verb goes on with what was found.
func WaitSettled(ctx context.Context, disc *discovery.Discovery, timeout time.Duration, errOut io.Writer) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-disc.Settled():
	case <-timer.C:
		fmt.Fprintf(errOut, "monctl: discovery: not every mechanism answered within %s (raise --timeout)\n", timeout)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	return nil
}

// redactURLs masks in msg the credentials of every http_sd URL of vs.
func redactURLs(msg string, vs []string) string {
	for _, v := range vs {
		msg = redact.In(msg, v)
	}
	return msg
}
