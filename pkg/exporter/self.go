package exporter

import (
	"github.com/monctl/monctl/pkg/exposition"
)

// selfFamilies are monctl's own metrics about a collection: how each
// source did, and the static families (monctl_build_info), discovery's
// and the alerts'. Called without sources, it gives every family with no
// series, for their names.
func (e *Exporter) selfFamilies(sources []SourceResult) []exposition.Family {
	out := append(sourceFamilies(sources), e.opts.Static...)
	if e.opts.Discovery != nil {
		out = append(out, e.opts.Discovery()...)
	}
	if e.opts.Alerts != nil {
		out = append(out, e.opts.Alerts()...)
	}
	return out
}

// sourceFamilies say how each source did: monctl_collector_* per source,
// monctl_target_* per target.
func sourceFamilies(sources []SourceResult) []exposition.Family {
	success := exposition.Family{Name: "monctl_collector_success", Type: exposition.Gauge,
		Help: "1 if the source was collected in the last scrape, 0 if it failed."}
	duration := exposition.Family{Name: "monctl_collector_duration_seconds", Type: exposition.Gauge,
		Help: "How long collecting the source took in the last scrape."}
	up := exposition.Family{Name: "monctl_target_up", Type: exposition.Gauge,
		Help: "1 if the re-exposed target was scraped and parsed, 0 if not."}
	scrapeDuration := exposition.Family{Name: "monctl_target_scrape_duration_seconds", Type: exposition.Gauge,
		Help: "How long scraping the re-exposed target took."}
	samples := exposition.Family{Name: "monctl_target_samples", Type: exposition.Gauge,
		Help: "Samples the re-exposed target exposed."}
	dropped := exposition.Family{Name: "monctl_target_dropped_families", Type: exposition.Gauge,
		Help: "Families of the target left out because another source serves the same name with another type."}
	for _, s := range sources {
		src := exposition.Labels{{Name: "collector", Value: s.Collector}, {Name: "source", Value: s.Source}}
		if s.StatsSource != "" {
			// Which way an engine's numbers were read: cgroup-v1,
			// cgroup-v2 or api.
			src = append(src, exposition.Label{Name: "stats_source", Value: s.StatsSource})
		}
		success.Metrics = append(success.Metrics, exposition.Metric{Labels: src, Value: boolValue(s.Err == nil)})
		duration.Metrics = append(duration.Metrics, exposition.Metric{Labels: src, Value: s.Duration.Seconds()})
		if s.Collector != CollectorTarget {
			continue
		}
		t := exposition.Labels{{Name: TargetLabel, Value: s.Source}}
		up.Metrics = append(up.Metrics, exposition.Metric{Labels: t, Value: boolValue(s.Err == nil)})
		scrapeDuration.Metrics = append(scrapeDuration.Metrics, exposition.Metric{Labels: t, Value: s.Duration.Seconds()})
		samples.Metrics = append(samples.Metrics, exposition.Metric{Labels: t, Value: float64(s.Samples)})
		dropped.Metrics = append(dropped.Metrics, exposition.Metric{Labels: t, Value: float64(len(s.Dropped))})
	}
	return []exposition.Family{success, duration, up, scrapeDuration, samples, dropped}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
