package exposition

import (
	"bytes"
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
	return RedactURL(t.URL)
}

// RedactURL hides the password of a URL's user info.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

var hostPort = regexp.MustCompile(`^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$`)

// ParseTargetArg turns a command-line argument into a target: "-" is
// standard input, http(s):// URLs are URLs, an existing file is a file, and
// host:port means http://host:port/metrics, as Prometheus' static configs do.
func ParseTargetArg(arg string) (Target, error) {
	switch {
	case arg == "-":
		return Target{URL: "-", Name: "stdin"}, nil
	case strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://"):
		u, err := url.Parse(arg)
		if err != nil || u.Host == "" {
			return Target{}, fmt.Errorf("invalid URL %q", RedactURL(arg))
		}
		return Target{URL: arg}, nil
	}
	if _, err := os.Stat(arg); err == nil {
		return Target{URL: arg}, nil
	}
	if hostPort.MatchString(arg) {
		return Target{URL: "http://" + arg + "/metrics"}, nil
	}
	if strings.Contains(arg, "://") {
		return Target{}, fmt.Errorf("%q: only http:// and https:// URLs can be scraped", RedactURL(arg))
	}
	return Target{}, fmt.Errorf("%q is not a URL, host:port or readable file", arg)
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
	Timeout       time.Duration
	BodySizeLimit int64
	Protocols     []Protocol
	UserAgent     string
	// Stdin is read for the target "-".
	Stdin io.Reader

	mu      sync.Mutex
	clients map[*Target]*http.Client
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
	if concurrency < 1 {
		concurrency = 1
	}
	out := make([]Result, len(targets))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				out[i] = Result{Target: targets[i].DisplayName(), URL: RedactURL(targets[i].URL), Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			out[i] = s.Scrape(ctx, &targets[i])
		}()
	}
	wg.Wait()
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
// are parsed (see ParseStream). started, when set, is called once the body
// is in and its format known, before the first family. The result carries
// everything but the families. After a parse error, the families emitted
// before it stand.
func (s *Scraper) ScrapeStream(ctx context.Context, t *Target, started func(*Result), emit func(*Family) error) Result {
	r := Result{Target: t.DisplayName(), URL: RedactURL(t.URL), Start: time.Now()}
	body, ct, err := s.fetch(ctx, t)
	r.Duration = time.Since(r.Start)
	r.Bytes = int64(len(body))
	if err != nil {
		r.Err = err
		return r
	}
	if t.ContentType != "" {
		ct = t.ContentType
	} else if !t.IsHTTP() {
		ct = GuessContentType(body)
	}
	r.ContentType = ct
	f, err := FormatFromContentType(ct)
	if err != nil {
		r.Err = fmt.Errorf("%s: %w (--content-type parses it as another format)", r.Target, err)
		return r
	}
	r.Format = f
	if started != nil {
		started(&r)
	}
	r.Warnings, err = ParseStream(body, f, func(fam *Family) error {
		r.Series += fam.SeriesCount()
		return emit(fam)
	})
	r.Duration = time.Since(r.Start)
	if err != nil {
		r.Err = fmt.Errorf("parsing %s as %s: %w", r.Target, f, err)
		return r
	}
	return r
}

// Up reports whether the target was scraped and parsed.
func (r *Result) Up() bool { return r.Err == nil }

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

func (s *Scraper) limit() int64 {
	if s.BodySizeLimit > 0 {
		return s.BodySizeLimit
	}
	return DefaultBodySizeLimit
}

func (s *Scraper) fetch(ctx context.Context, t *Target) ([]byte, string, error) {
	if !t.IsHTTP() {
		return s.readLocal(t)
	}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	client, err := s.client(t)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return nil, "", fmt.Errorf("building request for %s: %w", t.DisplayName(), err)
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
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", describeHTTPError(ctx, t, s.Timeout, err)
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
	body, err := readLimited(rd, s.limit(), resp.ContentLength)
	if err != nil {
		return body, "", describeReadError(ctx, t, s.Timeout, err)
	}
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
	body, err := readLimited(rd, s.limit(), size)
	if err != nil {
		return body, "", fmt.Errorf("reading %s: %w", t.DisplayName(), err)
	}
	return body, t.ContentType, nil
}

// ErrBodyTooLarge is returned when a body passes the size limit.
var ErrBodyTooLarge = errors.New("body too large")

// readLimited reads all of r but stops one byte past limit. A known size
// lets it allocate once.
func readLimited(r io.Reader, limit, size int64) ([]byte, error) {
	var buf bytes.Buffer
	if size > 0 && size <= limit {
		buf.Grow(int(size) + 1)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return buf.Bytes(), err
	}
	if n > limit {
		return nil, fmt.Errorf("%w: stopped reading after the %s body size limit (raise --body-size-limit)", ErrBodyTooLarge, FormatBytes(limit))
	}
	return buf.Bytes(), nil
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
	if s.clients == nil {
		s.clients = map[*Target]*http.Client{}
	}
	s.clients[t] = c
	return c, nil
}

// describeHTTPError says what went wrong in words a person can act on.
func describeHTTPError(ctx context.Context, t *Target, timeout time.Duration, err error) error {
	name := t.DisplayName()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if timeout == 0 {
			return fmt.Errorf("%s did not answer before the scrape's deadline", name)
		}
		return fmt.Errorf("%s did not answer within the %s timeout (raise --timeout)", name, timeout)
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
		err = ue.Err
	}
	return fmt.Errorf("scraping %s: %w", name, err)
}

func describeReadError(ctx context.Context, t *Target, timeout time.Duration, err error) error {
	if errors.Is(err, ErrBodyTooLarge) {
		return fmt.Errorf("%s: %w", t.DisplayName(), err)
	}
	if ctx.Err() != nil {
		return describeHTTPError(ctx, t, timeout, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("reading %s: the connection closed before the whole body arrived", t.DisplayName())
	}
	return fmt.Errorf("reading %s: %w", t.DisplayName(), err)
}
