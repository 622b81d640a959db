package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/monctl/monctl/pkg/redact"
)

// WebhookOptions of a Webhook: where it posts, and the timers of a
// single-route Alertmanager (its defaults: 30s, 5m, 4h).
type WebhookOptions struct {
	URL            string
	HTTP           config.HTTPClientConfig
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
	// Receiver names the receiver in the payload.
	Receiver string
	// ExternalURL is the payload's externalURL.
	ExternalURL string
	Timeout     time.Duration
	UserAgent   string
}

// Webhook is what a single-route Alertmanager with one webhook receiver
// would do with the alerts the notifier sends it: one group of them all,
// notified group_wait after it starts, then at most every group_interval
// when it changed (an alert starts firing or is resolved), and every
// repeat_interval while it fires; the payload is the webhook receiver's
// (version 4), so that existing consumers work unchanged.
type Webhook struct {
	opts   WebhookOptions
	client *http.Client

	mu       sync.Mutex
	alerts   map[model.Fingerprint]Alert // as last received
	notified map[model.Fingerprint]bool  // firing when last notified
	started  time.Time                   // the group's start; zero: no group
	last     time.Time                   // the last notification
	nextAt   time.Time                   // the next flush
	errs     []string
	wake     chan struct{}
	done     chan struct{}
	stop     context.CancelFunc
}

// NewWebhook starts a webhook's dispatcher.
func NewWebhook(opts WebhookOptions) (*Webhook, error) {
	opts.GroupWait = cmp.Or(opts.GroupWait, 30*time.Second)
	opts.GroupInterval = cmp.Or(opts.GroupInterval, 5*time.Minute)
	opts.RepeatInterval = cmp.Or(opts.RepeatInterval, 4*time.Hour)
	opts.Timeout = cmp.Or(opts.Timeout, 10*time.Second)
	if opts.Receiver == "" {
		opts.Receiver = "monctl"
	}
	c, err := config.NewClientFromConfig(opts.HTTP, "webhook")
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", redact.URL(opts.URL), err)
	}
	c.Timeout = opts.Timeout
	ctx, cancel := context.WithCancel(context.Background())
	w := &Webhook{opts: opts, client: c, alerts: map[model.Fingerprint]Alert{}, notified: map[model.Fingerprint]bool{},
		wake: make(chan struct{}, 1), done: make(chan struct{}), stop: cancel}
	go w.run(ctx)
	return w, nil
}

// Receive takes alerts as Alertmanager's API would.
func (w *Webhook) Receive(now time.Time, alerts []Alert) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range alerts {
		w.alerts[labelSet(a.Labels).Fingerprint()] = a
	}
	if !w.nextAt.IsZero() || len(w.alerts) == 0 {
		return
	}
	if w.started.IsZero() {
		w.started, w.nextAt = now, now.Add(w.opts.GroupWait)
	} else {
		// A group an earlier run left: group_interval after its last
		// notification.
		w.nextAt = w.last.Add(w.opts.GroupInterval)
		if w.nextAt.Before(now) {
			w.nextAt = now
		}
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run flushes the group when it is due, until stopped.
func (w *Webhook) run(ctx context.Context) {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		w.mu.Lock()
		next := w.nextAt
		w.mu.Unlock()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(0, time.Until(next))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
			if !next.IsZero() {
				w.flush(ctx, time.Now())
			}
		}
	}
}

// flush notifies the group when it changed, or when repeat_interval has
// passed since the last notification (of an earlier run too) while it
// fires, and forgets the alerts resolved once notified.
func (w *Webhook) flush(ctx context.Context, now time.Time) {
	w.mu.Lock()
	firing := map[model.Fingerprint]bool{}
	changed := false
	for fp, a := range w.alerts {
		if isFiring(a, now) {
			firing[fp] = true
			changed = changed || !w.notified[fp]
		} else if w.notified[fp] {
			changed = true // resolved since the last notification
		}
	}
	due := changed || (len(firing) > 0 && now.Sub(w.last) >= w.opts.RepeatInterval)
	var body []byte
	if due && len(w.alerts) > 0 {
		body = w.payload(now)
	}
	w.nextAt = now.Add(w.opts.GroupInterval)
	w.mu.Unlock()
	if body != nil {
		if _, err := postJSON(ctx, w.client, w.opts.URL, w.opts.UserAgent, body); err != nil {
			w.mu.Lock()
			w.errs = append(w.errs, fmt.Sprintf("webhook %s: %s", redact.URL(w.opts.URL), redact.In(err.Error(), w.opts.URL)))
			w.mu.Unlock()
			return
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if body != nil {
		w.notified, w.last = firing, now
	}
	for fp, a := range w.alerts {
		if !isFiring(a, now) && !w.notified[fp] {
			delete(w.alerts, fp) // resolved, and said so
		}
	}
	if len(w.alerts) == 0 {
		w.started, w.nextAt = time.Time{}, time.Time{}
	}
}

// isFiring says whether a is firing at now: it has not ended.
func isFiring(a Alert, now time.Time) bool { return a.EndsAt.IsZero() || a.EndsAt.After(now) }

// webhookAlert is one alert of the payload.
type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// webhookPayload is Alertmanager's webhook message, version 4.
type webhookPayload struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []webhookAlert    `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
}

// payload is the group now, in Alertmanager's order (by labels). Called
// with w.mu held.
func (w *Webhook) payload(now time.Time) []byte {
	p := webhookPayload{Receiver: w.opts.Receiver, Status: "resolved", GroupLabels: map[string]string{},
		ExternalURL: w.opts.ExternalURL, Version: "4", GroupKey: "{}:{}"}
	keys := slices.SortedFunc(maps.Keys(w.alerts), func(a, b model.Fingerprint) int {
		return strings.Compare(model.LabelSet(labelSet(w.alerts[a].Labels)).String(), model.LabelSet(labelSet(w.alerts[b].Labels)).String())
	})
	for i, fp := range keys {
		a := w.alerts[fp]
		st := "resolved"
		if isFiring(a, now) {
			st, p.Status = "firing", "firing"
		}
		wa := webhookAlert{Status: st, Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: a.EndsAt,
			GeneratorURL: a.GeneratorURL, Fingerprint: labelSet(a.Labels).Fingerprint().String()}
		if wa.Annotations == nil {
			wa.Annotations = map[string]string{}
		}
		p.Alerts = append(p.Alerts, wa)
		if i == 0 {
			p.CommonLabels, p.CommonAnnotations = maps.Clone(a.Labels), maps.Clone(wa.Annotations)
			continue
		}
		for k, v := range p.CommonLabels {
			if a.Labels[k] != v {
				delete(p.CommonLabels, k)
			}
		}
		for k, v := range p.CommonAnnotations {
			if wa.Annotations[k] != v {
				delete(p.CommonAnnotations, k)
			}
		}
	}
	b, _ := json.Marshal(p) // maps of strings and times
	return b
}

func labelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// Errors returns what went wrong since the last call.
func (w *Webhook) Errors() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	errs := w.errs
	w.errs = nil
	return errs
}

// Close stops the dispatcher and notifies what changed and was not
// notified yet, so that a run from cron says what it found: its group
// cannot wait for group_wait after the run.
func (w *Webhook) Close(ctx context.Context) {
	w.stop()
	<-w.done
	w.flush(ctx, time.Now())
}

// WebhookState is what a webhook remembers of its group, for a run that
// goes on where an earlier one stopped (cron): so that repeat_interval
// spans runs, and an alert notified firing is notified resolved.
type WebhookState struct {
	URL      string    `json:"url"` // redacted: the state file holds no secret
	Alerts   []Alert   `json:"alerts"`
	Notified []string  `json:"notified,omitempty"` // the fingerprints notified firing
	Started  time.Time `json:"started,omitzero"`
	Last     time.Time `json:"last,omitzero"`
}

func (w *Webhook) save() WebhookState {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := WebhookState{URL: redact.URL(w.opts.URL), Started: w.started, Last: w.last, Alerts: []Alert{}}
	for _, fp := range slices.Sorted(maps.Keys(w.alerts)) {
		st.Alerts = append(st.Alerts, w.alerts[fp])
		if w.notified[fp] {
			st.Notified = append(st.Notified, fp.String())
		}
	}
	return st
}

// restore takes up what save gave; a group that was notified before is
// flushed again group_interval after its last notification at the
// earliest.
func (w *Webhook) restore(st WebhookState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	notified := map[string]bool{}
	for _, fp := range st.Notified {
		notified[fp] = true
	}
	for _, a := range st.Alerts {
		fp := labelSet(a.Labels).Fingerprint()
		w.alerts[fp] = a
		if notified[fp.String()] {
			w.notified[fp] = true
		}
	}
	// The group is flushed when the rules next send something (Receive),
	// not before: an alert restored may have ended (endsAt passed) only
	// because this run has not re-sent it yet.
	w.last, w.started = st.Last, st.Started
}
