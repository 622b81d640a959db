package cmdutil

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/buildinfo"
	"github.com/monctl/monctl/pkg/exposition"
)

// ScrapeFlags are how every verb that scrapes targets reaches them: the
// time limit, the limits, the formats asked for, and the request's
// headers, auth and TLS, which apply to every target.
type ScrapeFlags struct {
	Concurrency int
	Timeout     time.Duration
	Limits      LimitFlags
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
}

// AddScrapeFlags registers the flags on cmd.
func (s *ScrapeFlags) AddScrapeFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&s.Concurrency, "concurrency", 16, "how many targets to scrape at once")
	DurationVar(fl, &s.Timeout, "timeout", 10*time.Second, "time limit for each target, from the request to the parsed exposition")
	s.Limits.AddLimitFlags(cmd)
	fl.StringVar(&s.ContentType, "content-type", "", "content type of files and stdin (default: guessed: protobuf if binary, OpenMetrics if it ends in '# EOF', else text)")
	fl.StringSliceVar(&s.Protocols, "protocol", []string{"protobuf", "openmetrics", "text"}, "formats to ask targets for, most preferred first")
	// Long form only: -H is --host across monctl, as in docker.
	fl.StringArrayVar(&s.Headers, "header", nil, "extra request header 'Name: value' (repeatable)")
	fl.StringVar(&s.BearerTokenFile, "bearer-token-file", "", "file holding a bearer token to send")
	fl.StringVar(&s.BasicAuthUser, "basic-auth-user", "", "user name for HTTP basic auth")
	fl.StringVar(&s.BasicAuthPasswordFile, "basic-auth-password-file", "", "file holding the basic auth password")
	fl.StringVar(&s.CAFile, "ca-file", "", "CA certificate(s) to verify the target with")
	fl.StringVar(&s.CertFile, "cert-file", "", "client certificate for TLS")
	fl.StringVar(&s.KeyFile, "key-file", "", "client key for TLS")
	fl.BoolVar(&s.InsecureSkipVerify, "insecure-skip-verify", false, "do not verify the target's certificate")
	_ = cmd.RegisterFlagCompletionFunc("protocol", cobra.FixedCompletions([]string{"protobuf", "openmetrics", "text"}, cobra.ShellCompDirectiveNoFileComp))
}

// Scraper validates the flags and returns the scraper they describe;
// stdin is what the target '-' reads.
func (s *ScrapeFlags) Scraper(stdin io.Reader) (*exposition.Scraper, error) {
	limits, bodyLimit, err := s.Limits.Resolve()
	if err != nil {
		return nil, err
	}
	switch {
	case s.Timeout <= 0:
		return nil, UsageError("--timeout must be positive, got %s", s.Timeout)
	case s.Concurrency < 1:
		return nil, UsageError("--concurrency must be at least 1, got %d", s.Concurrency)
	}
	var protos []exposition.Protocol
	for _, p := range s.Protocols {
		protos = append(protos, exposition.Protocol(strings.TrimSpace(p)))
	}
	if _, err := exposition.AcceptHeader(protos); err != nil {
		return nil, UsageError("--protocol: %v", err)
	}
	return &exposition.Scraper{
		Timeout:       s.Timeout,
		BodySizeLimit: bodyLimit,
		Limits:        limits,
		Protocols:     protos,
		UserAgent:     "monctl/" + buildinfo.Get().Version,
		Stdin:         stdin,
	}, nil
}

// Targets are the targets args name, or without arguments those of the
// config file, each with the flags' headers, auth and TLS applied. This
// is the one place a target is put together from what the user gave.
// None is an error unless targets are discovered.
func (s *ScrapeFlags) Targets(args []string, configTargets []exposition.Target, discovering bool) ([]exposition.Target, error) {
	var ts []exposition.Target
	if len(args) == 0 {
		ts = append(ts, configTargets...)
		if len(ts) == 0 && !discovering {
			return nil, UsageError("nothing to scrape: give a URL, host:port, file or '-', --discover, or list targets or scrape_configs in the config file")
		}
	}
	stdin := 0
	for _, a := range args {
		t, err := exposition.ParseTargetArg(a)
		if err != nil {
			return nil, UsageError("%v", err)
		}
		if t.URL == "-" {
			stdin++
		}
		ts = append(ts, t)
	}
	if stdin > 1 {
		return nil, UsageError("standard input ('-') can be read only once")
	}
	headers, err := s.headers()
	if err != nil {
		return nil, err
	}
	for i := range ts {
		if err := s.apply(&ts[i], headers); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// headers are the --header flags by canonical name.
func (s *ScrapeFlags) headers() (map[string]string, error) {
	headers := map[string]string{}
	for i, h := range s.Headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			// Never quote it: what was meant as a value may be a token.
			return nil, UsageError("--header number %d: want 'Name: value' (the value is not shown, it may be a secret)", i+1)
		}
		headers[http.CanonicalHeaderKey(name)] = strings.TrimSpace(value)
	}
	return headers, nil
}

// apply sets what the flags say on t, over what the config file said.
func (s *ScrapeFlags) apply(t *exposition.Target, headers map[string]string) error {
	if s.ContentType != "" {
		t.ContentType = s.ContentType
	}
	if len(headers) > 0 && t.Headers == nil {
		t.Headers = map[string]string{}
	}
	for k, v := range headers {
		t.Headers[k] = v
	}
	h := &t.HTTP
	if s.BearerTokenFile != "" {
		h.BearerTokenFile = s.BearerTokenFile
	}
	if s.BasicAuthUser != "" || s.BasicAuthPasswordFile != "" {
		h.BasicAuth = &config.BasicAuth{Username: s.BasicAuthUser, PasswordFile: s.BasicAuthPasswordFile}
	}
	if s.CAFile != "" {
		h.TLSConfig.CAFile = s.CAFile
	}
	if s.CertFile != "" {
		h.TLSConfig.CertFile = s.CertFile
	}
	if s.KeyFile != "" {
		h.TLSConfig.KeyFile = s.KeyFile
	}
	if s.InsecureSkipVerify {
		h.TLSConfig.InsecureSkipVerify = true
	}
	if err := h.Validate(); err != nil {
		return UsageError("%s: %v", t.DisplayName(), err)
	}
	return CheckCredentialFiles(t)
}

// ScrapeHint names the flag that changes the outcome of a failed scrape:
// pkg/exposition says what went wrong, the verbs say what to raise.
func ScrapeHint(err error) string {
	var le *exposition.LimitError
	var te *exposition.TimeoutError
	switch {
	case errors.Is(err, exposition.ErrBodyTooLarge):
		return " (raise --body-size-limit)"
	case errors.As(err, &le):
		return " (raise --" + strings.ReplaceAll(le.Limit, "_", "-") + ")"
	case errors.As(err, &te):
		return " (raise --timeout)"
	case errors.Is(err, exposition.ErrContentType), errors.Is(err, exposition.ErrFormatUnknown):
		return " (--content-type names the format)"
	}
	return ""
}

// SelectorUsage is the usage error of a --match or --type that does not
// parse.
func SelectorUsage(err error) error {
	var se *exposition.SelectorError
	if !errors.As(err, &se) {
		return UsageError("%v", err)
	}
	if se.Type {
		return UsageError("--type %q: %v", se.Value, se.Err)
	}
	return UsageError("--match %q: %v", se.Value, se.Err)
}
