package fleet

import (
	"testing"
	"time"

	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exposition"
)

// TestReadIsFamiliesInverse: the containers read back from the families
// serve exposes are the containers they were made from (less the rates,
// which need two readings), under the host given.
func TestReadIsFamiliesInverse(t *testing.T) {
	started := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	now := started.Add(time.Hour)
	in := []containers.Stats{
		{Host: "unix:///var/run/docker.sock", Container: containers.Container{ID: "a1", Name: "web", Image: "nginx", State: "running", Health: "healthy",
			Restarts: 2, OOMKills: 1, Exits: map[int]uint64{137: 1}, StartedAt: started, Labels: map[string]string{"tier": "front"}},
			CPUSeconds: 12.5, MemoryUsed: 50 << 20, MemoryUsage: 60 << 20, MemoryLimit: 200 << 20, NetRx: 1000, NetTx: 2000, BlkRead: 3, BlkWrite: 4, PIDs: 7},
		{Host: "unix:///var/run/docker.sock", Container: containers.Container{ID: "b2", Name: "old", Image: "busybox", State: "exited"}},
	}
	got := FromTarget(containers.Families(in, []string{"tier"}), "hostA:9101", now)
	if len(got) != 2 {
		t.Fatalf("%d containers, want 2: %+v", len(got), got)
	}
	old, web := got[0], got[1]
	if web.Host != "hostA:9101" || web.ID != "a1" || web.Name != "web" || web.Image != "nginx" || web.State != "running" || web.Health != "healthy" ||
		web.Restarts != 2 || web.OOMKills != 1 || web.Exits[137] != 1 || !web.StartedAt.Equal(started) || web.Labels["tier"] != "front" ||
		web.CPUSeconds != 12.5 || web.MemoryUsed != 50<<20 || web.MemoryUsage != 60<<20 || web.MemoryLimit != 200<<20 || web.MemoryPercent != 25 ||
		web.NetRx != 1000 || web.NetTx != 2000 || web.BlkRead != 3 || web.BlkWrite != 4 || web.PIDs != 7 || web.UptimeSeconds != 3600 {
		t.Errorf("web: %+v", web)
	}
	if old.Name != "old" || old.State != "exited" || old.Image != "busybox" || old.Running() {
		t.Errorf("old: %+v", old)
	}
}

// TestRates: CPU % and rates from two readings, 0 for a counter that
// went back, and nothing for a container seen once.
func TestRates(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var r Rates
	first := []containers.Stats{{Host: "h", Time: t0, Container: containers.Container{ID: "a"}, CPUSeconds: 10, NetRx: 100, BlkWrite: 500}}
	r.Apply(first)
	if first[0].CPUPercent != 0 {
		t.Errorf("one reading: %v %%", first[0].CPUPercent)
	}
	second := []containers.Stats{
		{Host: "h", Time: t0.Add(2 * time.Second), Container: containers.Container{ID: "a"}, CPUSeconds: 11, NetRx: 300, BlkWrite: 100},
		{Host: "h", Time: t0.Add(2 * time.Second), Container: containers.Container{ID: "new"}, CPUSeconds: 50},
	}
	r.Apply(second)
	if a := second[0]; a.CPUPercent != 50 || a.NetRxRate != 100 || a.BlkWriteRate != 50 {
		t.Errorf("a: %v %% cpu, %v rx/s, %v write/s (want 50, 100, 50: the write counter went back)", a.CPUPercent, a.NetRxRate, a.BlkWriteRate)
	}
	if second[1].CPUPercent != 0 {
		t.Errorf("a container seen once: %v %%", second[1].CPUPercent)
	}
}

// TestReadLeavesOthersOut: series that are not a container's are left
// out, and the store's instance names the host.
func TestReadLeavesOthersOut(t *testing.T) {
	fams := []exposition.Family{
		{Name: "up", Metrics: []exposition.Metric{{Labels: exposition.Labels{{Name: "id", Value: "x"}}, Value: 1}}},
		{Name: "monctl_container_pids", Metrics: []exposition.Metric{
			{Labels: exposition.Labels{{Name: "host", Value: "unix:///s"}, {Name: "id", Value: "a"}, {Name: "instance", Value: "hostB"}, {Name: "name", Value: "db"}}, Value: 3},
			{Labels: exposition.Labels{{Name: "host", Value: "unix:///s"}, {Name: "name", Value: "no id"}}, Value: 3},
		}},
	}
	got := Read(fams, instanceOrHost, time.Now())
	if len(got) != 1 || got[0].Host != "hostB" || got[0].PIDs != 3 || got[0].Name != "db" {
		t.Errorf("%+v", got)
	}
}
