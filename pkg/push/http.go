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

// Endpoint is what every sink needs of HTTP: where, the client (auth and
// TLS from a Prometheus http_config) and how long one request may take.
type Endpoint struct {
	URL       string
	HTTP      config.HTTPClientConfig
	Timeout   time.Duration
	UserAgent string
	// Warn is told what the protocol cannot hold, which is left out.
	Warn func(msg string)
}

// endpoint is an Endpoint ready to send.
type endpoint struct {
	url     *url.URL
	client  *http.Client
	name    string
	http    config.HTTPClientConfig // what the client was made from: part of the sink's identity
	timeout time.Duration
	ua      string
	warn    func(string)
}

func (e Endpoint) open(kind string) (*endpoint, error) {
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s URL %q: want http://host:port/... or https://...", kind, redact.URL(e.URL))
	}
	if err := e.HTTP.Validate(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, redact.URL(e.URL), err)
	}
	client, err := config.NewClientFromConfig(e.HTTP, "monctl")
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, redact.URL(e.URL), err)
	}
	// Only the path: user info and a query (InfluxDB 1.x takes u= and p=)
	// may hold credentials.
	name := kind + " " + u.Scheme + "://" + u.Host + u.Path
	return &endpoint{url: u, client: client, name: name, http: e.HTTP, timeout: cmp.Or(e.Timeout, 30*time.Second), ua: e.UserAgent, warn: e.Warn}, nil
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
// that makes it this sink — where data goes and as whom: the URL with its
// user info and query, the whole http_config (credentials, credential
// files, headers such as a tenant's, TLS), and parts. Two sinks that
// differ in any of it never share a spool, so a batch is only ever sent
// with the credentials it was spooled for. The hash names no secret.
func (e *endpoint) id(kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(e.url.String()))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	hashValue(h, reflect.ValueOf(e.http))
	return kind + "-" + hex.EncodeToString(h.Sum(nil)[:8])
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

// do makes one request and sorts its failure: no answer, a 5xx and a 429
// may pass; any other status is the sink refusing the batch.
func (e *endpoint) do(ctx context.Context, method string, u *url.URL, body []byte, header http.Header) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return &SendError{Sink: e.name, Msg: err.Error()}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if e.ua != "" {
		req.Header.Set("User-Agent", e.ua)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		// The url.Error quotes the URL whole: say what happened instead.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &SendError{Sink: e.name, Msg: err.Error(), Retry: true}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so the connection is reused
	if resp.StatusCode/100 == 2 {
		return nil
	}
	se := &SendError{Sink: e.name, Status: resp.StatusCode, Msg: strings.TrimSpace(string(msg))}
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
