package query

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/monctl/monctl/pkg/exposition"
)

// TestStoreKeepsWhatIsRead: a store that keeps only what the questions
// and rules read drops the other series at Add and Merge, and answers
// the same; a rule whose template runs a query of its own reads
// anything.
func TestStoreKeepsWhatIsRead(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.yml")
	os.WriteFile(file, []byte(`groups:
- name: g
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
  - alert: Hot
    expr: temp{room="a"} > 20
`), 0o600)
	rs, err := LoadRules(file)
	if err != nil {
		t.Fatal(err)
	}
	gauge := func(name string, ls exposition.Labels, v float64) exposition.Family {
		return exposition.Family{Name: name, Type: exposition.Gauge, Metrics: []exposition.Metric{{Labels: ls, Value: v}}}
	}
	fams := []exposition.Family{
		gauge("up", exposition.Labels{{Name: "job", Value: "x"}}, 1),
		gauge("temp", exposition.Labels{{Name: "room", Value: "a"}}, 25),
		gauge("temp", exposition.Labels{{Name: "room", Value: "b"}}, 30),
		gauge("other", nil, 1),
	}
	s := NewStore()
	s.Only(ReadsOf(rs, `rate(requests_total[5m])`))
	at := time.Unix(1000, 0)
	s.Add(at, fams)
	if s.Series() != 2 {
		t.Errorf("kept %d series, want up and temp{room=a}", s.Series())
	}
	o := NewStore()
	o.Add(at.Add(time.Second), []exposition.Family{gauge("requests_total", nil, 3), gauge("other", nil, 2)})
	s.Merge(o)
	if s.Series() != 3 {
		t.Errorf("after the merge %d series, want requests_total too", s.Series())
	}
	alerts, err := rs.Eval(t.Context(), NewEngine(Options{Timeout: time.Minute, MaxSamples: 1000}), s, at.Add(time.Second))
	if err != nil || len(alerts) != 1 || alerts[0].Labels["room"] != "a" {
		t.Errorf("alerts %+v, %v", alerts, err)
	}
	os.WriteFile(file, []byte("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    annotations: {n: '{{ with query \"count(foo)\" }}{{ . | first | value }}{{ end }}'}\n"), 0o600)
	if rs, err = LoadRules(file); err != nil {
		t.Fatal(err)
	}
	if ReadsOf(rs) != nil {
		t.Errorf("a template that queries reads anything")
	}
}
