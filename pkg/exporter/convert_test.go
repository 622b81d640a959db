package exporter

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/histogram"

	"github.com/monctl/monctl/pkg/exposition"
)

func gatherServed(t *testing.T, fams ...exposition.Family) ([]*dto.MetricFamily, error) {
	t.Helper()
	served := familiesCollector{descs: &descCache{}}
	served.descs.next()
	for i := range fams {
		served.families = append(served.families, servedAs(&fams[i], exposition.Label{Name: TargetLabel, Value: "t"}))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(served)
	return reg.Gather()
}

func TestConvert(t *testing.T) {
	native := &histogram.FloatHistogram{Schema: 0, Count: 5, Sum: 7, ZeroCount: 1, ZeroThreshold: 1e-9,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []float64{3, 1}}
	mfs, err := gatherServed(t,
		exposition.Family{Name: "c_total", Type: exposition.Counter, Help: "C.", Metrics: []exposition.Metric{
			{Value: 3, Created: 1700000000.5, TimestampMs: 1700000001000, HasTimestamp: true},
			{Labels: exposition.Labels{{Name: "a", Value: "x"}}, Value: 4},
		}},
		exposition.Family{Name: "s", Type: exposition.Summary, Metrics: []exposition.Metric{
			{Count: 10, Sum: 2, Quantiles: []exposition.Quantile{{Quantile: 0.5, Value: 0.1}, {Quantile: 0.99, Value: 0.9}}},
		}},
		exposition.Family{Name: "n", Type: exposition.Histogram, Metrics: []exposition.Metric{{Native: native}}},
		exposition.Family{Name: "build", Type: exposition.Info, Metrics: []exposition.Metric{{Value: 1}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	c := byName["c_total"]
	if c == nil || c.GetType() != dto.MetricType_COUNTER || len(c.Metric) != 2 {
		t.Fatalf("counter: %v", c)
	}
	for _, m := range c.Metric {
		if m.GetLabel()[len(m.GetLabel())-1].GetName() != TargetLabel && m.GetLabel()[0].GetName() != "a" {
			t.Errorf("labels %v", m.GetLabel())
		}
		if m.GetCounter().GetValue() == 3 {
			if m.GetTimestampMs() != 1700000001000 || m.GetCounter().GetCreatedTimestamp().AsTime().UnixMilli() != 1700000000500 {
				t.Errorf("timestamp or created lost: %v", m)
			}
		} else if m.GetCounter().CreatedTimestamp != nil {
			t.Errorf("a counter without _created got one: %v", m)
		}
	}
	if s := byName["s"].GetMetric()[0].GetSummary(); s.GetSampleCount() != 10 || len(s.GetQuantile()) != 2 {
		t.Errorf("summary: %v", s)
	}
	h := byName["n"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 5 || h.GetZeroCount() != 1 || h.GetSchema() != 0 || len(h.GetPositiveDelta()) != 2 || h.CreatedTimestamp != nil {
		t.Errorf("native histogram: %v", h)
	}
	if byName["build_info"].GetType() != dto.MetricType_GAUGE {
		t.Errorf("info family not served as build_info gauge: %v", byName["build_info"])
	}
}

func TestConvertRefusesBadCounts(t *testing.T) {
	mfs, err := gatherServed(t, exposition.Family{Name: "h", Type: exposition.Histogram, Metrics: []exposition.Metric{
		{Count: 2.5, Buckets: []exposition.Bucket{{UpperBound: 1, Count: 1}}},
		{Labels: exposition.Labels{{Name: "ok", Value: "1"}}, Count: 2, Buckets: []exposition.Bucket{{UpperBound: 1, Count: 1}}},
	}})
	if err == nil || !strings.Contains(err.Error(), "count is not a whole number") {
		t.Errorf("err = %v", err)
	}
	if len(mfs) != 1 || len(mfs[0].Metric) != 1 {
		t.Errorf("the good series should still be served: %v", mfs)
	}
}
