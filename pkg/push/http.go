package push

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/config"

	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/redact"
)

// Endpoint is where a sink delivers: its URL, which picks the transport
// among those its kind of sink takes (http, https, tcp, file), the HTTP client
// (auth and TLS from a Prometheus http_config) and how long one request
// may take.
type Endpoint struct {
	URL       string
	HTTP      config.HTTPClientConfig
	Timeout   time.Duration
	UserAgent string
	// Warn is told what the protocol cannot hold, which is left out.
	Warn func(msg string)
}

// endpoint is what a sink's encoding shares with its transport: the
// transport, the sink's name in messages and where warnings go.
type endpoint struct {
	Transport
	url  *url.URL
	name string
	warn func(string)
}

// open makes the transport the URL names, of the schemes a kind of sink
// takes (http and https when none are given).
func (e Endpoint) open(kind string, schemes ...string) (*endpoint, error) {
	if len(schemes) == 0 {
		schemes = []string{"http", "https"}
	}
	u, err := url.Parse(e.URL)
	if err != nil || !slices.Contains(schemes, u.Scheme) || u.Scheme != "file" && u.Host == "" || u.Scheme == "file" && u.Path == "" ||
		u.Scheme == "tcp" && (u.Port() == "" || u.Path != "" || u.User != nil) {
		return nil, fmt.Errorf("%s URL %q: want %s", kind, redact.URL(e.URL), urlForms(schemes))
	}
	if u.Scheme != "http" && u.Scheme != "https" && !reflect.DeepEqual(e.HTTP, config.HTTPClientConfig{}) && !reflect.DeepEqual(e.HTTP, config.DefaultHTTPClientConfig) {
		return nil, fmt.Errorf("%s %s: http_config applies to http:// and https:// URLs only", kind, redact.URL(e.URL))
	}
	var t Transport
	switch u.Scheme {
	case "file":
		t = &fileTransport{path: u.Path}
	case "tcp":
		t = &tcpTransport{addr: u.Host, timeout: cmp.Or(e.Timeout, 30*time.Second)}
	default:
		if t, err = e.openHTTP(u); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, redact.URL(e.URL), err)
		}
	}
	return &endpoint{Transport: t, url: u, name: kind + " " + t.Name(), warn: e.Warn}, nil
}

// urlForms says what URLs schemes take: "http://host:port/... or
// https://...".
func urlForms(schemes []string) string {
	forms := map[string]string{"http": "http://host:port/...", "https": "https://...", "tcp": "tcp://host:port", "file": "file:///path"}
	var out []string
	for _, s := range schemes {
		out = append(out, forms[s])
	}
	return strings.Join(out, " or ")
}

// send sends m over the transport; a failure names the sink (its kind
// and where), as every message about it does.
func (e *endpoint) send(ctx context.Context, m Message) error {
	err := e.Transport.Send(ctx, m)
	var se *SendError
	if errors.As(err, &se) {
		se.Sink = e.name
	}
	return err
}

// merge merges the sources for a protocol that needs one family per name,
// saying what it left out.
func (e *endpoint) merge(sources []exposition.Source) []exposition.MergedFamily {
	fams, warns := exposition.Merge(sources)
	for _, w := range warns {
		e.warnf("%s", w)
	}
	return fams
}

func (e *endpoint) warnf(format string, args ...any) {
	if e.warn != nil {
		e.warn(e.name + ": " + fmt.Sprintf(format, args...))
	}
}

// id is a directory name for the sink's spool: its kind and a hash of all
// that makes it this sink — where data goes and as whom (the transport's
// identity: the URL with its user info and query, the whole http_config
// with credentials, credential files, headers such as a tenant's, TLS),
// and parts. Two sinks that differ in any of it never share a spool, so a
// batch is only ever sent with the credentials it was spooled for. The
// hash names no secret.
func (e *endpoint) id(kind string, parts ...string) string {
	h := sha256.New()
	e.Identify(h)
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return kind + "-" + hex.EncodeToString(h.Sum(nil)[:8])
}

// httpTransport sends messages as HTTP requests to a URL.
type httpTransport struct {
	url     *url.URL
	client  *http.Client
	name    string
	http    config.HTTPClientConfig // what the client was made from: part of the identity
	timeout time.Duration
	ua      string
}

func (e Endpoint) openHTTP(u *url.URL) (*httpTransport, error) {
	if err := e.HTTP.Validate(); err != nil {
		return nil, err
	}
	client, err := config.NewClientFromConfig(e.HTTP, "monctl")
	if err != nil {
		return nil, err
	}
	// Only the path: user info and a query (InfluxDB 1.x takes u= and p=)
	// may hold credentials.
	name := u.Scheme + "://" + u.Host + u.Path
	return &httpTransport{url: u, client: client, name: name, http: e.HTTP, timeout: cmp.Or(e.Timeout, 30*time.Second), ua: e.UserAgent}, nil
}

func (t *httpTransport) Name() string { return t.name }

func (t *httpTransport) Identify(h hash.Hash) {
	h.Write([]byte(t.url.String()))
	hashValue(h, reflect.ValueOf(t.http))
}

// hashValue writes every field of v into h, by name: strings (secrets
// among them), numbers, booleans, through pointers, slices and maps (in
// key order). What is not data (funcs, channels) is passed over.
func hashValue(h hash.Hash, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			h.Write([]byte{0})
			return
		}
		hashValue(h, v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			fmt.Fprintf(h, "\x00%s=", v.Type().Field(i).Name)
			hashValue(h, v.Field(i))
		}
	case reflect.Slice, reflect.Array:
		fmt.Fprintf(h, "[%d", v.Len())
		for i := range v.Len() {
			hashValue(h, v.Index(i))
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		fmt.Fprintf(h, "{%d", len(keys))
		for _, k := range keys {
			hashValue(h, k)
			hashValue(h, v.MapIndex(k))
		}
	case reflect.String:
		fmt.Fprintf(h, "%d:%s", v.Len(), v.String())
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		fmt.Fprintf(h, "%v", v)
	}
}

// Send makes one request and sorts its failure: no answer, a 5xx and a
// 429 may pass; any other status is the sink refusing the batch.
func (t *httpTransport) Send(ctx context.Context, m Message) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	u := t.url.String()
	if m.Path != "" {
		u = strings.TrimSuffix(t.url.String(), "/") + m.Path
	}
	req, err := http.NewRequestWithContext(ctx, cmp.Or(m.Method, http.MethodPost), u, bytes.NewReader(m.Body))
	if err != nil {
		return &SendError{Sink: t.name, Msg: err.Error()}
	}
	maps.Copy(req.Header, m.Header)
	if t.ua != "" {
		req.Header.Set("User-Agent", t.ua)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		// The url.Error quotes the URL whole: say what happened instead.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &SendError{Sink: t.name, Msg: err.Error(), Retry: true}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so the connection is reused
	if resp.StatusCode/100 == 2 {
		return nil
	}
	se := &SendError{Sink: t.name, Status: resp.StatusCode, Msg: strings.TrimSpace(string(msg))}
	if se.Msg == "" {
		se.Msg = http.StatusText(resp.StatusCode)
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		se.Retry = true
		se.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
	}
	return se
}

// retryAfter reads a Retry-After header: seconds or an HTTP date. It is
// capped, so that a sink cannot stall a run.
func retryAfter(h string) time.Duration {
	const most = time.Minute
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, most)
	}
	if t, err := http.ParseTime(h); err == nil {
		return min(max(time.Until(t), 0), most)
	}
	return 0
}
