package exposition

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"

	"github.com/prometheus/prometheus/model/relabel"
)

// A discovered target's labels go on every series, its
// metric_relabel_configs then drop, change and rename series.
func TestScrapeRelabelsSeries(t *testing.T) {
	var rules []*relabel.Config
	if err := yaml.UnmarshalStrict([]byte(`
- {source_labels: [__name__], regex: 'go_.*', action: drop}
- {source_labels: [mode], regex: 'idle', target_label: mode, replacement: rest}
- {source_labels: [__name__], regex: 'old_(.*)', target_label: __name__, replacement: 'new_$1'}
`), &rules); err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if err := r.Validate(model.UTF8Validation); err != nil {
			t.Fatal(err)
		}
	}
	body := `# TYPE go_goroutines gauge
go_goroutines 8
# TYPE cpu_seconds_total counter
cpu_seconds_total{mode="idle",env="exposed"} 10
cpu_seconds_total{mode="user"} 2
# TYPE old_temp gauge
old_temp 20
`
	tg := Target{URL: "-", Labels: Labels{{Name: "env", Value: "prod"}}, MetricRelabel: rules}
	s := &Scraper{Stdin: strings.NewReader(body)}
	r := s.Scrape(context.Background(), &tg)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	var got []string
	for _, f := range r.Families {
		for _, m := range f.Metrics {
			got = append(got, f.Name+m.Labels.String())
		}
	}
	want := []string{
		`cpu_seconds_total{env="prod", exported_env="exposed", mode="rest"}`,
		`cpu_seconds_total{env="prod", mode="user"}`,
		`new_temp{env="prod"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Series != 4 {
		t.Errorf("the result counts %d series, want the 4 exposed", r.Series)
	}
}

// TraceRelabel says which rule dropped or changed which series, and
// serves what relabel serves.
func TestTraceRelabel(t *testing.T) {
	var rules []*relabel.Config
	if err := yaml.UnmarshalStrict([]byte(`
- {source_labels: [__name__], regex: 'go_.*', action: drop}
- {source_labels: [mode], regex: 'idle', target_label: mode, replacement: rest}
- {regex: 'env', action: labeldrop}
`), &rules); err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if err := r.Validate(model.UTF8Validation); err != nil {
			t.Fatal(err)
		}
	}
	body := "go_goroutines 8\ncpu_seconds_total{mode=\"idle\"} 10\ncpu_seconds_total{mode=\"user\"} 2\n"
	tg := Target{URL: "-", Labels: Labels{{Name: "env", Value: "prod"}}, MetricRelabel: rules}
	plain := Target{URL: "-"}
	r := (&Scraper{Stdin: strings.NewReader(body)}).Scrape(context.Background(), &plain)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	got := tg.TraceRelabel(r.Families)
	want := []SeriesTrace{
		{Before: `{__name__="go_goroutines", env="prod"}`, DroppedBy: 1},
		{Before: `{__name__="cpu_seconds_total", env="prod", mode="idle"}`, After: `{__name__="cpu_seconds_total", mode="rest"}`, ChangedBy: []int{2, 3}},
		{Before: `{__name__="cpu_seconds_total", env="prod", mode="user"}`, After: `{__name__="cpu_seconds_total", mode="user"}`, ChangedBy: []int{3}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("traces:\n%v\nwant:\n%v", got, want)
	}
}
