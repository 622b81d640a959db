package push

import (
	"context"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/prompb"

	"github.com/monctl/monctl/pkg/exposition"
)

// recorder is a sink's server: it answers with the statuses queued in
// answers (200 once they run out) and keeps the bodies it took.
type recorder struct {
	mu      sync.Mutex
	answers []int
	retry   string // Retry-After of non-2xx answers
	bodies  []string
	paths   []string
	methods []string
	calls   int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	body, _ := io.ReadAll(req.Body)
	status := http.StatusNoContent
	if len(r.answers) > 0 {
		status, r.answers = r.answers[0], r.answers[1:]
	}
	if status/100 != 2 {
		if r.retry != "" {
			w.Header().Set("Retry-After", r.retry)
		}
		http.Error(w, "sink says no: "+http.StatusText(status), status)
		return
	}
	r.bodies = append(r.bodies, string(body))
	r.paths = append(r.paths, req.URL.EscapedPath())
	r.methods = append(r.methods, req.Method)
	w.WriteHeader(status)
}

// rawSink sends batch bodies as they are, to test the delivery alone.
type rawSink struct{ *endpoint }

func (s rawSink) Name() string { return s.name }
func (s rawSink) ID() string   { return s.id("raw") }
func (s rawSink) Encode([]exposition.Source) ([]Batch, error) {
	return nil, nil
}
func (s rawSink) Send(ctx context.Context, b Batch) error {
	return s.send(ctx, Message{Body: b.Body})
}

func newRawSink(t *testing.T, url string) rawSink {
	t.Helper()
	ep, err := Endpoint{URL: url, Timeout: 2 * time.Second}.open("raw")
	if err != nil {
		t.Fatal(err)
	}
	return rawSink{ep}
}

func batches(names ...string) []Batch {
	var out []Batch
	for _, n := range names {
		out = append(out, Batch{Body: []byte(n), Samples: 1})
	}
	return out
}

func TestRetriesAndRefusals(t *testing.T) {
	rec := &recorder{answers: []int{503, 429, 204, 400}, retry: "0"}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	d := &Deliverer{Retries: 3, Backoff: time.Millisecond, MaxBackoff: time.Millisecond}
	st := d.Deliver(context.Background(), newRawSink(t, srv.URL), batches("a", "b"))
	// a: 503, 429, then taken; b: refused with 400, not retried.
	if st.Sent != 1 || st.Retried != 2 || st.Requests != 4 || st.Dropped != 1 || rec.calls != 4 {
		t.Errorf("stats %+v after %d calls", st, rec.calls)
	}
	if len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "HTTP 400: sink says no: Bad Request") {
		t.Errorf("the refusal names the sink's message: %q", st.Errors)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	rec := &recorder{answers: []int{429}, retry: "1"}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	d := &Deliverer{Retries: 1, Backoff: time.Millisecond, MaxBackoff: time.Millisecond}
	start := time.Now()
	st := d.Deliver(context.Background(), newRawSink(t, srv.URL), batches("a"))
	if st.Sent != 1 || time.Since(start) < time.Second {
		t.Errorf("stats %+v: Retry-After 1 should have been waited (%v)", st, time.Since(start))
	}
	if got := retryAfter(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)); got != time.Minute {
		t.Errorf("a Retry-After date an hour away is capped at a minute: %v", got)
	}
}

// TestSpoolWhileDownThenDeliverInOrder: a sink that is down costs one
// failed request, not one per batch; everything is spooled, and goes out
// first and in order once the sink is back.
func TestSpoolWhileDownThenDeliverInOrder(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // down: the port refuses connections
	url := "http://" + addr
	d := &Deliverer{Retries: 0, Backoff: time.Millisecond, Spool: &Spool{Dir: dir}}
	sink := newRawSink(t, url)
	st := d.Deliver(context.Background(), sink, batches("1", "2", "3"))
	if st.Requests != 1 || st.Spooled != 3 || st.Sent != 0 || len(st.Errors) != 1 {
		t.Errorf("while down: %+v", st)
	}
	srv := httptest.NewUnstartedServer(rec)
	srv.Listener.Close()
	if srv.Listener, err = net.Listen("tcp", addr); err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Close()
	st = d.Deliver(context.Background(), sink, batches("4"))
	if st.FromPool != 3 || st.Sent != 4 || st.Spooled != 0 || strings.Join(rec.bodies, "") != "1234" {
		t.Errorf("back: %+v, bodies %q", st, rec.bodies)
	}
	if left, _, _ := d.Spool.Load(sink.ID()); len(left) != 0 {
		t.Errorf("%d batches left in the spool", len(left))
	}
}

func TestSpoolLimitAndKeys(t *testing.T) {
	s := &Spool{Dir: t.TempDir(), Limit: 300}
	dropped := 0
	for i := range 5 {
		n, err := s.Put("sink", Batch{Body: []byte(strings.Repeat(string(rune('a'+i)), 100)), Samples: 10})
		if err != nil {
			t.Fatal(err)
		}
		dropped += n
	}
	left, _, err := s.Load("sink")
	if err != nil || len(left) != 2 || dropped != 30 || left[0].Body[0] != 'd' || left[1].Body[0] != 'e' {
		t.Errorf("limit: %d left (%v), %d dropped: want the 2 newest, 30 samples dropped", len(left), err, dropped)
	}
	// A key keeps only its newest batch.
	k := &Spool{Dir: t.TempDir()}
	k.Put("pgw", Batch{Key: "/metrics/job/a", Body: []byte("old")})
	k.Put("pgw", Batch{Key: "/metrics/job/b", Body: []byte("other")})
	k.Put("pgw", Batch{Key: "/metrics/job/a", Body: []byte("new")})
	left, _, _ = k.Load("pgw")
	var bodies []string
	for _, sp := range left {
		bodies = append(bodies, string(sp.Body))
	}
	if strings.Join(bodies, ",") != "other,new" {
		t.Errorf("keyed batches: %q", bodies)
	}
	// A damaged file is named, the rest still loads.
	os.WriteFile(filepath.Join(k.Dir, "pgw", "00000000000000000001-x.batch"), []byte("garbage"), 0o600)
	if left, _, err := k.Load("pgw"); len(left) != 2 || err == nil || !strings.Contains(err.Error(), "not a spooled batch") {
		t.Errorf("damaged file: %d loaded, %v", len(left), err)
	}
}

// TestSpoolBadFilesAreMovedAside: a file that is not a whole batch (empty,
// a header without its body, cut short) is moved to NAME.bad, its samples
// counted as dropped and never as delivered, and the next run is clean; a
// FIFO or a symlink named *.batch is moved aside too, without blocking and
// without touching what the link points at.
func TestSpoolBadFilesAreMovedAside(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	sink := newRawSink(t, srv.URL)
	sp := &Spool{Dir: t.TempDir()}
	dir := filepath.Join(sp.Dir, sink.ID())
	if _, err := sp.Put(sink.ID(), Batch{Body: []byte("good"), Samples: 2}); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"00000000000000000001-empty.batch":  "",
		"00000000000000000002-header.batch": `{"samples":5}` + "\n",
		"00000000000000000003-short.batch":  `{"samples":7,"bytes":10}` + "\nabc",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "00000000000000000004-fifo.batch"), 0o600); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte(`{"samples":1}`+"\nsecret"), 0o600)
	if err := os.Symlink(victim, filepath.Join(dir, "00000000000000000005-link.batch")); err != nil {
		t.Fatal(err)
	}
	d := &Deliverer{Spool: sp}
	done := make(chan Stats)
	go func() { done <- d.Deliver(context.Background(), sink, nil) }()
	var st Stats
	select {
	case st = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a FIFO in the spool blocked the delivery")
	}
	if st.FromPool != 2 || st.Sent != 2 || st.Dropped != 12 || strings.Join(rec.bodies, ",") != "good" {
		t.Errorf("stats %+v, bodies %q: want only the good batch sent, 5+7 samples dropped", st, rec.bodies)
	}
	for _, name := range append(slices.Collect(maps.Keys(files)), "00000000000000000004-fifo.batch", "00000000000000000005-link.batch") {
		if _, err := os.Lstat(filepath.Join(dir, name+badSuffix)); err != nil {
			t.Errorf("%s was not moved aside: %v", name, err)
		}
		if !strings.Contains(strings.Join(st.Errors, "\n"), filepath.Join(dir, name+badSuffix)) {
			t.Errorf("the errors do not say where %s went: %q", name, st.Errors)
		}
	}
	// The next run has nothing bad left to trip over.
	st = d.Deliver(context.Background(), sink, batches("new"))
	if st.Sent != 1 || st.Dropped != 0 || st.FromPool != 0 || len(st.Errors) != 0 {
		t.Errorf("second run: %+v", st)
	}
	if data, _ := os.ReadFile(victim); string(data) != `{"samples":1}`+"\nsecret" {
		t.Errorf("the symlink's target was changed: %q", data)
	}
}

func TestPushgatewayGroupPath(t *testing.T) {
	for _, c := range []struct {
		job      string
		grouping map[string]string
		want     string
	}{
		{"cron", nil, "/metrics/job/cron"},
		{"a/b", map[string]string{"instance": "", "zone": "eu 1"}, "/metrics/job@base64/YS9i/instance@base64/=/zone/eu%201"},
		{"cron", map[string]string{"path": "/var/tmp"}, "/metrics/job/cron/path@base64/L3Zhci90bXA"},
	} {
		p, err := NewPushgateway(Endpoint{URL: "http://127.0.0.1:9091"}, c.job, c.grouping, MethodPut)
		if err != nil || p.path != c.want {
			t.Errorf("job %q grouping %v: %q (%v), want %q", c.job, c.grouping, p.path, err, c.want)
		}
	}
	if _, err := NewPushgateway(Endpoint{URL: "http://127.0.0.1:9091"}, "j", map[string]string{"job": "x"}, MethodPut); err == nil {
		t.Error("job as a grouping label")
	}
}

func sampleSources() []exposition.Source {
	at := time.UnixMilli(1700000000123)
	fams := []exposition.Family{
		{Name: "jobs_total", Type: exposition.Counter, Metrics: []exposition.Metric{{Labels: exposition.Labels{{Name: "Zone", Value: "é/\"x\""}, {Name: "q", Value: "a"}}, Value: 5}}},
		{Name: "lat", Type: exposition.Histogram, Metrics: []exposition.Metric{{Count: 2, Sum: 1.5, HasCount: true, HasSum: true,
			Buckets: []exposition.Bucket{{UpperBound: 1, Count: 1}, {UpperBound: math.Inf(1), Count: 2}}}}},
		{Name: "rpc", Type: exposition.Summary, Metrics: []exposition.Metric{{Count: 3, Sum: 0.3, HasCount: true, HasSum: true,
			Quantiles: []exposition.Quantile{{Quantile: 0.5, Value: 0.1}}}}},
		{Name: "temp", Type: exposition.Gauge, Metrics: []exposition.Metric{{Value: math.NaN(), TimestampMs: 1600000000000, HasTimestamp: true}}},
	}
	return []exposition.Source{{Target: "t", Time: at, Families: fams}}
}

func TestRemoteWriteLayout(t *testing.T) {
	rw, err := NewRemoteWrite(Endpoint{URL: "http://127.0.0.1:9090/api/v1/write"})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := rw.Encode(sampleSources())
	if err != nil || len(bs) != 1 {
		t.Fatalf("%d batches, %v", len(bs), err)
	}
	req := writeRequest(t, bs[0])
	got := map[string]prompb.Sample{}
	for _, ts := range req.Timeseries {
		var parts []string
		for i, l := range ts.Labels {
			if i > 0 && l.Name < ts.Labels[i-1].Name {
				t.Errorf("labels not sorted: %v", ts.Labels)
			}
			parts = append(parts, l.Name+"="+l.Value)
		}
		got[strings.Join(parts, ",")] = ts.Samples[0]
	}
	for key, want := range map[string]float64{
		`Zone=é/"x",__name__=jobs_total,q=a`: 5,
		`__name__=lat_bucket,le=1.0`:         1,
		`__name__=lat_bucket,le=+Inf`:        2,
		`__name__=lat_count`:                 2,
		`__name__=lat_sum`:                   1.5,
		`__name__=rpc,quantile=0.5`:          0.1,
		`__name__=rpc_count`:                 3,
		`__name__=rpc_sum`:                   0.3,
	} {
		s, ok := got[key]
		if !ok || s.Value != want || s.Timestamp != 1700000000123 {
			t.Errorf("%s: %+v (present %v), want %v at the scrape time", key, s, ok, want)
		}
	}
	if s := got["__name__=temp"]; !math.IsNaN(s.Value) || s.Timestamp != 1600000000000 {
		t.Errorf("a NaN gauge at its exposed time: %+v", s)
	}
	if len(got) != 9 || bs[0].Samples != 9 {
		t.Errorf("%d series, %d counted: %v", len(got), bs[0].Samples, got)
	}
}

func TestNoCredentialsInNames(t *testing.T) {
	in, err := NewInflux(Endpoint{URL: "http://user:s3cr3t@127.0.0.1:8086/write?db=x&u=me&p=s3cr3t"})
	if err != nil {
		t.Fatal(err)
	}
	st := (&Deliverer{}).Deliver(context.Background(), in, []Batch{{Body: []byte("m value=1"), Samples: 1}})
	all := in.Name() + strings.Join(st.Errors, " ")
	if strings.Contains(all, "s3cr3t") || !strings.Contains(all, "influx http://127.0.0.1:8086/write") {
		t.Errorf("name and errors: %q", all)
	}
	if _, err := NewInflux(Endpoint{URL: "http://127.0.0.1:8086/write?db=x&precision=s"}); err == nil {
		t.Error("precision=s accepted: monctl writes nanoseconds")
	}
	if _, err := NewRemoteWrite(Endpoint{URL: "ftp://user:s3cr3t@x/api"}); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("bad URL: %v", err)
	}
}

// TestSpoolPerSinkIdentity: sinks at one URL that deliver as someone else
// (another password, token file, tenant header) have spools of their own,
// and no spool directory names a secret.
func TestSpoolPerSinkIdentity(t *testing.T) {
	const url = "http://127.0.0.1:8086/write?db=x"
	with := func(f func(*config.HTTPClientConfig)) string {
		hc := config.DefaultHTTPClientConfig
		f(&hc)
		s, err := NewInflux(Endpoint{URL: url, HTTP: hc})
		if err != nil {
			t.Fatal(err)
		}
		return s.ID()
	}
	ids := map[string]string{
		"none":    with(func(*config.HTTPClientConfig) {}),
		"basic A": with(func(c *config.HTTPClientConfig) { c.BasicAuth = &config.BasicAuth{Username: "u", Password: "CANARY-A"} }),
		"basic B": with(func(c *config.HTTPClientConfig) { c.BasicAuth = &config.BasicAuth{Username: "u", Password: "CANARY-B"} }),
		"token A": with(func(c *config.HTTPClientConfig) {
			c.Authorization = &config.Authorization{Type: "Token", CredentialsFile: "/a"}
		}),
		"token B": with(func(c *config.HTTPClientConfig) {
			c.Authorization = &config.Authorization{Type: "Token", CredentialsFile: "/b"}
		}),
		"tenant A": with(func(c *config.HTTPClientConfig) {
			c.HTTPHeaders = &config.Headers{Headers: map[string]config.Header{"X-Scope-OrgID": {Values: []string{"a"}}}}
		}),
		"tenant B": with(func(c *config.HTTPClientConfig) {
			c.HTTPHeaders = &config.Headers{Headers: map[string]config.Header{"X-Scope-OrgID": {Values: []string{"b"}}}}
		}),
		"bearer":     with(func(c *config.HTTPClientConfig) { c.BearerToken = "CANARY-C" }),
		"tls":        with(func(c *config.HTTPClientConfig) { c.TLSConfig.InsecureSkipVerify = true }),
		"none again": with(func(*config.HTTPClientConfig) {}),
	}
	seen := map[string]string{}
	for name, id := range ids {
		if strings.Contains(id, "CANARY") || strings.Contains(id, "/") {
			t.Errorf("%s: spool %q names a secret or a path", name, id)
		}
		if other, ok := seen[id]; ok && !(strings.HasPrefix(name, "none") && strings.HasPrefix(other, "none")) {
			t.Errorf("%s and %s share the spool %s", name, other, id)
		}
		seen[id] = name
	}
	if ids["none"] != ids["none again"] {
		t.Error("the same sink has two spools")
	}
}

// writeRequest reads a remote-write batch back.
func writeRequest(t *testing.T, b Batch) *prompb.WriteRequest {
	t.Helper()
	raw, err := snappy.Decode(nil, b.Body)
	if err != nil {
		t.Fatal(err)
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	return &req
}

// decodeRW reads remote-write batches back: series key -> sample.
func decodeRW(t *testing.T, bs []Batch) map[string]prompb.Sample {
	t.Helper()
	got := map[string]prompb.Sample{}
	for _, b := range bs {
		for _, ts := range writeRequest(t, b).Timeseries {
			var parts []string
			for _, l := range ts.Labels {
				parts = append(parts, l.Name+"="+l.Value)
			}
			got[strings.Join(parts, ",")] = ts.Samples[0]
		}
	}
	return got
}

func gauges(at time.Time, series ...exposition.Labels) exposition.Source {
	f := exposition.Family{Name: "g", Type: exposition.Gauge}
	for _, ls := range series {
		f.Metrics = append(f.Metrics, exposition.Metric{Labels: ls, Value: 1})
	}
	return exposition.Source{Target: "t", Time: at, Families: []exposition.Family{f}}
}

// TestRemoteWriteStaleMarkersAndEmptyLabels: a series gone from a
// target's round, and every series of a target that failed, get one
// StaleNaN at that round's time; an empty label value is not sent.
func TestRemoteWriteStaleMarkersAndEmptyLabels(t *testing.T) {
	rw, err := NewRemoteWrite(Endpoint{URL: "http://127.0.0.1:9090/api/v1/write"})
	if err != nil {
		t.Fatal(err)
	}
	t1, t2, t3 := time.UnixMilli(1000), time.UnixMilli(2000), time.UnixMilli(3000)
	a := exposition.Labels{{Name: "a", Value: ""}, {Name: "k", Value: "x"}}
	b := exposition.Labels{{Name: "k", Value: "y"}}
	bs, _ := rw.Encode([]exposition.Source{gauges(t1, a, b)})
	got := decodeRW(t, bs)
	if _, ok := got["__name__=g,k=x"]; !ok || len(got) != 2 {
		t.Errorf("round 1: %v; want the empty label a left out", got)
	}
	bs, _ = rw.Encode([]exposition.Source{gauges(t2, b)})
	got = decodeRW(t, bs)
	gone := got["__name__=g,k=x"]
	if len(got) != 2 || math.Float64bits(gone.Value) != staleNaN || gone.Timestamp != 2000 || got["__name__=g,k=y"].Value != 1 {
		t.Errorf("round 2: %v; want k=x stale at 2000 and k=y", got)
	}
	bs, _ = rw.Encode([]exposition.Source{gauges(t2, b)})
	if got = decodeRW(t, bs); len(got) != 1 {
		t.Errorf("round 3: %v; a stale marker goes once", got)
	}
	// The target fails: everything it had goes stale, once.
	got = decodeRW(t, rw.Gone("t", t3))
	if s := got["__name__=g,k=y"]; len(got) != 1 || math.Float64bits(s.Value) != staleNaN || s.Timestamp != 3000 {
		t.Errorf("failed target: %v", got)
	}
	if again := rw.Gone("t", t3); len(again) != 0 {
		t.Errorf("a failed target's markers went twice")
	}
}

// TestFileTransport: a sink whose encoding is text can append to a file
// (file:///path) with the delivery of any other: a file that cannot be
// written yet is retried, then spooled, and sent first once it can.
func TestFileTransport(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "later", "metrics.lp")
	sink, err := NewInflux(Endpoint{URL: "file://" + path})
	if err != nil {
		t.Fatal(err)
	}
	if sink.Name() != "influx file://"+path || !strings.HasPrefix(sink.ID(), "influx-") {
		t.Errorf("name %q, id %q", sink.Name(), sink.ID())
	}
	src := []exposition.Source{{Time: time.Unix(1, 0), Families: []exposition.Family{{Name: "temp", Type: exposition.Gauge,
		Metrics: []exposition.Metric{{Labels: exposition.Labels{{Name: "room", Value: "a"}}, Value: 21.5}}}}}}
	bs, err := sink.Encode(src)
	if err != nil {
		t.Fatal(err)
	}
	d := &Deliverer{Retries: 1, Backoff: time.Millisecond, MaxBackoff: time.Millisecond, Spool: &Spool{Dir: filepath.Join(dir, "spool"), Limit: 1 << 20}}
	if st := d.Deliver(context.Background(), sink, bs); st.Spooled != 1 || st.Requests != 2 || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "no such file or directory") {
		t.Errorf("the directory is not there: %+v", st)
	}
	if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if st := d.Deliver(context.Background(), sink, bs); st.FromPool != 1 || st.Sent != 2 || len(st.Errors) != 0 {
		t.Errorf("once it is: %+v", st)
	}
	got, _ := os.ReadFile(path)
	if want := "temp,room=a value=21.5 1000000000\n"; string(got) != want+want {
		t.Errorf("the file holds %q, want the spooled batch then the new one: %q twice", got, want)
	}
	for _, bad := range []string{"file://", "ftp://x/y", "file://name/x"} {
		if _, err := NewInflux(Endpoint{URL: bad}); err == nil || !strings.Contains(err.Error(), "file:///path") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := NewRemoteWrite(Endpoint{URL: "file://" + path}); err == nil || strings.Contains(err.Error(), "file:///path") {
		t.Errorf("remote write to a file: %v, want only http(s) offered", err)
	}
}

// TestGraphite: a line per sample with its labels as tags, over a TCP
// connection per batch; what the protocol cannot hold is left out and
// said; a listener that is down gets the batch spooled.
func TestGraphite(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		b, _ := io.ReadAll(conn)
		conn.Close()
		got <- string(b)
	}()
	var warned []string
	sink, err := NewGraphite(Endpoint{URL: "tcp://" + l.Addr().String(), Warn: func(m string) { warned = append(warned, m) }})
	if err != nil {
		t.Fatal(err)
	}
	src := []exposition.Source{{Time: time.Unix(1700000000, 0), Families: []exposition.Family{
		{Name: "temp", Type: exposition.Gauge, Metrics: []exposition.Metric{
			{Labels: exposition.Labels{{Name: "room", Value: "a b;c"}, {Name: "empty", Value: ""}, {Name: "q", Value: "~x"}}, Value: 21.5},
			{Labels: exposition.Labels{{Name: "room", Value: "nan"}}, Value: math.NaN()},
		}},
		{Name: "odd name;x=y", Type: exposition.Gauge, Metrics: []exposition.Metric{{Labels: exposition.Labels{{Name: "a b", Value: "1"}}, Value: 1}}},
		{Name: "lat_seconds", Type: exposition.Histogram, Metrics: []exposition.Metric{
			{Count: 2, Sum: 0.5, HasCount: true, HasSum: true, Buckets: []exposition.Bucket{{UpperBound: 0.1, Count: 1}, {UpperBound: math.Inf(1), Count: 2}}},
		}},
	}}}
	bs, err := sink.Encode(src)
	if err != nil || len(bs) != 1 || bs[0].Samples != 6 {
		t.Fatalf("%v: %+v", err, bs)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "1 samples left out") {
		t.Errorf("warnings %q", warned)
	}
	d := &Deliverer{}
	if st := d.Deliver(context.Background(), sink, bs); st.Sent != 6 || len(st.Errors) != 0 {
		t.Errorf("%+v", st)
	}
	want := "temp;room=a_b_c;q=x 21.5 1700000000\n" + "odd_name_x_y;a_b=1 1 1700000000\n" +
		"lat_seconds_bucket;le=0.1 1 1700000000\nlat_seconds_bucket;le=+Inf 2 1700000000\n" +
		"lat_seconds_count 2 1700000000\nlat_seconds_sum 0.5 1700000000\n"
	if s := <-got; s != want {
		t.Errorf("the listener read\n%s\nwant\n%s", s, want)
	}

	l.Close() // nothing listens now
	d = &Deliverer{Retries: 1, Backoff: time.Millisecond, MaxBackoff: time.Millisecond, Spool: &Spool{Dir: t.TempDir(), Limit: 1 << 20}}
	if st := d.Deliver(context.Background(), sink, bs); st.Spooled != 6 || st.Requests != 2 || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "graphite tcp://") {
		t.Errorf("a listener that is down: %+v", st)
	}
	for _, c := range []struct{ url, want string }{
		{"http://x:2003", "want tcp://host:port or file:///path"},
		{"tcp://x", "want tcp://host:port"},
		{"tcp://u:p@x:2003", "want tcp://host:port"},
	} {
		if _, err := NewGraphite(Endpoint{URL: c.url}); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), ":p@") {
			t.Errorf("%s: %v", c.url, err)
		}
	}
	auth := config.DefaultHTTPClientConfig
	auth.BearerToken = "secret"
	if _, err := NewGraphite(Endpoint{URL: "tcp://x:2003", HTTP: auth}); err == nil || !strings.Contains(err.Error(), "http_config applies to http") {
		t.Errorf("http_config on tcp: %v", err)
	}
}

// TestSpoolNamesOfEarlierBuilds: a spool's directory keeps the name an
// earlier build gave it (these are 9b9bf57's), so that an upgrade finds
// and sends what was spooled before it.
func TestSpoolNamesOfEarlierBuilds(t *testing.T) {
	rw, _ := NewRemoteWrite(Endpoint{URL: "http://u:p@127.0.0.1:9090/api/v1/write", HTTP: config.DefaultHTTPClientConfig})
	pg, _ := NewPushgateway(Endpoint{URL: "http://127.0.0.1:9091", HTTP: config.DefaultHTTPClientConfig}, "job", map[string]string{"a": "b"}, "PUT")
	in, _ := NewInflux(Endpoint{URL: "http://127.0.0.1:8086/write?db=x"})
	for got, want := range map[string]string{rw.ID(): "remote-write-733fdfa667644c9f", pg.ID(): "pushgateway-5a11aa68a7e806c8", in.ID(): "influx-66b6a99ea6bf06f2"} {
		if got != want {
			t.Errorf("spool %s, want %s", got, want)
		}
	}
}

// TestRemoteWriteTargetLabel: with several sources each series gets its
// target label in its place among the others (a target label of its own
// becomes exported_target, an empty one counts as absent), and a bucket's
// le too.
func TestRemoteWriteTargetLabel(t *testing.T) {
	rw, err := NewRemoteWrite(Endpoint{URL: "http://127.0.0.1:9090/api/v1/write"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1700000000000)
	g := exposition.Family{Name: "g", Type: exposition.Gauge, Metrics: []exposition.Metric{
		{Labels: exposition.Labels{{Name: "Zone", Value: "z"}, {Name: "zz", Value: "1"}}, Value: 1},
		{Labels: exposition.Labels{{Name: "target", Value: "mine"}}, Value: 2},
		{Labels: exposition.Labels{{Name: "target", Value: ""}, {Name: "x", Value: "1"}}, Value: 3},
	}}
	h := exposition.Family{Name: "h", Type: exposition.Histogram, Metrics: []exposition.Metric{
		{Labels: exposition.Labels{{Name: "m", Value: "1"}}, Buckets: []exposition.Bucket{{UpperBound: math.Inf(1), Count: 4}}, Count: 4, HasCount: true},
	}}
	bs, err := rw.Encode([]exposition.Source{{Target: "a", Time: at, Families: []exposition.Family{g, h}}, {Target: "b", Time: at}})
	if err != nil || len(bs) != 1 {
		t.Fatalf("%d batches, %v", len(bs), err)
	}
	req := writeRequest(t, bs[0])
	var got []string
	for _, ts := range req.Timeseries {
		var parts []string
		for _, l := range ts.Labels {
			parts = append(parts, l.Name+"="+l.Value)
		}
		got = append(got, strings.Join(parts, ","))
	}
	want := []string{
		"Zone=z,__name__=g,target=a,zz=1",
		"__name__=g,exported_target=mine,target=a",
		"__name__=g,target=a,x=1",
		"__name__=h_bucket,le=+Inf,m=1,target=a",
		"__name__=h_count,m=1,target=a",
	}
	if !slices.Equal(got, want) {
		t.Errorf("series\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
