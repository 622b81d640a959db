package containers

import (
	"testing"

	"github.com/prometheus/prometheus/util/strutil"
)

func TestGroupBy(t *testing.T) {
	run := func(name, project string, cpu float64, mem, limit uint64) Stats {
		s := Stats{Container: Container{Name: name, State: "running", Labels: map[string]string{}},
			CPUPercent: cpu, MemoryUsed: mem, MemoryLimit: limit, NetRx: 10, NetRxRate: 1, PIDs: 2}
		if project != "" {
			s.Labels[ComposeProject] = project
		}
		return s
	}
	stopped := run("old", "shop", 0, 0, 0)
	stopped.State, stopped.Restarts = "exited", 3
	stats := []Stats{run("web", "shop", 10, 100, 1000), run("solo", "", 5, 50, 4000), stopped, run("db", "shop", 20, 300, 2000), run("a", "blog", 1, 1, 1000)}
	gs := GroupBy(stats, ComposeProject)
	if len(gs) != 3 || gs[0].Value != "blog" || gs[1].Value != "shop" || !gs[2].Missing {
		t.Fatalf("groups %+v; want blog, shop, then the containers without the label", gs)
	}
	shop := gs[1]
	if shop.Containers != 3 || shop.Running != 2 || len(shop.Members) != 3 {
		t.Errorf("shop: %d containers, %d running, %d members; want 3, 2, 3", shop.Containers, shop.Running, len(shop.Members))
	}
	tot := shop.Totals
	if tot.CPUPercent != 30 || tot.MemoryUsed != 400 || tot.MemoryLimit != 2000 || tot.MemoryPercent != 20 || tot.NetRx != 20 || tot.NetRxRate != 2 || tot.PIDs != 4 || tot.Restarts != 3 {
		t.Errorf("shop's totals: %+v", tot)
	}
}

// Container labels are named as Prometheus's Docker discovery names
// them (its own sanitizer is the oracle), with the compose aliases.
func TestQueryFamiliesLabels(t *testing.T) {
	for _, k := range []string{"com.docker.compose.project", "prometheus.io/port", "é-x", "a b"} {
		if got, want := LabelName(k), "container_label_"+strutil.SanitizeLabelName(k); got != want {
			t.Errorf("LabelName(%q) = %q, Prometheus names it %q", k, got, want)
		}
	}
	s := Stats{Host: "h", Container: Container{ID: "1", Name: "web", State: "running",
		Labels: map[string]string{ComposeProject: "shop", "com.docker.compose.service": "web", "tier": "front"}}}
	fams := QueryFamilies([]Stats{s})
	for _, f := range fams {
		if f.Name != "monctl_container_cpu_usage_seconds_total" {
			continue
		}
		ls := f.Metrics[0].Labels
		for name, want := range map[string]string{"compose_project": "shop", "compose_service": "web", "container_label_tier": "front", "container_label_com_docker_compose_project": "shop"} {
			if got := ls.Get(name); got != want {
				t.Errorf("%s = %q, want %q (labels %v)", name, got, want, ls)
			}
		}
		return
	}
	t.Fatal("no CPU family")
}
