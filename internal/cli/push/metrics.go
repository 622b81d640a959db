package push

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/push"
)

// agentMetrics are the agent loop's monctl_push_* metrics, per sink,
// and with --rules the alerts of the last round (ALERTS...).
type agentMetrics struct {
	alerts atomic.Pointer[[]exposition.Family]

	reg                                                  *prometheus.Registry
	sent, requests, retried, spooled, dropped, fromSpool *prometheus.CounterVec
	errors                                               *prometheus.CounterVec
	rounds                                               prometheus.Counter
	lastSuccess                                          *prometheus.GaugeVec
}

func newAgentMetrics() *agentMetrics {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "monctl_push_" + name, Help: help}, []string{"sink"})
	}
	m := &agentMetrics{
		reg:         prometheus.NewRegistry(),
		sent:        counter("sent_samples_total", "Samples the sink took."),
		requests:    counter("requests_total", "Requests made to the sink, retries included."),
		retried:     counter("retried_requests_total", "Requests tried again after no answer, a 5xx or a 429."),
		spooled:     counter("spooled_samples_total", "Samples put in the spool because the sink did not take them."),
		dropped:     counter("dropped_samples_total", "Samples the sink refused, or that a full spool pushed out."),
		fromSpool:   counter("sent_from_spool_samples_total", "Samples taken out of the spool and delivered."),
		errors:      counter("errors_total", "Failed deliveries."),
		rounds:      prometheus.NewCounter(prometheus.CounterOpts{Name: "monctl_push_rounds_total", Help: "Rounds of gathering and delivering."}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "monctl_push_last_success_timestamp_seconds", Help: "When the sink last took everything of a round."}, []string{"sink"}),
	}
	m.reg.MustRegister(m.sent, m.requests, m.retried, m.spooled, m.dropped, m.fromSpool, m.errors, m.rounds, m.lastSuccess,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe counts one round.
func (m *agentMetrics) observe(stats []push.Stats) {
	m.rounds.Inc()
	for _, s := range stats {
		m.sent.WithLabelValues(s.Sink).Add(float64(s.Sent))
		m.requests.WithLabelValues(s.Sink).Add(float64(s.Requests))
		m.retried.WithLabelValues(s.Sink).Add(float64(s.Retried))
		m.spooled.WithLabelValues(s.Sink).Add(float64(s.Spooled))
		m.dropped.WithLabelValues(s.Sink).Add(float64(s.Dropped))
		m.fromSpool.WithLabelValues(s.Sink).Add(float64(s.FromPool))
		m.errors.WithLabelValues(s.Sink).Add(float64(len(s.Errors)))
		if s.Delivered() && s.Spooled == 0 {
			m.lastSuccess.WithLabelValues(s.Sink).SetToCurrentTime()
		}
	}
}

// setAlerts keeps what is served of the rules after a round.
func (m *agentMetrics) setAlerts(fams []exposition.Family) { m.alerts.Store(&fams) }

// gatherAlerts gives the families of the last round's alerts.
func (m *agentMetrics) gatherAlerts() ([]*dto.MetricFamily, error) {
	fams := m.alerts.Load()
	if fams == nil {
		return nil, nil
	}
	var out []*dto.MetricFamily
	for i := range *fams {
		if f := &(*fams)[i]; len(f.Metrics) > 0 {
			out = append(out, f.DTO())
		}
	}
	return out, nil
}

// serve answers /metrics on addr until ctx ends.
func (m *agentMetrics) serve(ctx context.Context, addr string) (func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, cmdutil.Failure(fmt.Errorf("--web.listen-address: %w", err))
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(prometheus.Gatherers{m.reg, prometheus.GathererFunc(m.gatherAlerts)}, promhttp.HandlerOpts{MaxRequestsInFlight: 10, Timeout: 10 * time.Second}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second}
	go srv.Serve(l) // ends with Shutdown
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}
