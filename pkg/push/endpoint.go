package push

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
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
	if err != nil || !slices.Contains(schemes, u.Scheme) || u.Scheme != "file" && u.Host == "" ||
		u.Scheme == "file" && (u.Path == "" || u.Host != "" && u.Host != "localhost") || // file://name/x is not ./name/x
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
// that makes it this sink — where data goes and as whom (the URL with its
// user info and query, parts, and what else the transport is made of:
// the whole http_config with credentials, credential files, headers such
// as a tenant's, TLS). Two sinks that differ in any of it never share a
// spool, so a batch is only ever sent with the credentials it was spooled
// for. The hash names no secret.
func (e *endpoint) id(kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(e.url.String()))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	// Last, as before transports were apart: a spool of an earlier
	// build keeps its name.
	e.Identify(h)
	return kind + "-" + hex.EncodeToString(h.Sum(nil)[:8])
}
