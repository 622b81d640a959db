package dashboard

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exporter"
	"github.com/monctl/monctl/pkg/query"
)

const hostA, hostB = "unix:///a.sock", "unix:///b.sock"

func stats(host, id, name string, cpu float64, mem uint64) containers.Stats {
	return containers.Stats{Host: host, Time: time.Unix(1000, 0), CPUPercent: cpu, MemoryUsed: mem, MemoryLimit: 1 << 30,
		Container: containers.Container{ID: id, Name: name, Image: "img", State: "running",
			Labels: map[string]string{"shown": "<b>x</b>", "secret": "hidden"}}}
}

// collectionAt is a round that ended at second end.
func collectionAt(end int64, engineErr error, cs ...containers.Stats) *exporter.Collection {
	return &exporter.Collection{Start: time.Unix(end-1, 0), End: time.Unix(end, 0), Sources: []exporter.SourceResult{
		{Collector: exporter.CollectorContainers, Source: hostA, Err: engineErr, Containers: cs, StatsSource: "cgroup-v1"},
		{Collector: exporter.CollectorTarget, Source: "node", Err: errors.New("connection\nrefused"), Duration: time.Second},
	}}
}

func collection(engineErr error, cs ...containers.Stats) *exporter.Collection {
	return collectionAt(1001, engineErr, cs...)
}

func TestRecordKeepsHistory(t *testing.T) {
	d := New(Options{Points: 3, ContainerLabels: []string{"shown"}, Interval: 5 * time.Second})
	id := strings.Repeat("a", 64)
	for i := range 5 {
		d.Record(collectionAt(int64(1000+5*i), nil, stats(hostA, id, "web", float64(i), uint64(i)<<20)))
		// A scrape a second later shows, but makes no history.
		d.Record(collectionAt(int64(1001+5*i), nil, stats(hostA, id, "web", 50, 0)))
	}
	r := d.snapshot()
	if len(r.Containers) != 1 || r.Containers[0].History == nil {
		t.Fatalf("%+v", r)
	}
	h := r.Containers[0].History
	if len(h.CPUPercent) != 3 || h.CPUPercent[0] != 2 || h.CPUPercent[2] != 4 || h.MemoryUsed[2] != 4<<20 || len(h.Time) != 3 {
		t.Errorf("history of the last 3 rounds: %+v", h)
	}
	if r.Containers[0].CPUPercent != 50 {
		t.Errorf("the round shown is not the last: %+v", r.Containers[0].Stats)
	}
	if l := r.Containers[0].Labels; len(l) != 1 || l["shown"] != "<b>x</b>" {
		t.Errorf("labels %v: want only the one served", l)
	}
	if len(r.Targets) != 1 || r.Targets[0].Up || r.Targets[0].Error != "connection refused" || r.Engines[0].StatsSource != "cgroup-v1" {
		t.Errorf("targets %+v engines %+v", r.Targets, r.Engines)
	}

	// An engine that fails keeps its containers' history for its return;
	// a container that is gone loses it.
	d.Record(collectionAt(1100, errors.New("down")))
	if len(d.history) != 1 || len(d.snapshot().Containers) != 0 {
		t.Errorf("engine down: history %v", d.history)
	}
	d.Record(collectionAt(1200, nil))
	if len(d.history) != 0 {
		t.Errorf("container gone: history %v", d.history)
	}
}

func serve(t *testing.T, d *Dashboard, path string) (*http.Response, string) {
	t.Helper()
	return serveHost(t, d, "127.0.0.1:19100", path)
}

func serveHost(t *testing.T, d *Dashboard, host, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Host = host
	d.Handler().ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(b)
}

// TestOnlyOwnNames: a page whose name was rebound to this machine (DNS
// rebinding) sends its own name as Host, and gets nothing; addresses,
// localhost and the names given are served.
func TestOnlyOwnNames(t *testing.T) {
	d := New(Options{AllowedHosts: []string{"mon.example"}})
	d.Record(collectionAt(1000, nil))
	for host, want := range map[string]int{
		"attacker.example:19100": http.StatusMisdirectedRequest,
		"attacker.example":       http.StatusMisdirectedRequest,
		"127.0.0.1.nip.io:19100": http.StatusMisdirectedRequest,
		"127.0.0.1:19100":        http.StatusOK,
		"[::1]:19100":            http.StatusOK,
		"localhost:19100":        http.StatusOK,
		"LOCALHOST.":             http.StatusOK,
		"Mon.Example:19100":      http.StatusOK,
	} {
		for _, path := range []string{"/", "/api/v1/containers", "/static/app.js"} {
			if resp, body := serveHost(t, d, host, path); resp.StatusCode != want {
				t.Errorf("Host %s %s: %d %s, want %d", host, path, resp.StatusCode, body, want)
			}
		}
	}
}

// TestPagesEscape: names, labels and errors that hold markup show as
// text on the pages, and every answer has the headers that keep the
// browser to the page's own script.
func TestPagesEscape(t *testing.T) {
	d := New(Options{ContainerLabels: []string{"shown"}})
	id := strings.Repeat("b", 64)
	evil := stats(hostA, id, `<script>alert(1)</script>`, 50, 1<<20)
	evil.Image = `"><img src=x onerror=alert(2)>`
	d.Record(collection(nil, evil))
	for _, path := range []string{"/", "/containers/" + id[:12], "/api/v1/containers", "/static/app.js", "/static/app.css"} {
		resp, body := serve(t, d, path)
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'; script-src 'self'") ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
		if strings.HasPrefix(path, "/static/") {
			continue
		}
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") || strings.Contains(body, "<b>x</b>") {
			t.Errorf("%s: markup from a container reached the page:\n%s", path, body)
		}
	}
	_, body := serve(t, d, "/")
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(body, "onclick") || strings.Contains(body, "<script>") {
		t.Errorf("the index page:\n%s", body)
	}
}

func TestAPI(t *testing.T) {
	d := New(Options{Interval: 2 * time.Second})
	a, b := strings.Repeat("c", 64), strings.Repeat("c", 12)+strings.Repeat("d", 52)
	d.Record(collection(nil, stats(hostA, a, "one", 10, 1), stats(hostA, b, "two", 20, 2)))

	resp, body := serve(t, d, "/api/v1/containers")
	var list struct {
		IntervalSeconds float64 `json:"interval_seconds"`
		Engines         []Engine
		Containers      []Container
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || resp.Header.Get("Content-Type") != "application/json" ||
		list.IntervalSeconds != 2 || len(list.Containers) != 2 || list.Containers[0].Name != "one" || list.Containers[0].History == nil ||
		len(list.Engines) != 1 || !list.Engines[0].Up {
		t.Errorf("%v %s", err, body)
	}
	if _, body := serve(t, d, "/api/v1/targets"); !strings.Contains(body, `"name":"node","up":false,"error":"connection refused"`) {
		t.Errorf("targets: %s", body)
	}
	for path, want := range map[string]int{
		"/api/v1/containers/" + a[:13]:                  200,
		"/api/v1/containers/" + a[:12]:                  409, // both begin so
		"/api/v1/containers/" + a[:8]:                   404, // too short to be an ID
		"/api/v1/containers/" + strings.Repeat("e", 12): 404,
		"/api/v1/containers/" + b + "/logs?tail=0":      400,
		"/api/v1/containers/" + b + "/logs?tail=10001":  400,
		"/api/v1/containers/" + b + "/logs?grep=(":      400,
		"/api/v1/containers/" + b + "/logs":             404, // no engine to ask
		"/nosuch":                                       404,
	} {
		if resp, body := serve(t, d, path); resp.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", path, resp.StatusCode, body, want)
		} else if strings.HasPrefix(path, "/api/") && want != 200 && !strings.Contains(body, `"error":`) {
			t.Errorf("%s: %s: no error in the answer", path, body)
		}
	}
}

func TestFormulas(t *testing.T) {
	if got := spark([]float64{0, 50, 100}, 100, 20, 1); got != "0.0,20.0 50.0,10.0 100.0,0.0" {
		t.Errorf("spark: %q", got)
	}
	if got := spark([]float64{0.2, 0.2}, 100, 20, 1); got != "0.0,16.0 100.0,16.0" {
		t.Errorf("spark under its floor: %q", got)
	}
	if got := spark([]uint64{}, 100, 20, 1); got != "" {
		t.Errorf("spark of nothing: %q", got)
	}
	if got := peak([]uint64{1 << 20, 3 << 20}, "bytes"); got != "peak 3.0MiB" {
		t.Errorf("peak: %q", got)
	}
	if got := visible("a\x1b[31mb\tc\u0085"); got != `a\x1b[31mb`+"\t"+`c\x85` {
		t.Errorf("visible: %q", got)
	}
	for in, want := range map[uint64]string{512: "512B", 1536: "1.5KiB", 64 << 20: "64.0MiB", 3 << 30: "3.0GiB"} {
		if got := humanBytes(in); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0: "–", 59: "59s", 90: "1m30s", 7260: "2h1m", 90000: "1d1h"} {
		if got := humanDuration(in); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", in, got, want)
		}
	}
}

// TestAssets: small, self-contained (no URL but SVG's namespace), no
// inline event handlers, and a script that never writes markup.
func TestAssets(t *testing.T) {
	urls := regexp.MustCompile(`https?://[^'"\s)]+`)
	handlers := regexp.MustCompile(`\son[a-z]+\s*=`)
	total := 0
	err := fs.WalkDir(webFS, "web", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := webFS.ReadFile(path)
		total += len(b)
		for _, u := range urls.FindAllString(string(b), -1) {
			if u != "http://www.w3.org/2000/svg" {
				t.Errorf("%s loads %s", path, u)
			}
		}
		if strings.HasSuffix(path, ".html") && handlers.Match(b) {
			t.Errorf("%s: an inline event handler: %s", path, handlers.Find(b))
		}
		for _, markup := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if strings.HasSuffix(path, ".js") && strings.Contains(string(b), markup) {
				t.Errorf("%s uses %s", path, markup)
			}
		}
		return err
	})
	if err != nil || total > 150<<10 {
		t.Errorf("%v; %d bytes, want under 150 KiB", err, total)
	}
}

// TestAlerts: the alerts of the rules, as of the last round, are listed
// by /api/v1/alerts as Prometheus's alerts are, and shown on the index
// page escaped (their labels and annotations come from targets); without
// rules the API says there are none to list.
func TestAlerts(t *testing.T) {
	resp, body := serve(t, New(Options{}), "/api/v1/alerts")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "--rules") {
		t.Errorf("without rules: %d %s", resp.StatusCode, body)
	}
	alerts := []query.Alert{{Labels: map[string]string{"alertname": "Big", "container": "<script>x</script>"},
		Annotations: map[string]string{"summary": "<img src=x>"}, State: "firing", ActiveAt: time.Unix(1000, 0).UTC(), Value: "3"}}
	d := New(Options{Alerts: func() []query.Alert { return alerts }})
	d.Record(collection(nil))
	alerts = nil // the round keeps what the rules said at its time
	resp, body = serve(t, d, "/api/v1/alerts")
	var got struct {
		Alerts []query.Alert `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s: %v", resp.StatusCode, body, err)
	}
	if len(got.Alerts) != 1 || got.Alerts[0].State != "firing" || got.Alerts[0].Labels["container"] != "<script>x</script>" || got.Alerts[0].Value != "3" {
		t.Errorf("alerts %+v", got.Alerts)
	}
	_, page := serve(t, d, "/")
	if strings.Contains(page, "<script>x") || strings.Contains(page, "<img") || !strings.Contains(page, `alert-firing`) || !strings.Contains(page, "&lt;img src=x&gt;") {
		t.Errorf("the alerts' panel, escaped:\n%s", page)
	}
}

// TestIndexPageFollowsTheRounds: the index page is rendered once a round,
// and the next round's visitors see the next round.
func TestIndexPageFollowsTheRounds(t *testing.T) {
	d := New(Options{})
	d.Record(collectionAt(1000, nil, stats(hostA, strings.Repeat("c", 64), "first-round", 1, 1<<20)))
	for range 2 {
		if _, body := serve(t, d, "/"); !strings.Contains(body, "first-round") {
			t.Fatalf("the index page does not show the round:\n%s", body)
		}
	}
	d.Record(collectionAt(1005, nil, stats(hostA, strings.Repeat("d", 64), "second-round", 1, 1<<20)))
	if _, body := serve(t, d, "/"); !strings.Contains(body, "second-round") || strings.Contains(body, "first-round") {
		t.Errorf("the index page after a new round:\n%s", body)
	}
}
