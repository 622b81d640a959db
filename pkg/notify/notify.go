// Package notify delivers alerts to Alertmanager, with the semantics of
// Prometheus's rule manager and notifier: a firing alert is sent when it
// starts firing and again every resend delay while it fires, with an
// endsAt a few resend delays ahead (so that Alertmanager resolves it by
// itself if monctl goes away); a resolved alert is sent with its endsAt,
// and again every resend delay for a while, so that an Alertmanager that
// missed it learns it. Alerts wait in a bounded queue; each batch is
// posted to every Alertmanager (API v2, POST /api/v2/alerts), retried a
// few times, and what could not be delivered is counted.
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
	"github.com/prometheus/prometheus/model/labels"

	"github.com/monctl/monctl/pkg/redact"
)

// Alert is an alert as Alertmanager's API v2 takes it.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Active is an alert as the rules give it at one evaluation: its labels
// and annotations, and whether it fires (pending ones are not sent).
type Active struct {
	Labels      map[string]string
	Annotations map[string]string
	Firing      bool
}

// Options of a Notifier.
type Options struct {
	// Alertmanagers are the base URLs (http://host:9093), each with its
	// http_config.
	Alertmanagers []Alertmanager
	// ResendDelay is how often a firing alert is sent again (1m, as
	// Prometheus's --rules.alert.resend-delay).
	ResendDelay time.Duration
	// ExternalLabels are added to every alert's labels where it has
	// none of that name.
	ExternalLabels map[string]string
	// GeneratorURL is where an alert links to (serve's web view); "": none.
	GeneratorURL string
	// QueueCapacity bounds the alerts waiting; beyond it the oldest are
	// dropped (Prometheus's 10,000).
	QueueCapacity int
	// Timeout bounds one POST.
	Timeout time.Duration
	// UserAgent is sent with every POST.
	UserAgent string
	// Webhooks get every alert as an Alertmanager would, and notify
	// their URL as its webhook receiver would.
	Webhooks []WebhookOptions
}

// Alertmanager is one Alertmanager to deliver to: its base URL (with
// its path prefix), http_config, and time limit for one POST (0:
// Options.Timeout).
type Alertmanager struct {
	URL     string
	HTTP    config.HTTPClientConfig
	Timeout time.Duration
}

// resolvedRetention is how long a resolved alert is still sent, every
// resend delay (Prometheus's 15 minutes).
const resolvedRetention = 15 * time.Minute

// batchSize is the most alerts in one POST (Prometheus's 64).
const batchSize = 64

// retries is how many times a failed POST is tried again, backoff apart.
const retries = 3

// Notifier decides what to send at each evaluation and delivers it in the
// background until Close.
type Notifier struct {
	opts     Options
	clients  []*http.Client
	webhooks []*Webhook

	mu      sync.Mutex
	tracked map[uint64]*tracked
	queue   []Alert
	more    chan struct{}
	stats   []Stats
	closed  bool
	done    chan struct{}
	errs    []string // what went wrong, for the verb to say once
}

// tracked is what the notifier remembers of one alert.
type tracked struct {
	alert      Alert
	firedAt    time.Time
	lastSent   time.Time
	resolvedAt time.Time
}

// Stats count the deliveries to one Alertmanager, as Prometheus's
// prometheus_notifications_* do.
type Stats struct {
	URL     string
	Sent    int // alerts delivered
	Errors  int // alerts of failed POSTs (after the retries)
	Dropped int // alerts dropped from a full queue (counted for every Alertmanager)
	Latency time.Duration
}

// New starts a notifier.
func New(opts Options) (*Notifier, error) {
	if opts.ResendDelay <= 0 {
		opts.ResendDelay = time.Minute
	}
	if opts.QueueCapacity <= 0 {
		opts.QueueCapacity = 10000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	n := &Notifier{opts: opts, tracked: map[uint64]*tracked{}, more: make(chan struct{}, 1), done: make(chan struct{})}
	for _, am := range opts.Alertmanagers {
		c, err := config.NewClientFromConfig(am.HTTP, "alertmanager")
		if err != nil {
			return nil, fmt.Errorf("alertmanager %s: %w", redact.URL(am.URL), err)
		}
		c.Timeout = cmp.Or(am.Timeout, opts.Timeout)
		n.clients = append(n.clients, c)
		n.stats = append(n.stats, Stats{URL: redact.URL(am.URL)})
	}
	for _, wo := range opts.Webhooks {
		wo.UserAgent = opts.UserAgent
		w, err := NewWebhook(wo)
		if err != nil {
			n.closeWebhooks(context.Background())
			return nil, err
		}
		n.webhooks = append(n.webhooks, w)
	}
	go n.deliver()
	return n, nil
}

func (n *Notifier) closeWebhooks(ctx context.Context) {
	for _, w := range n.webhooks {
		w.Close(ctx)
	}
}

// Round takes the alerts of an evaluation at now and queues what is due:
// an alert that starts firing, one that fires and was last sent a resend
// delay ago, one that was firing and is not any more (resolved), and a
// resolved one again every resend delay for a while.
func (n *Notifier) Round(now time.Time, active []Active) {
	n.mu.Lock()
	defer n.mu.Unlock()
	firing := map[uint64]bool{}
	for _, a := range active {
		if !a.Firing {
			continue
		}
		ls := n.labels(a.Labels)
		h := labels.FromMap(ls).Hash()
		firing[h] = true
		t := n.tracked[h]
		if t == nil || !t.resolvedAt.IsZero() {
			t = &tracked{firedAt: now}
			n.tracked[h] = t
		}
		t.alert = Alert{Labels: ls, Annotations: a.Annotations, StartsAt: t.firedAt, GeneratorURL: n.opts.GeneratorURL}
	}
	for h, t := range n.tracked {
		if !firing[h] && t.resolvedAt.IsZero() {
			t.resolvedAt = now
		}
		if !t.resolvedAt.IsZero() && now.Sub(t.resolvedAt) > resolvedRetention {
			delete(n.tracked, h)
			continue
		}
		due := t.lastSent.IsZero() || t.resolvedAt.After(t.lastSent) || now.Sub(t.lastSent) >= n.opts.ResendDelay
		if !due {
			continue
		}
		a := t.alert
		a.EndsAt = now.Add(4 * n.opts.ResendDelay)
		if !t.resolvedAt.IsZero() {
			a.EndsAt = t.resolvedAt
		}
		t.lastSent = now
		n.enqueue(a)
	}
}

// labels are an alert's labels with the external labels it lacks.
func (n *Notifier) labels(ls map[string]string) map[string]string {
	out := maps.Clone(ls)
	for k, v := range n.opts.ExternalLabels {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}

// enqueue adds a to the queue, dropping the oldest beyond its capacity.
// Called with n.mu held.
func (n *Notifier) enqueue(a Alert) {
	n.queue = append(n.queue, a)
	if over := len(n.queue) - n.opts.QueueCapacity; over > 0 {
		n.queue = slices.Delete(n.queue, 0, over)
		for i := range n.stats {
			n.stats[i].Dropped += over
		}
	}
	select {
	case n.more <- struct{}{}:
	default:
	}
}

// deliver posts the queue, a batch at a time, until Close has emptied it.
func (n *Notifier) deliver() {
	defer close(n.done)
	for {
		n.mu.Lock()
		batch := n.queue[:min(batchSize, len(n.queue))]
		n.queue = n.queue[len(batch):]
		closed := n.closed
		n.mu.Unlock()
		if len(batch) == 0 {
			if closed {
				return
			}
			<-n.more
			continue
		}
		for _, w := range n.webhooks {
			w.Receive(time.Now(), batch)
		}
		body, err := json.Marshal(batch)
		if err != nil {
			continue // maps of strings and times: cannot happen
		}
		var wg sync.WaitGroup
		for i := range n.clients {
			wg.Go(func() { n.post(i, body, len(batch)) })
		}
		wg.Wait()
	}
}

// post sends one batch to Alertmanager i, retrying a failure.
func (n *Notifier) post(i int, body []byte, count int) {
	am := n.opts.Alertmanagers[i]
	took, err := postJSON(context.Background(), n.clients[i], strings.TrimSuffix(am.URL, "/")+"/api/v2/alerts", n.opts.UserAgent, body)
	n.mu.Lock()
	defer n.mu.Unlock()
	if err == nil {
		n.stats[i].Sent += count
		n.stats[i].Latency = took
		return
	}
	n.stats[i].Errors += count
	n.errs = append(n.errs, fmt.Sprintf("alertmanager %s: %s", redact.URL(am.URL), redact.In(err.Error(), am.URL)))
}

// Errors returns what went wrong since the last call.
func (n *Notifier) Errors() []string {
	n.mu.Lock()
	errs := n.errs
	n.errs = nil
	n.mu.Unlock()
	for _, w := range n.webhooks {
		errs = append(errs, w.Errors()...)
	}
	return errs
}

// Stats are the deliveries so far, per Alertmanager.
func (n *Notifier) Stats() []Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.stats)
}

// QueueLength is how many alerts wait.
func (n *Notifier) QueueLength() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.queue)
}

// QueueCapacity is the most alerts that can wait.
func (n *Notifier) QueueCapacity() int { return n.opts.QueueCapacity }

// Close delivers what is queued, waiting until ctx ends at most; what is
// left then is counted as dropped.
func (n *Notifier) Close(ctx context.Context) {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	select {
	case n.more <- struct{}{}:
	default:
	}
	select {
	case <-n.done:
	case <-ctx.Done():
		n.mu.Lock()
		for i := range n.stats {
			n.stats[i].Dropped += len(n.queue)
		}
		n.queue = nil
		n.mu.Unlock()
	}
	n.closeWebhooks(ctx) // after the last batch reached them
}

// Tracked is what the notifier remembers of one alert, for a run that
// goes on where an earlier one stopped.
type Tracked struct {
	Alert      Alert     `json:"alert"`
	FiredAt    time.Time `json:"firedAt"`
	LastSent   time.Time `json:"lastSent,omitzero"`
	ResolvedAt time.Time `json:"resolvedAt,omitzero"`
}

// Save is every alert the notifier remembers.
func (n *Notifier) Save() []Tracked {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]Tracked, 0, len(n.tracked))
	for _, h := range slices.Sorted(maps.Keys(n.tracked)) {
		t := n.tracked[h]
		out = append(out, Tracked{Alert: t.alert, FiredAt: t.firedAt, LastSent: t.lastSent, ResolvedAt: t.resolvedAt})
	}
	return out
}

// SaveWebhooks is what each webhook remembers of its group, after Close.
func (n *Notifier) SaveWebhooks() []WebhookState {
	out := make([]WebhookState, len(n.webhooks))
	for i, w := range n.webhooks {
		out[i] = w.save()
	}
	return out
}

// RestoreWebhooks gives each webhook what it remembered in an earlier
// run, by its URL, before the first Round.
func (n *Notifier) RestoreWebhooks(sts []WebhookState) {
	for _, st := range sts {
		for _, w := range n.webhooks {
			if redact.URL(w.opts.URL) == st.URL {
				w.restore(st)
			}
		}
	}
}

// Restore takes up what Save gave, before the first Round.
func (n *Notifier) Restore(ts []Tracked) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, t := range ts {
		n.tracked[labels.FromMap(t.Alert.Labels).Hash()] = &tracked{alert: t.Alert, firedAt: t.FiredAt, lastSent: t.LastSent, resolvedAt: t.ResolvedAt}
	}
}
