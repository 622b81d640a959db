package exposition

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/model/relabel"
	"golang.org/x/sync/errgroup"

	"github.com/monctl/monctl/pkg/redact"
)

// DefaultBodySizeLimit is the most a target may send, after decompression.
const DefaultBodySizeLimit = 64 << 20

// Target is one place to read an exposition from: an HTTP(S) URL, a file, or
// standard input ("-").
type Target struct {
	// Name is how the target is shown; for URLs it never carries credentials.
	Name string `yaml:"name,omitempty"`
	// URL is http(s)://..., a file path, or "-" for standard input.
	URL string `yaml:"url"`
	// HTTP holds the standard Prometheus http_config block.
	HTTP config.HTTPClientConfig `yaml:"http_config,omitempty"`
	// Headers are sent with every request (names canonicalised).
	Headers map[string]string `yaml:"headers,omitempty"`
	// ContentType overrides the guess for files and standard input, and
	// what an HTTP target claims.
	ContentType string `yaml:"content_type,omitempty"`
	// Limits override the Scraper's, field by field, where set.
	Limits Limits `yaml:",inline"`
	// BodySizeLimit overrides the Scraper's, where set.
	BodySizeLimit ByteSize `yaml:"body_size_limit,omitempty"`
	// Job is the job label its series get where they are pushed, as a
	// Prometheus scrape config's job_name; empty: the pusher's.
	Job string `yaml:"job,omitempty"`

	// What discovery gives a target (pkg/discovery), as Prometheus
	// does. InstanceLabel is its instance label when the rules set one.
	InstanceLabel string `yaml:"-"`
	// Labels are added to every series scraped, beside job and
	// instance; a label of the same name the series had becomes
	// exported_NAME, as with honor_labels: false.
	Labels Labels `yaml:"-"`
	// MetricRelabel are the job's metric_relabel_configs, applied to
	// every series scraped, after Labels; each validated
	// (relabel.Config.Validate).
	MetricRelabel []*relabel.Config `yaml:"-"`
}

// Instance is the instance label a Prometheus scrape would give the
// target: host:port of a URL (its default port made explicit, as
// Prometheus's __address__), else the name it is shown by.
func (t *Target) Instance() string {
	if t.InstanceLabel != "" {
		return t.InstanceLabel
	}
	if !t.IsHTTP() {
		return t.DisplayName()
	}
	u, err := url.Parse(t.URL)
	if err != nil {
		return t.DisplayName()
	}
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// NewTarget is the one way a target is made, whatever names it (an
// argument, the config file, serve --target): url as given, and
// Prometheus' HTTP defaults (follow redirects, allow HTTP/2), which a
// zero HTTPClientConfig would turn off.
func NewTarget(url string) Target {
	return Target{URL: url, HTTP: config.DefaultHTTPClientConfig}
}

// UnmarshalYAML decodes a config file's target on top of NewTarget's
// defaults, so that a target without http_config follows redirects too.
func (t *Target) UnmarshalYAML(unmarshal func(any) error) error {
	type plain Target
	*t = NewTarget("")
	return unmarshal((*plain)(t))
}

// IsHTTP reports whether the target is fetched over HTTP.
func (t *Target) IsHTTP() bool {
	return strings.HasPrefix(t.URL, "http://") || strings.HasPrefix(t.URL, "https://")
}

// DisplayName is the name to show: the configured one, else the URL without
// user info, else the path.
func (t *Target) DisplayName() string {
	if t.Name != "" {
		return t.Name
	}
	return redact.URL(t.URL)
}

var hostPort = regexp.MustCompile(`^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$`)

// ParseTargetArg turns a command-line argument into a target: "-" is
// standard input, http(s):// URLs are URLs, an existing file is a file, and
// host:port means http://host:port/metrics, as Prometheus' static configs do.
func ParseTargetArg(arg string) (Target, error) {
	t, err := parseTarget(arg)
	if err != nil || t.IsHTTP() || t.URL == "-" {
		return t, err
	}
	if _, err := os.Stat(arg); err != nil {
		return Target{}, fmt.Errorf("%q is not a URL, host:port or readable file", arg)
	}
	return t, nil
}

// ParseConfigTarget is ParseTargetArg for a target listed in a config
// file: a path is a file whether or not it exists yet, since it is read
// (and found missing) only when that target is scraped.
func ParseConfigTarget(arg string) (Target, error) {
	if arg == "-" {
		return Target{}, errors.New("standard input cannot be a configured target")
	}
	return parseTarget(arg)
}

func parseTarget(arg string) (Target, error) {
	switch {
	case arg == "-":
		t := NewTarget("-")
		t.Name = "stdin"
		return t, nil
	case strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://"):
		u, err := url.Parse(arg)
		if err != nil || u.Host == "" {
			return Target{}, fmt.Errorf("invalid URL %q", redact.URL(arg))
		}
		return NewTarget(arg), nil
	case strings.Contains(arg, "://"):
		return Target{}, fmt.Errorf("%q: only http:// and https:// URLs can be scraped", redact.URL(arg))
	}
	if _, err := os.Stat(arg); err != nil && hostPort.MatchString(arg) {
		return NewTarget("http://" + arg + "/metrics"), nil
	}
	return NewTarget(arg), nil
}

// Protocol is one exposition format the scraper may ask for.
type Protocol string

// The protocols, as named on the command line.
const (
	ProtoProtobuf    Protocol = "protobuf"
	ProtoOpenMetrics Protocol = "openmetrics"
	ProtoText        Protocol = "text"
)

// DefaultProtocols prefer the richest format, as Prometheus does when it
// scrapes native histograms.
var DefaultProtocols = []Protocol{ProtoProtobuf, ProtoOpenMetrics, ProtoText}

var acceptOf = map[Protocol]string{
	ProtoProtobuf:    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
	ProtoOpenMetrics: "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
	ProtoText:        "text/plain;version=0.0.4",
}

// AcceptHeader builds the Accept header for protocols in order of preference.
func AcceptHeader(protos []Protocol) (string, error) {
	var parts []string
	q := 10
	for _, p := range protos {
		a, ok := acceptOf[p]
		if !ok {
			return "", fmt.Errorf("unknown protocol %q (want protobuf, openmetrics or text)", p)
		}
		parts = append(parts, fmt.Sprintf("%s;q=0.%d", a, q-1))
		q--
	}
	parts = append(parts, fmt.Sprintf("*/*;q=0.%d", q-1))
	return strings.Join(parts, ","), nil
}

// Scraper fetches and parses targets.
type Scraper struct {
	// Timeout bounds each target, from the request to the parsed model.
	Timeout       time.Duration
	BodySizeLimit int64
	// Limits apply to every target that does not set its own.
	Limits    Limits
	Protocols []Protocol
	UserAgent string
	// Stdin is read for the target "-".
	Stdin io.Reader
	// Parsers, when not nil, bounds how many bodies ScrapeStream parses
	// at once (one value in the channel a parse). Fetching is waiting,
	// parsing and what emit does with the families is work: many targets
	// fetched at once need not hold their models at once.
	Parsers chan struct{}

	mu      sync.Mutex
	clients map[*Target]*http.Client
	// sizes is the body size each target answered with last time: the
	// next read of it starts with room for that much, instead of growing
	// its buffer a doubling at a time, while a claimed Content-Length
	// still decides nothing.
	sizes sync.Map // *Target → int64
}

// Result is the outcome of scraping one target.
type Result struct {
	Target      string
	URL         string
	Start       time.Time
	Duration    time.Duration
	Bytes       int64
	ContentType string
	Format      Format
	Series      int
	Families    []Family
	Warnings    []string
	Err         error
}

// ScrapeAll scrapes targets with at most concurrency at once and returns the
// results in target order. A failing target never stops the others.
func (s *Scraper) ScrapeAll(ctx context.Context, targets []Target, concurrency int) []Result {
	return eachTarget(ctx, targets, concurrency, func(i int) Result { return s.Scrape(ctx, &targets[i]) })
}

// StreamAll streams targets as ScrapeStream does, with at most
// concurrency at once, and returns the results (without families) in
// target order. emit gets each family with the index of its target and
// the time its scrape started; it is called concurrently for different
// targets, in order for one.
func (s *Scraper) StreamAll(ctx context.Context, targets []Target, concurrency int, emit func(i int, start time.Time, f *Family) error) []Result {
	return eachTarget(ctx, targets, concurrency, func(i int) Result {
		var start time.Time
		return s.ScrapeStream(ctx, &targets[i], func(r *Result) { start = r.Start }, func(f *Family) error { return emit(i, start, f) })
	})
}

// eachTarget runs scrape for every target, at most concurrency at once;
// a target still waiting for its turn when ctx ends fails with ctx's
// error.
func eachTarget(ctx context.Context, targets []Target, concurrency int, scrape func(i int) Result) []Result {
	out := make([]Result, len(targets))
	var g errgroup.Group
	g.SetLimit(max(1, concurrency))
	for i := range targets {
		g.Go(func() error {
			if ctx.Err() != nil { // cancelled while waiting for a turn
				out[i] = Result{Target: targets[i].DisplayName(), URL: redact.URL(targets[i].URL), Err: ctx.Err()}
				return nil
			}
			out[i] = scrape(i)
			return nil
		})
	}
	_ = g.Wait() // the goroutines report in out, never as errors
	return out
}

// Scrape fetches and parses one target.
func (s *Scraper) Scrape(ctx context.Context, t *Target) Result {
	var fams []Family
	r := s.ScrapeStream(ctx, t, nil, func(f *Family) error {
		fams = append(fams, *f)
		return nil
	})
	if r.Err == nil {
		r.Families = fams
	}
	return r
}

// ScrapeStream fetches one target and hands its families to emit as they
// are parsed (see ParseStream). started, when set, is called once the
// format is known, before the first family (or after a parse that found
// none), and not at all when the target fails. The result carries
// everything but the families. After a parse error, the families emitted
// before it stand.
//
// The Timeout covers the fetch and the parse: a body that is slow to parse
// fails the target just as a slow answer does.
func (s *Scraper) ScrapeStream(ctx context.Context, t *Target, started func(*Result), emit func(*Family) error) Result {
	r := Result{Target: t.DisplayName(), URL: redact.URL(t.URL), Start: time.Now()}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, s.Timeout, &TimeoutError{Target: r.Target, Timeout: s.Timeout})
		defer cancel()
	}
	body, ct, err := s.fetch(ctx, t)
	r.Duration = time.Since(r.Start)
	r.Bytes = int64(len(body))
	if err != nil {
		r.Err = err
		return r
	}
	guessed := t.ContentType == "" && !t.IsHTTP()
	if t.ContentType != "" {
		ct = t.ContentType
	} else if guessed {
		ct = GuessContentType(body)
	}
	r.ContentType = ct
	f, err := FormatFromContentType(ct)
	if err != nil {
		r.Err = fmt.Errorf("%s: %w", r.Target, tagged{err, ErrContentType})
		return r
	}
	lim := s.limits(t)
	if s.Parsers != nil {
		select {
		case s.Parsers <- struct{}{}:
			defer func() { <-s.Parsers }()
		case <-ctx.Done():
			r.Err = fmt.Errorf("parsing %s: %w", r.Target, parseCause(ctx))
			return r
		}
	}
	// started is told just before the first family, once the format is
	// certain (a failed guess has emitted nothing).
	parse := func(f Format) ([]string, error) {
		r.Format = f
		return ParseStream(ctx, body, f, lim, func(fam *Family) error {
			if started != nil {
				started(&r)
				started = nil
			}
			r.Series += fam.SeriesCount()
			if !t.relabels() {
				return emit(fam)
			}
			for _, f := range t.relabel(fam) {
				if err := emit(f); err != nil {
					return err
				}
			}
			return nil
		})
	}
	// A guess must never turn a valid input into an error: when the
	// guessed format fails, the text format gets its chance. (The
	// OpenMetrics and protobuf parsers emit nothing before they succeed,
	// so nothing is emitted twice.)
	r.Warnings, err = parse(f)
	if err != nil && guessed && f != FormatText && ctx.Err() == nil && !errors.Is(err, ErrLimit) {
		warnings, textErr := parse(FormatText)
		if textErr == nil {
			r.ContentType = acceptOf[ProtoText]
			r.Warnings = append(warnings, fmt.Sprintf("read as the text format: it is not valid %s (%v)", f, err))
			err = nil
		} else {
			r.Format = f
			err = tagged{fmt.Errorf("%w (nor is it the text format: %v)", err, textErr), ErrFormatUnknown}
		}
	}
	r.Duration = time.Since(r.Start)
	if err == nil && started != nil {
		started(&r) // nothing was emitted
	}
	if err != nil {
		if ctx.Err() != nil {
			err = parseCause(ctx)
		}
		r.Err = fmt.Errorf("parsing %s as %s: %w", r.Target, r.Format, err)
		return r
	}
	return r
}

// parseCause is why ctx ended while a body was parsed (or waited for its
// turn): a timeout says it came while parsing.
func parseCause(ctx context.Context) error {
	err := context.Cause(ctx)
	var te *TimeoutError
	if errors.As(err, &te) {
		err = &TimeoutError{Target: te.Target, Timeout: te.Timeout, Parsing: true}
	}
	return err
}

// TimeoutError is a target that took longer than the scraper's timeout,
// to answer or to parse.
type TimeoutError struct {
	Target  string
	Timeout time.Duration
	// Parsing says the time ran out while parsing, not while waiting.
	Parsing bool
}

func (e *TimeoutError) Error() string {
	if e.Parsing {
		return fmt.Sprintf("%s took longer than the %s timeout to parse", e.Target, e.Timeout)
	}
	return fmt.Sprintf("%s did not answer within the %s timeout", e.Target, e.Timeout)
}

// Is makes a TimeoutError a context.DeadlineExceeded too.
func (e *TimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// limits are t's, field by field, else the scraper's.
func (s *Scraper) limits(t *Target) Limits {
	own, def := t.Limits, s.Limits
	return Limits{
		Samples:          cmp.Or(own.Samples, def.Samples),
		Labels:           cmp.Or(own.Labels, def.Labels),
		LabelNameLength:  cmp.Or(own.LabelNameLength, def.LabelNameLength),
		LabelValueLength: cmp.Or(own.LabelValueLength, def.LabelValueLength),
		Buckets:          cmp.Or(own.Buckets, def.Buckets),
	}
}

// Up reports whether the target was scraped and parsed.
func (r *Result) Up() bool { return r.Err == nil }

// ScrapeFamilies are the series Prometheus records of every scrape, for
// questions asked of it: up and scrape_duration_seconds.
func (r *Result) ScrapeFamilies() []Family {
	up := 0.0
	if r.Up() {
		up = 1
	}
	return []Family{
		{Name: "up", Type: Gauge, Metrics: []Metric{{Value: up}}},
		{Name: "scrape_duration_seconds", Type: Gauge, Metrics: []Metric{{Value: r.Duration.Seconds()}}},
	}
}

// GuessContentType tells the format of a file: binary is protobuf, text
// that ends in "# EOF" is OpenMetrics, anything else the text format.
func GuessContentType(body []byte) string {
	head := body[:min(len(body), 512)]
	if len(head) < len(body) {
		// The cut may split a character: drop its first bytes.
		for i := 1; i <= utf8.UTFMax && i <= len(head); i++ {
			if utf8.RuneStart(head[len(head)-i]) {
				if !utf8.FullRune(head[len(head)-i:]) {
					head = head[:len(head)-i]
				}
				break
			}
		}
	}
	if !utf8.Valid(head) || bytes.IndexByte(head, 0) >= 0 {
		return "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
	}
	if bytes.HasSuffix(bytes.TrimRight(body, "\n"), []byte("# EOF")) {
		return "application/openmetrics-text;version=1.0.0"
	}
	return "text/plain;version=0.0.4"
}

func (s *Scraper) limit(t *Target) int64 {
	return cmp.Or(int64(t.BodySizeLimit), s.BodySizeLimit, DefaultBodySizeLimit)
}

func (s *Scraper) fetch(ctx context.Context, t *Target) ([]byte, string, error) {
	if !t.IsHTTP() {
		return s.readLocal(t)
	}
	client, err := s.client(t)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		// url.Error quotes the URL whole, user info and all: say only why.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, "", fmt.Errorf("building request for %s: %v", t.DisplayName(), err)
	}
	protos := s.Protocols
	if len(protos) == 0 {
		protos = DefaultProtocols
	}
	accept, err := AcceptHeader(protos)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Encoding", "gzip")
	ua := s.UserAgent
	if ua == "" {
		ua = "monctl"
	}
	req.Header.Set("User-Agent", ua)
	// Tell the target how long it has, as Prometheus does: the timeout,
	// or what is left of the caller's deadline (monctl serve's scrape).
	budget := s.Timeout
	if dl, ok := ctx.Deadline(); ok && (budget == 0 || time.Until(dl) < budget) {
		budget = time.Until(dl)
	}
	if budget > 0 {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(budget.Seconds(), 'f', 3, 64))
	}
	// t.Headers are added by the client's transport, to this host only
	// (see headerTransport).
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", describeHTTPError(ctx, t, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, "", fmt.Errorf("%s answered HTTP %s", t.DisplayName(), resp.Status)
	}
	var rd io.Reader = resp.Body
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		gz, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, "", fmt.Errorf("reading gzip body from %s: %w", t.DisplayName(), err)
		}
		defer gz.Close()
		rd = gz
	}
	// Content-Length is a claim, not a size: it never decides an
	// allocation. What the target sent last time does.
	last := int64(-1)
	if v, ok := s.sizes.Load(t); ok {
		last = v.(int64) + v.(int64)/16
	}
	body, err := readLimited(rd, s.limit(t), last)
	if err != nil {
		return body, "", describeReadError(ctx, t, err)
	}
	s.sizes.Store(t, int64(len(body)))
	return body, resp.Header.Get("Content-Type"), nil
}

func (s *Scraper) readLocal(t *Target) ([]byte, string, error) {
	var rd io.Reader
	if t.URL == "-" {
		if s.Stdin == nil {
			return nil, "", errors.New("no standard input to read")
		}
		rd = s.Stdin
	} else {
		f, err := os.Open(t.URL)
		if err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", t.URL, errors.Unwrap(err))
		}
		defer f.Close()
		rd = f
	}
	size := int64(-1)
	if f, ok := rd.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
	}
	body, err := readLimited(rd, s.limit(t), size)
	if err != nil {
		return body, "", fmt.Errorf("reading %s: %w", t.DisplayName(), err)
	}
	return body, t.ContentType, nil
}

// ErrBodyTooLarge matches a BodyTooLargeError with errors.Is.
var ErrBodyTooLarge = errors.New("body too large")

// BodyTooLargeError is a body past the body size limit.
type BodyTooLargeError struct{ Limit int64 }

func (e *BodyTooLargeError) Error() string {
	return fmt.Sprintf("body_size_limit of %s exceeded: stopped reading there", FormatBytes(e.Limit))
}

// Is makes errors.Is(err, ErrBodyTooLarge) and errors.Is(err, ErrLimit)
// true.
func (e *BodyTooLargeError) Is(target error) bool {
	return target == ErrBodyTooLarge || target == ErrLimit
}

// readLimited reads all of r but stops one byte past limit. A known size
// (of a regular file, or what the target sent last time; never what a
// server claims) lets it allocate once. Past a first buffer, the body is
// read in chunks of 1 MiB and joined once at its end: a body over the
// limit costs the limit and no more (doubling a buffer would hold up to
// four times it, the old copies included), one within it twice its size
// while it is joined.
func readLimited(r io.Reader, limit, size int64) ([]byte, error) {
	const chunk = 1 << 20
	capacity := min(int64(64<<10), limit+1)
	if size > 0 && size <= limit {
		capacity = size + 1
	}
	first, err := fill(r, make([]byte, 0, capacity))
	if err != nil || len(first) < cap(first) { // the end, or a failure
		if err == io.EOF {
			err = nil
		}
		if int64(len(first)) > limit {
			return nil, &BodyTooLargeError{Limit: limit}
		}
		return first, err
	}
	chunks, total := [][]byte{first}, int64(len(first))
	for {
		if total > limit {
			return nil, &BodyTooLargeError{Limit: limit}
		}
		c, err := fill(r, make([]byte, 0, min(chunk, limit+1-total)))
		chunks, total = append(chunks, c), total+int64(len(c))
		if err == io.EOF || err == nil && len(c) < cap(c) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if total > limit {
		return nil, &BodyTooLargeError{Limit: limit}
	}
	body := make([]byte, 0, total)
	for i, c := range chunks {
		body = append(body, c...)
		chunks[i] = nil // collectable as soon as it is copied
	}
	return body, nil
}

// fill reads into buf until it is full, r ends (io.EOF) or fails.
func fill(r io.Reader, buf []byte) ([]byte, error) {
	for len(buf) < cap(buf) {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// FormatBytes writes a byte count with a binary unit, for messages.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + string("KMGTPE"[exp]) + "iB"
}

func (s *Scraper) client(t *Target) (*http.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[t]; ok {
		return c, nil
	}
	if err := t.HTTP.Validate(); err != nil {
		return nil, fmt.Errorf("http_config of %s: %w", t.DisplayName(), err)
	}
	c, err := config.NewClientFromConfig(t.HTTP, "monctl", config.WithUserAgent(s.UserAgent))
	if err != nil {
		return nil, fmt.Errorf("http_config of %s: %w", t.DisplayName(), err)
	}
	if len(t.Headers) > 0 {
		u, err := url.Parse(t.URL)
		if err != nil {
			return nil, fmt.Errorf("invalid URL %q", redact.URL(t.URL))
		}
		c.Transport = &headerTransport{next: c.Transport, host: u.Host, headers: t.Headers}
	}
	if s.clients == nil {
		s.clients = map[*Target]*http.Client{}
	}
	s.clients[t] = c
	return c, nil
}

// headerTransport adds the user's headers to requests for the target's
// own host only. Go's client forwards every header but Authorization and
// cookies on a redirect, so an API key set with --header would otherwise
// reach whatever host the target redirects to.
type headerTransport struct {
	next    http.RoundTripper
	host    string
	headers map[string]string
}

func (h *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == h.host {
		// A redirect copies the headers of the client's request, which
		// never holds these: they are added to a clone, here.
		req = req.Clone(req.Context())
		for k, v := range h.headers {
			req.Header.Set(k, v)
		}
	}
	return h.next.RoundTrip(req)
}

// describeHTTPError says what went wrong in words a person can act on.
func describeHTTPError(ctx context.Context, t *Target, err error) error {
	name := t.DisplayName()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		var te *TimeoutError
		if errors.As(context.Cause(ctx), &te) {
			return te // a typed error, so that the verb can name its flag
		}
		return fmt.Errorf("%s did not answer before the scrape's deadline", name)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("scraping %s: interrupted", name)
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Op == "dial" {
		return fmt.Errorf("cannot connect to %s: %v", name, ne.Err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // it quotes the URL, user info and all
	}
	return fmt.Errorf("scraping %s: %w", name, err)
}

func describeReadError(ctx context.Context, t *Target, err error) error {
	if errors.Is(err, ErrBodyTooLarge) {
		return fmt.Errorf("%s: %w", t.DisplayName(), err)
	}
	if ctx.Err() != nil {
		return describeHTTPError(ctx, t, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("reading %s: the connection closed before the whole body arrived", t.DisplayName())
	}
	return fmt.Errorf("reading %s: %w", t.DisplayName(), err)
}
