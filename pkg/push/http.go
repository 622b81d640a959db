package push

import (
	"bytes"
	"cmp"
	"context"
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
)

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

// Identify writes the client's configuration: the URL is the endpoint's.
func (t *httpTransport) Identify(h hash.Hash) { hashValue(h, reflect.ValueOf(t.http)) }

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
