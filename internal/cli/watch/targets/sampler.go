package targets

import (
	"context"
	"math"
	"time"

	"github.com/monctl/monctl/internal/cli/watch/live"
	"github.com/monctl/monctl/pkg/discovery"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/query"
)

// shownQuantiles are the quantiles of a histogram's last interval.
var shownQuantiles = [3]float64{0.5, 0.9, 0.99}

// Row is one line of the table: a target, or one of its matching series
// (Series set).
type Row struct {
	Target   string
	URL      string
	Format   string
	Up       bool
	Error    string
	Duration time.Duration
	Bytes    int64
	// SeriesCount is how many series the target exposes.
	SeriesCount int
	// Change is the change in series since the scrape before; 0 when
	// either scrape failed.
	Change int

	err     error
	matched []Row

	// Series is set on the row of a matched series.
	Series *SeriesRow
}

// SeriesRow is a series matched by --match.
type SeriesRow struct {
	Name   string
	Labels exposition.Labels
	Type   exposition.Type
	// Value is a simple metric's value, or a histogram's or summary's
	// count.
	Value float64
	// Rate is a counter's (or a histogram's count's) per-second rate
	// over the last interval; HasRate says there is one.
	Rate    float64
	HasRate bool
	// Trend are the rates of the last minute, oldest first.
	Trend []float64
	// Quantiles are p50, p90 and p99: of the last interval for a
	// histogram, as exposed for a summary; NaN when unknown.
	Quantiles []float64
}

// frame is what one interval shows.
type frame struct {
	time   time.Time
	rows   []Row
	series int
	// discovery says which discovery mechanisms fail, "" when none does.
	discovery string
}

// sampler scrapes every target on the watch's clock and remembers what
// the rates and changes need: the previous result of each target (only
// its matching families) and the recent rates.
type sampler struct {
	scraper *exposition.Scraper
	// targets are the targets of each interval: discovery changes them.
	targets     func() []exposition.Target
	disc        *discovery.Discovery // nil: none
	concurrency int
	sel         *exposition.Selector
	prev        map[string]*exposition.Result // by target
	trend       *live.History
	// store, when set, gets every interval's series (those of --match,
	// if given), for --query, --fail-if and --rules: the first, which
	// primes the rates, too.
	store *query.Store
}

func newSampler(s *exposition.Scraper, targets func() []exposition.Target, disc *discovery.Discovery, concurrency int, sel *exposition.Selector, interval time.Duration) *sampler {
	// A trend covers the last minute, in at least 2 and at most 60 steps.
	n := max(2, min(60, int(math.Ceil(float64(time.Minute)/float64(interval)))))
	return &sampler{scraper: s, targets: targets, disc: disc, concurrency: concurrency, sel: sel, trend: live.NewHistory(n)}
}

// sample scrapes every target once; a target that fails is a row that
// is down, never an error of the watch.
func (s *sampler) sample(ctx context.Context) (*frame, error) {
	results := s.scraper.ScrapeAll(ctx, s.targets(), s.concurrency)
	fr := &frame{time: time.Now(), rows: make([]Row, len(results))}
	if s.disc != nil {
		fr.discovery = discovery.Failing(s.disc.Sources())
	}
	next := make(map[string]*exposition.Result, len(results))
	seen := map[string]bool{}
	for i := range results {
		r := &results[i]
		// Only the matching families are kept, for the next rates: the
		// rest of a large target is not held between scrapes.
		if !s.sel.Empty() {
			r.Families = s.sel.Filter(r.Families)
		}
		if s.store != nil {
			var target []exposition.Label
			if len(results) > 1 {
				target = []exposition.Label{{Name: exposition.TargetLabel, Value: r.Target}}
			}
			// At the frame's time, not the scrape's: a series that a
			// frame no longer has goes stale at the next (Store.Ended).
			s.store.Add(fr.time, r.Families, target...)
			s.store.Add(fr.time, r.ScrapeFamilies(), target...)
		}
		if s.sel.Empty() {
			r.Families = nil
		}
		var prev *exposition.Result
		next[r.Target] = r
		if p, ok := s.prev[r.Target]; ok && p.Err == nil && r.Err == nil {
			prev = p
			exposition.ApplyRates(prev.Families, r.Families, r.Start.Sub(prev.Start).Seconds())
		}
		fr.rows[i] = s.row(r, prev, seen)
		fr.series += r.Series
	}
	s.trend.Keep(func(k string) bool { return seen[k] })
	s.prev = next
	return fr, nil
}

// row is a target's row, with its matching series as children.
func (s *sampler) row(r, prev *exposition.Result, seen map[string]bool) Row {
	row := Row{Target: r.Target, URL: r.URL, Up: r.Up(), Duration: r.Duration, Bytes: r.Bytes, SeriesCount: r.Series, err: r.Err}
	if r.ContentType != "" {
		row.Format = r.Format.String()
	}
	if r.Err != nil {
		row.Error = r.Err.Error()
	}
	if prev != nil {
		row.Change = r.Series - prev.Series
	}
	for fi := range r.Families {
		f := &r.Families[fi]
		for mi := range f.Metrics {
			m := &f.Metrics[mi]
			sr := &SeriesRow{Name: f.Name, Labels: m.Labels, Type: f.Type, Value: m.Value}
			if f.Type.HasQuantiles() {
				sr.Value = m.Count
			}
			if m.Rate != nil && (f.Type == exposition.Counter || f.Type.HasQuantiles()) {
				sr.Rate, sr.HasRate = m.Rate.Value, true
				if f.Type.HasQuantiles() {
					sr.Rate = m.Rate.Count
				}
			}
			if sr.HasRate {
				key := r.Target + " " + f.Name + m.Labels.String()
				s.trend.Add(key, sr.Rate)
				seen[key] = true
				sr.Trend = s.trend.Get(key)
			}
			if f.Type.HasQuantiles() {
				sr.Quantiles = make([]float64, len(shownQuantiles))
				for i, q := range shownQuantiles {
					sr.Quantiles[i] = math.NaN()
					switch {
					case f.Type == exposition.Summary:
						sr.Quantiles[i] = m.EstimateQuantile(f.Type, q)
					case m.Rate != nil:
						sr.Quantiles[i] = m.Rate.Quantile(q)
					}
				}
			}
			row.matched = append(row.matched, Row{Target: r.Target, Up: true, Series: sr})
		}
	}
	return row
}
