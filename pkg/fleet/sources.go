package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/redact"
)

// Hub reads the containers of one host from its monctl serve's /metrics,
// as a hub does: the host of each is the target's instance (host:port, as
// Prometheus would label it).
type Hub struct {
	Target  exposition.Target
	Scraper *exposition.Scraper
	rates   Rates
}

func (h *Hub) Name() string { return h.Target.DisplayName() }
func (h *Hub) Kind() string { return "monctl serve" }

// Sample scrapes the target and reads its containers, with rates since
// the sample before.
func (h *Hub) Sample(ctx context.Context) ([]containers.Stats, error) {
	res := h.Scraper.Scrape(ctx, &h.Target)
	if res.Err != nil {
		return nil, res.Err
	}
	stats := FromTarget(res.Families, h.Target.Instance(), time.Now())
	h.rates.Apply(stats)
	return stats, nil
}

// FromTarget reads the containers of a scraped monctl serve; host is the
// name they are shown under.
func FromTarget(fams []exposition.Family, host string, now time.Time) []containers.Stats {
	return Read(fams, func(exposition.Labels) string { return host }, now)
}

// Store reads the containers of every host from a Prometheus-compatible
// query API (Prometheus, VictoriaMetrics, Mimir, Thanos): the last value
// of each monctl_container_* series, and the rates over the last two
// samples (irate), so that a rate does not depend on how often the store
// is asked. The host of a series is its instance label (the machine a
// push agent ran on, or the address Prometheus scraped), else its host
// label.
type Store struct {
	url string // for messages: without credentials
	raw string // as given, to mask in the client's errors
	api promv1.API
	// Lookback is the range of irate (default 5m, Prometheus's
	// lookback): it must hold two samples of each series.
	Lookback time.Duration
	// Timeout bounds one sample (0: the context's).
	Timeout time.Duration
}

// NewStore makes a client of the query API at url (http://host:9090,
// or VictoriaMetrics' http://host:8428) through rt.
func NewStore(url string, rt http.RoundTripper) (*Store, error) {
	c, err := api.NewClient(api.Config{Address: url, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("--from-prometheus %s: %w", redact.URL(url), err)
	}
	return &Store{url: redact.URL(url), raw: url, api: promv1.NewAPI(c), Lookback: 5 * time.Minute}, nil
}

func (s *Store) Name() string { return s.url }
func (s *Store) Kind() string { return "Prometheus API" }

// rated is a counter whose rate the store is asked for, and where it
// goes.
type rated struct {
	name string
	set  func(*containers.Stats, float64)
}

func ratedCounters() []rated {
	return []rated{
		{"monctl_container_cpu_usage_seconds_total", func(s *containers.Stats, v float64) { s.CPUPercent = v * 100 }},
		{"monctl_container_network_receive_bytes_total", func(s *containers.Stats, v float64) { s.NetRxRate = v }},
		{"monctl_container_network_transmit_bytes_total", func(s *containers.Stats, v float64) { s.NetTxRate = v }},
		{"monctl_container_blkio_read_bytes_total", func(s *containers.Stats, v float64) { s.BlkReadRate = v }},
		{"monctl_container_blkio_write_bytes_total", func(s *containers.Stats, v float64) { s.BlkWriteRate = v }},
	}
}

// Sample asks the store, all questions at once, at one evaluation time.
func (s *Store) Sample(ctx context.Context) ([]containers.Stats, error) {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	now := time.Now()
	rated := ratedCounters()
	answers := make([]model.Vector, 1+len(rated))
	errs := make([]error, len(answers))
	var wg sync.WaitGroup
	ask := func(i int, q string) {
		wg.Go(func() {
			v, _, _, err := s.api.Query(ctx, q, now)
			if err != nil {
				errs[i] = errors.New(redact.In(fmt.Sprintf("%s: %v", q, err), s.raw))
				return
			}
			vec, ok := v.(model.Vector)
			if !ok {
				errs[i] = fmt.Errorf("%s: a %s, not an instant vector", q, v.Type())
				return
			}
			answers[i] = vec
		})
	}
	// Of the families with a series per state or health status, only
	// the one that holds (== 1) is asked for: they are half the series.
	ask(0, `{__name__=~"monctl_container_.+", __name__!~"monctl_container_(state|health_status)"} or monctl_container_state == 1 or monctl_container_health_status == 1`)
	for i, r := range rated {
		ask(1+i, fmt.Sprintf("irate(%s[%ds])", r.name, int(s.Lookback.Seconds())))
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	stats := Read(families(answers[0]), instanceOrHost, now)
	index := make(map[string]int, len(stats))
	for i := range stats {
		index[seriesKey(stats[i].Host, stats[i].ID)] = i
	}
	for i, r := range rated {
		for _, smp := range answers[1+i] {
			ls := labelsOf(smp.Metric)
			if j, ok := index[seriesKey(instanceOrHost(ls), ls.Get("id"))]; ok {
				r.set(&stats[j], float64(smp.Value))
			}
		}
	}
	return stats, nil
}

func seriesKey(host, id string) string { return host + "\x00" + id }

// instanceOrHost is the host a stored series came from.
func instanceOrHost(ls exposition.Labels) string {
	if v := ls.Get("instance"); v != "" {
		return v
	}
	return ls.Get("host")
}

// families groups a store's answer by metric name, as a scrape would
// give it.
func families(vec model.Vector) []exposition.Family {
	byName := map[string]int{}
	var fams []exposition.Family
	for _, smp := range vec {
		name := string(smp.Metric[model.MetricNameLabel])
		i, ok := byName[name]
		if !ok {
			i = len(fams)
			byName[name] = i
			fams = append(fams, exposition.Family{Name: name})
		}
		fams[i].Metrics = append(fams[i].Metrics, exposition.Metric{Labels: labelsOf(smp.Metric), Value: float64(smp.Value)})
	}
	return fams
}

// labelsOf are a stored series' labels but its name, sorted.
func labelsOf(m model.Metric) exposition.Labels {
	ls := make(exposition.Labels, 0, len(m))
	for k, v := range m {
		if k != model.MetricNameLabel {
			ls = append(ls, exposition.Label{Name: string(k), Value: string(v)})
		}
	}
	slices.SortFunc(ls, func(a, b exposition.Label) int { return strings.Compare(a.Name, b.Name) })
	return ls
}
