// Package scrape implements 'monctl scrape': fetch exporter endpoints, files
// or stdin, parse the exposition, filter it and print it.
package scrape

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/buildinfo"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
)

// Options of 'monctl scrape'.
type Options struct {
	IO cmdutil.IOStreams

	Args          []string
	ConfigTargets []exposition.Target

	Concurrency int
	Timeout     time.Duration
	Limits      cmdutil.LimitFlags
	ContentType string
	Protocols   []string

	Headers               []string
	BearerTokenFile       string
	BasicAuthUser         string
	BasicAuthPasswordFile string
	CAFile                string
	CertFile              string
	KeyFile               string
	InsecureSkipVerify    bool

	Match []string
	Types []string
	Rate  time.Duration

	Out cmdutil.OutputFlags
}

// NewCmd builds the command; runF replaces run in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "scrape [URL|host:port|FILE|-]...",
		Short: "Fetch and parse Prometheus/OpenMetrics expositions, filter and print them",
		Long: `Fetch one or many exporter endpoints (concurrently), files, or standard
input; negotiate and parse the exposition (Prometheus text 0.0.4,
OpenMetrics 1.0, delimited protobuf with native histograms); filter by
name, labels and type; and print tables or JSON.

host:port means http://host:port/metrics. Without arguments the targets of
the config file are scraped. Histograms and summaries show count, sum and
p50/p90/p99 (estimated from buckets as PromQL's histogram_quantile does);
--rate scrapes twice and prints per-second rates of counters.`,
		Example: `  monctl scrape localhost:9100
  monctl scrape --match 'node_cpu_seconds_total{mode="idle"}' localhost:9100
  monctl scrape -o json http://a:9100/metrics http://b:9100/metrics | jq '.[].up'
  curl -s localhost:9100/metrics | monctl scrape --type histogram -
  monctl scrape --rate 5s --match '{__name__=~"http_requests.*"}' app:8080`,
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveDefault // files, or a URL typed by hand
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			opts.ConfigTargets = f.ConfigTargets()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opts.Concurrency, "concurrency", 16, "how many targets to scrape at once")
	fl.DurationVar(&opts.Timeout, "timeout", 10*time.Second, "time limit for each target, from the request to the parsed exposition")
	opts.Limits.AddLimitFlags(cmd)
	fl.StringVar(&opts.ContentType, "content-type", "", "content type of files and stdin (default: guessed: protobuf if binary, OpenMetrics if it ends in '# EOF', else text)")
	fl.StringSliceVar(&opts.Protocols, "protocol", []string{"protobuf", "openmetrics", "text"}, "formats to ask targets for, most preferred first")
	fl.StringArrayVarP(&opts.Headers, "header", "H", nil, "extra request header 'Name: value' (repeatable)")
	fl.StringVar(&opts.BearerTokenFile, "bearer-token-file", "", "file holding a bearer token to send")
	fl.StringVar(&opts.BasicAuthUser, "basic-auth-user", "", "user name for HTTP basic auth")
	fl.StringVar(&opts.BasicAuthPasswordFile, "basic-auth-password-file", "", "file holding the basic auth password")
	fl.StringVar(&opts.CAFile, "ca-file", "", "CA certificate(s) to verify the target with")
	fl.StringVar(&opts.CertFile, "cert-file", "", "client certificate for TLS")
	fl.StringVar(&opts.KeyFile, "key-file", "", "client key for TLS")
	fl.BoolVar(&opts.InsecureSkipVerify, "insecure-skip-verify", false, "do not verify the target's certificate")
	fl.StringArrayVar(&opts.Match, "match", nil, `PromQL series selector, e.g. 'up{job="node"}' or '{__name__=~"go_.*"}' (repeatable, OR'ed)`)
	fl.StringSliceVar(&opts.Types, "type", nil, "only these types: counter|gauge|histogram|summary|untyped (and OpenMetrics' gaugehistogram|info|stateset)")
	fl.DurationVar(&opts.Rate, "rate", 0, "scrape twice, this far apart, and print per-second rates of counters")
	opts.Out.AddOutputFlags(cmd, "table")
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{"counter", "gauge", "histogram", "summary", "untyped", "gaugehistogram", "info", "stateset"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("protocol", cobra.FixedCompletions([]string{"protobuf", "openmetrics", "text"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// targets resolves the arguments (or the config file's targets) and applies
// the auth and TLS flags to them.
func (o *Options) targets() ([]exposition.Target, error) {
	var ts []exposition.Target
	if len(o.Args) == 0 {
		ts = append(ts, o.ConfigTargets...)
		if len(ts) == 0 {
			return nil, cmdutil.UsageError("nothing to scrape: give a URL, host:port, file or '-', or list targets in the config file")
		}
	}
	stdin := 0
	for _, a := range o.Args {
		t, err := exposition.ParseTargetArg(a)
		if err != nil {
			return nil, cmdutil.UsageError("%v", err)
		}
		if t.URL == "-" {
			stdin++
		}
		ts = append(ts, t)
	}
	if stdin > 1 {
		return nil, cmdutil.UsageError("standard input ('-') can be read only once")
	}
	headers := map[string]string{}
	for i, h := range o.Headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			// Never quote it: what was meant as a value may be a token.
			return nil, cmdutil.UsageError("--header number %d: want 'Name: value' (the value is not shown, it may be a secret)", i+1)
		}
		headers[http.CanonicalHeaderKey(name)] = strings.TrimSpace(value)
	}
	for i := range ts {
		t := &ts[i]
		if o.ContentType != "" {
			t.ContentType = o.ContentType
		}
		if len(headers) > 0 && t.Headers == nil {
			t.Headers = map[string]string{}
		}
		for k, v := range headers {
			t.Headers[k] = v
		}
		h := &t.HTTP
		if o.BearerTokenFile != "" {
			h.BearerTokenFile = o.BearerTokenFile
		}
		if o.BasicAuthUser != "" || o.BasicAuthPasswordFile != "" {
			h.BasicAuth = &config.BasicAuth{Username: o.BasicAuthUser, PasswordFile: o.BasicAuthPasswordFile}
		}
		if o.CAFile != "" {
			h.TLSConfig.CAFile = o.CAFile
		}
		if o.CertFile != "" {
			h.TLSConfig.CertFile = o.CertFile
		}
		if o.KeyFile != "" {
			h.TLSConfig.KeyFile = o.KeyFile
		}
		if o.InsecureSkipVerify {
			h.TLSConfig.InsecureSkipVerify = true
		}
		if err := h.Validate(); err != nil {
			return nil, cmdutil.UsageError("%s: %v", t.DisplayName(), err)
		}
		if err := cmdutil.CheckCredentialFiles(t); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// stream scrapes one target and writes each family as it is parsed, so
// that memory stays at the size of the body plus one family.
func (o *Options) stream(ctx context.Context, s *exposition.Scraper, t *exposition.Target, sel *exposition.Selector, format output.Format) error {
	jw := output.NewJSONWriter(o.IO.Out, false)
	name := t.DisplayName()
	headWritten := false
	head := func(r *exposition.Result) {
		if format == output.JSON {
			jw.BeginArray()
			writeTargetHead(jw, r)
		}
		headWritten = true
	}
	r := s.ScrapeStream(ctx, t, head, func(f *exposition.Family) error {
		for _, kept := range sel.Filter([]exposition.Family{*f}) {
			if format == output.JSON {
				writeFamily(jw, &kept)
			} else {
				writeFamilyLines(jw, name, &kept)
			}
		}
		return jw.Err()
	})
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if format == output.JSON {
		if !headWritten {
			head(&r)
		}
		writeTargetTail(jw, &r)
		jw.EndArray()
		jw.Newline()
	} else {
		writeErrorLine(jw, &r)
	}
	if err := jw.Flush(); err != nil {
		return cmdutil.Failure(fmt.Errorf("writing output: %w", err))
	}
	if !o.report(&r) {
		return cmdutil.Silent
	}
	return nil
}

// report writes a result's error or warnings to stderr and says whether
// the target was up.
func (o *Options) report(r *exposition.Result) bool {
	if r.Err != nil {
		fmt.Fprintf(o.IO.ErrOut, "monctl: %v%s\n", r.Err, hint(r.Err))
		return false
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(o.IO.ErrOut, "monctl: warning: %s: %s\n", r.Target, w)
	}
	return true
}

// hint names the flag that changes the outcome of a failed target.
func hint(err error) string {
	var le *exposition.LimitError
	var te *exposition.TimeoutError
	switch {
	case errors.Is(err, exposition.ErrBodyTooLarge):
		return " (raise --body-size-limit)"
	case errors.As(err, &le):
		return " (raise --" + strings.ReplaceAll(le.Limit, "_", "-") + ")"
	case errors.As(err, &te):
		return " (raise --timeout)"
	}
	return ""
}

func run(ctx context.Context, o *Options) error {
	format, tmpl, err := o.Out.Resolve()
	if err != nil {
		return err
	}
	if tmpl != nil {
		// A template that names a field records lack fails now, not after
		// every target was scraped.
		if err := tmpl.Check(Record{Labels: map[string]string{}}); err != nil {
			return cmdutil.UsageError("%v", err)
		}
	}
	limits, bodyLimit, err := o.Limits.Resolve()
	if err != nil {
		return err
	}
	switch {
	case o.Timeout <= 0:
		return cmdutil.UsageError("--timeout must be positive, got %s", o.Timeout)
	case o.Concurrency < 1:
		return cmdutil.UsageError("--concurrency must be at least 1, got %d", o.Concurrency)
	}
	sel, err := exposition.NewSelector(o.Match, o.Types)
	if err != nil {
		return cmdutil.UsageError("%v", err)
	}
	var protos []exposition.Protocol
	for _, p := range o.Protocols {
		protos = append(protos, exposition.Protocol(strings.TrimSpace(p)))
	}
	if _, err := exposition.AcceptHeader(protos); err != nil {
		return cmdutil.UsageError("--protocol: %v", err)
	}
	if o.Rate < 0 {
		return cmdutil.UsageError("--rate must be positive")
	}
	targets, err := o.targets()
	if err != nil {
		return err
	}
	if o.Rate > 0 {
		for _, t := range targets {
			if t.URL == "-" {
				return cmdutil.UsageError("--rate needs two scrapes, and standard input can be read only once")
			}
		}
	}
	s := &exposition.Scraper{
		Timeout:       o.Timeout,
		BodySizeLimit: bodyLimit,
		Limits:        limits,
		Protocols:     protos,
		UserAgent:     "monctl/" + buildinfo.Get().Version,
		Stdin:         o.IO.In,
	}
	// One target written as JSON needs no model: stream it.
	if len(targets) == 1 && o.Rate == 0 && tmpl == nil && (format == output.JSON || format == output.JSONL) {
		return o.stream(ctx, s, &targets[0], sel, format)
	}
	results := s.ScrapeAll(ctx, targets, o.Concurrency)
	if o.Rate > 0 && ctx.Err() == nil {
		first := results
		select {
		case <-time.After(o.Rate):
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		results = s.ScrapeAll(ctx, targets, o.Concurrency)
		for i := range results {
			if first[i].Err == nil && results[i].Err == nil {
				exposition.ApplyRates(first[i].Families, results[i].Families, results[i].Start.Sub(first[i].Start).Seconds())
			}
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	failed := 0
	for i := range results {
		r := &results[i]
		if !o.report(r) {
			failed++
			continue
		}
		r.Families = sel.Filter(r.Families)
	}
	r := &renderer{w: o.IO.Out, errw: o.IO.ErrOut, format: format, tmpl: tmpl, term: output.Detect(o.IO.Out), multi: len(targets) > 1, rate: o.Rate > 0}
	// With nothing gathered only the formats that carry per-target errors
	// have something to say; an empty table would only look like success.
	carriesErrors := format == output.JSON || format == output.JSONL || format == output.YAML
	if failed == len(results) && !carriesErrors {
		return cmdutil.Silent
	}
	if err := r.render(results); err != nil {
		return cmdutil.Failure(fmt.Errorf("writing output: %w", err))
	}
	switch {
	case failed == len(results):
		return cmdutil.Silent
	case failed > 0:
		return cmdutil.Partial
	}
	return nil
}
