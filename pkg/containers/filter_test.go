package containers

import (
	"strings"
	"testing"
	"time"
)

func TestFilter(t *testing.T) {
	web := &Container{ID: "abc123", Name: "web-1", State: "running", Labels: map[string]string{"tier": "front", "team": "a"}}
	db := &Container{ID: "def456", Name: "db", State: "exited", Labels: map[string]string{"tier": "back"}}
	cases := []struct {
		terms   []string
		refs    []string
		all     bool
		web, db bool
	}{
		{nil, nil, false, true, false},
		{nil, nil, true, true, true},
		{[]string{"name=^web"}, nil, true, true, false},
		{[]string{"name=^web", "name=^db$"}, nil, true, true, true}, // same key: OR
		{[]string{"label=tier"}, nil, true, true, true},
		{[]string{"label=tier=back"}, nil, true, false, true},
		{[]string{"label=tier", "label=team=a"}, nil, true, true, false}, // labels: AND
		{[]string{"status=exited"}, nil, false, false, true},             // status admits stopped ones without --all
		{[]string{"status=running", "name=db"}, nil, true, false, false},
		{nil, []string{"db"}, false, false, true}, // a named container shows even when stopped
		{nil, []string{"abc"}, false, true, false},
	}
	for _, c := range cases {
		f, err := ParseFilter(c.terms)
		if err != nil {
			t.Fatalf("%v: %v", c.terms, err)
		}
		f.Refs = c.refs
		if got := f.Match(web, c.all); got != c.web {
			t.Errorf("%v refs %v all=%v: web matched %v", c.terms, c.refs, c.all, got)
		}
		if got := f.Match(db, c.all); got != c.db {
			t.Errorf("%v refs %v all=%v: db matched %v", c.terms, c.refs, c.all, got)
		}
	}
}

func TestFilterErrors(t *testing.T) {
	for term, want := range map[string]string{
		"name":            "want name=REGEX",
		"name=(":          "error parsing regexp",
		"status=sleeping": "status is one of",
		"color=red":       `unknown key "color"`,
	} {
		_, err := ParseFilter([]string{term})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", term, err, want)
		}
	}
}

func TestFamilies(t *testing.T) {
	stats := []Stats{
		{Host: "h", Container: Container{ID: "1", Name: "a", Image: "img", State: "running", Health: "healthy", Restarts: 2,
			StartedAt: time.Unix(1700000000, 0), Labels: map[string]string{"com.example.team": "x"}},
			CPUSeconds: 1.5, MemoryUsage: 300, MemoryUsed: 200, PIDs: 3},
		{Host: "h", Container: Container{ID: "2", Name: "b", Image: "img", State: "exited"}},
	}
	fams := Families(stats, []string{"com.example.team"})
	byName := map[string]int{}
	for _, f := range fams {
		byName[f.Name] = len(f.Metrics)
		for _, m := range f.Metrics {
			if m.Labels.Get("id") == "1" && m.Labels.Get("container_label_com_example_team") != "x" {
				t.Errorf("%s: allowed label missing: %v", f.Name, m.Labels)
			}
		}
	}
	want := map[string]int{
		"monctl_container_info": 2, "monctl_container_state": 14, "monctl_container_health_status": 3,
		"monctl_container_restarts_total": 2, "monctl_container_cpu_usage_seconds_total": 1, "monctl_container_pids": 1,
	}
	for name, n := range want {
		if byName[name] != n {
			t.Errorf("%s has %d series, want %d", name, byName[name], n)
		}
	}
	if Families(nil, nil) == nil || len(Families(nil, nil)) != 0 {
		t.Error("no containers: want no families (empty ones cannot be written)")
	}
}
