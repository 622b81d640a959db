package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/config"
)

// webhookSink keeps every payload posted.
type webhookSink struct {
	mu       sync.Mutex
	payloads []webhookPayload
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p webhookPayload
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.payloads = append(s.payloads, p)
	s.mu.Unlock()
}

func (s *webhookSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.payloads)
}

func (s *webhookSink) last() webhookPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.payloads[len(s.payloads)-1]
}

// The webhook groups and repeats as a single-route Alertmanager does, and
// posts its webhook receiver's payload.
func TestWebhookGroupsAndRepeats(t *testing.T) {
	sink := &webhookSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	w, err := NewWebhook(WebhookOptions{URL: srv.URL, HTTP: config.DefaultHTTPClientConfig, GroupWait: 200 * time.Millisecond,
		GroupInterval: 400 * time.Millisecond, RepeatInterval: 2 * time.Second, ExternalURL: "http://monctl/"})
	if err != nil {
		t.Fatal(err)
	}
	wait := func(n int) webhookPayload {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for sink.count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("notification %d never came (%d so far)", n, sink.count())
			}
			time.Sleep(10 * time.Millisecond)
		}
		return sink.last()
	}
	start := time.Now()
	firing := func(name string) Alert {
		return Alert{Labels: map[string]string{"alertname": name, "severity": "page"}, Annotations: map[string]string{"summary": "s"},
			StartsAt: start, EndsAt: time.Now().Add(time.Hour), GeneratorURL: "http://monctl/"}
	}
	w.Receive(time.Now(), []Alert{firing("A")})
	p := wait(1)
	if time.Since(start) < 200*time.Millisecond {
		t.Errorf("notified %v after the group started, before group_wait", time.Since(start))
	}
	want := labelSet(map[string]string{"alertname": "A", "severity": "page"}).Fingerprint().String()
	if p.Version != "4" || p.GroupKey != "{}:{}" || p.Receiver != "monctl" || p.Status != "firing" || len(p.Alerts) != 1 ||
		p.Alerts[0].Fingerprint != want || p.Alerts[0].Status != "firing" || p.CommonLabels["alertname"] != "A" ||
		p.CommonAnnotations["summary"] != "s" || p.ExternalURL != "http://monctl/" || len(p.GroupLabels) != 0 {
		t.Errorf("the first notification: %+v", p)
	}
	w.Receive(time.Now(), []Alert{firing("A")}) // the notifier's resend: no change
	time.Sleep(600 * time.Millisecond)
	if sink.count() != 1 {
		t.Errorf("an unchanged group was notified again before repeat_interval: %d notifications", sink.count())
	}
	w.Receive(time.Now(), []Alert{firing("B")})
	p = wait(2)
	if len(p.Alerts) != 2 || p.CommonLabels["alertname"] != "" || p.CommonLabels["severity"] != "page" {
		t.Errorf("a new alert in the group: %+v", p)
	}
	resolved := firing("A")
	resolved.EndsAt = time.Now()
	w.Receive(time.Now(), []Alert{resolved})
	p = wait(3)
	if p.Status != "firing" || len(p.Alerts) != 2 || p.Alerts[0].Status != "resolved" || p.Alerts[1].Status != "firing" {
		t.Errorf("A resolved while B fires: %+v", p)
	}
	p = wait(4) // repeat_interval, with B alone: A was said resolved
	if len(p.Alerts) != 1 || p.Alerts[0].Labels["alertname"] != "B" {
		t.Errorf("the repeat: %+v", p)
	}
	b := firing("B")
	b.EndsAt = time.Now()
	w.Receive(time.Now(), []Alert{b})
	w.Close(context.Background()) // the run ends: what changed is said now
	if p := sink.last(); sink.count() != 5 || p.Status != "resolved" {
		t.Errorf("on Close: %d notifications, the last %+v", sink.count(), p)
	}
}

// TestWebhookStateAcrossRuns: three runs from cron, each a webhook that
// takes up the last one's group: the alert firing is notified once, not
// again within repeat_interval by the next run, and notified resolved by
// the run that sees it resolved.
func TestWebhookStateAcrossRuns(t *testing.T) {
	sink := &webhookSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	var state []WebhookState
	run := func(a Alert) {
		t.Helper()
		w, err := NewWebhook(WebhookOptions{URL: srv.URL, HTTP: config.DefaultHTTPClientConfig, GroupWait: time.Hour, GroupInterval: time.Hour, RepeatInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if state != nil {
			w.restore(state[0])
		}
		w.Receive(time.Now(), []Alert{a})
		w.Close(t.Context())
		state = []WebhookState{w.save()}
	}
	firing := Alert{Labels: map[string]string{"alertname": "Down"}, StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour)}
	run(firing)
	if sink.count() != 1 || sink.last().Status != "firing" {
		t.Fatalf("the first run notifies the alert firing: %d %+v", sink.count(), sink.payloads)
	}
	run(firing)
	if sink.count() != 1 {
		t.Fatalf("the second run notified again within repeat_interval: %+v", sink.last())
	}
	resolved := firing
	resolved.EndsAt = time.Now()
	run(resolved)
	if sink.count() != 2 || sink.last().Status != "resolved" || sink.last().Alerts[0].Labels["alertname"] != "Down" {
		t.Fatalf("the third run notifies it resolved: %d %+v", sink.count(), sink.last())
	}
	if len(state[0].Alerts) != 0 {
		t.Errorf("a resolved alert, once notified, is forgotten: %+v", state[0])
	}
}
