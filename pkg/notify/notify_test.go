package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/config"
)

// receiver is an Alertmanager's API as far as the notifier uses it: it
// keeps every alert posted, in order.
type receiver struct {
	mu     sync.Mutex
	alerts []Alert
	fail   bool
	posts  int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.posts++
	if req.URL.Path != "/api/v2/alerts" || req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "not the API v2", http.StatusNotFound)
		return
	}
	if r.fail {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	var batch []Alert
	if err := json.NewDecoder(req.Body).Decode(&batch); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.alerts = append(r.alerts, batch...)
}

func (r *receiver) take() []Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.alerts
	r.alerts = nil
	return out
}

func TestNotifierSemantics(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	n, err := New(Options{Alertmanagers: []Alertmanager{{URL: srv.URL, HTTP: config.DefaultHTTPClientConfig}}, ResendDelay: time.Minute,
		ExternalLabels: map[string]string{"monitor": "monctl", "severity": "external"}, GeneratorURL: "http://monctl/"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	alert := func(firing bool) []Active {
		return []Active{{Labels: map[string]string{"alertname": "Hot", "severity": "page"}, Annotations: map[string]string{"summary": "hot"}, Firing: firing}}
	}
	// round runs one evaluation and returns what was delivered for it.
	round := func(at time.Time, active []Active) []Alert {
		t.Helper()
		n.Round(at, active)
		deadline := time.Now().Add(5 * time.Second)
		for n.QueueLength() > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // the batch in flight
		return rcv.take()
	}
	if got := round(t0, alert(false)); len(got) != 0 {
		t.Errorf("a pending alert was sent: %+v", got)
	}
	t1 := t0.Add(30 * time.Second)
	got := round(t1, alert(true))
	if len(got) != 1 || !got[0].StartsAt.Equal(t1) || !got[0].EndsAt.Equal(t1.Add(4*time.Minute)) || got[0].GeneratorURL != "http://monctl/" {
		t.Fatalf("starting to fire: %+v", got)
	}
	if l := got[0].Labels; l["monitor"] != "monctl" || l["severity"] != "page" || l["alertname"] != "Hot" || got[0].Annotations["summary"] != "hot" {
		t.Errorf("labels %v (external ones only where missing), annotations %v", l, got[0].Annotations)
	}
	if got := round(t1.Add(30*time.Second), alert(true)); len(got) != 0 {
		t.Errorf("sent again before the resend delay: %+v", got)
	}
	if got := round(t1.Add(61*time.Second), alert(true)); len(got) != 1 || !got[0].StartsAt.Equal(t1) {
		t.Errorf("not sent again after the resend delay, or with another start: %+v", got)
	}
	t4 := t1.Add(90 * time.Second)
	if got := round(t4, nil); len(got) != 1 || !got[0].EndsAt.Equal(t4) {
		t.Errorf("resolving: %+v, want endsAt %v", got, t4)
	}
	if got := round(t4.Add(30*time.Second), nil); len(got) != 0 {
		t.Errorf("a resolved alert sent again before the resend delay: %+v", got)
	}
	if got := round(t4.Add(61*time.Second), nil); len(got) != 1 || !got[0].EndsAt.Equal(t4) {
		t.Errorf("a resolved alert is sent again while retained: %+v", got)
	}
	if got := round(t4.Add(16*time.Minute), nil); len(got) != 0 {
		t.Errorf("a resolved alert past its retention: %+v", got)
	}
	t7 := t4.Add(17 * time.Minute)
	if got := round(t7, alert(true)); len(got) != 1 || !got[0].StartsAt.Equal(t7) {
		t.Errorf("firing again: a new alert starting now: %+v", got)
	}
	n.Close(context.Background())
	if s := n.Stats(); len(s) != 1 || s[0].Sent != 5 || s[0].Errors != 0 || s[0].Dropped != 0 {
		t.Errorf("stats %+v, want the 5 sent", s)
	}
}

// A failing Alertmanager is retried, then counted and said; the others
// still get the alerts.
func TestNotifierFailingAlertmanager(t *testing.T) {
	good, bad := &receiver{}, &receiver{fail: true}
	gs, bs := httptest.NewServer(good), httptest.NewServer(bad)
	defer gs.Close()
	defer bs.Close()
	badURL := strings.Replace(bs.URL, "http://", "http://user:s3cret@", 1)
	n, err := New(Options{Alertmanagers: []Alertmanager{{URL: gs.URL, HTTP: config.DefaultHTTPClientConfig}, {URL: badURL, HTTP: config.DefaultHTTPClientConfig}}})
	if err != nil {
		t.Fatal(err)
	}
	n.Round(time.Now(), []Active{{Labels: map[string]string{"alertname": "A"}, Firing: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.Close(ctx)
	s := n.Stats()
	if s[0].Sent != 1 || s[1].Sent != 0 || s[1].Errors != 1 {
		t.Errorf("stats %+v", s)
	}
	if bad.posts != retries+1 {
		t.Errorf("the failing Alertmanager got %d posts, want %d", bad.posts, retries+1)
	}
	errs := n.Errors()
	if len(errs) != 1 || !strings.Contains(errs[0], "500") || strings.Contains(errs[0], "s3cret") {
		t.Errorf("errors %q: want one, with the status, without the password", errs)
	}
}

// A full queue drops its oldest alerts, and counts them.
func TestNotifierQueueBound(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	n, err := New(Options{Alertmanagers: []Alertmanager{{URL: srv.URL, HTTP: config.DefaultHTTPClientConfig}}, QueueCapacity: 3, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 10 {
		n.Round(now, []Active{{Labels: map[string]string{"alertname": "A", "i": string(rune('a' + i))}, Firing: true}})
	}
	time.Sleep(100 * time.Millisecond)
	if q, d := n.QueueLength(), n.Stats()[0].Dropped; q > 3 || d == 0 {
		t.Errorf("queue %d (capacity 3), dropped %d: want at most 3 waiting and the rest dropped while the Alertmanager hangs", q, d)
	}
}
