package containers

import (
	"slices"
	"strings"

	"github.com/monctl/monctl/pkg/exposition"
)

// ComposeProject is the label docker compose gives every container of a
// project.
const ComposeProject = "com.docker.compose.project"

// Group is the containers that have one value of a label (or do not
// have it: Value "" and Missing), with their totals.
type Group struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Missing bool   `json:"missing,omitempty"`
	// Containers counts them; Running those that run.
	Containers int `json:"containers"`
	Running    int `json:"running"`
	// Totals sums the numbers of the running ones: CPU % and seconds,
	// memory used, network and block I/O and their rates, PIDs; restarts
	// of all. Its memory limit is the largest of theirs (the host's
	// memory when none has a limit), and its memory % the sum over it.
	Totals  Stats   `json:"totals"`
	Members []Stats `json:"members"`
}

// GroupBy groups stats by the value of their label key, in the order of
// the values (the containers without the label last).
func GroupBy(stats []Stats, key string) []Group {
	idx := map[string]int{}
	var out []Group
	for _, s := range stats {
		v, ok := s.Labels[key]
		gk := "\x00"
		if ok {
			gk = v
		}
		i, seen := idx[gk]
		if !seen {
			i = len(out)
			idx[gk] = i
			out = append(out, Group{Key: key, Value: v, Missing: !ok})
		}
		g := &out[i]
		g.Containers++
		g.Members = append(g.Members, s)
		t := &g.Totals
		t.Restarts += s.Restarts
		if !s.Running() {
			continue
		}
		g.Running++
		t.CPUPercent += s.CPUPercent
		t.CPUSeconds += s.CPUSeconds
		t.MemoryUsed += s.MemoryUsed
		t.MemoryUsage += s.MemoryUsage
		t.MemoryLimit = max(t.MemoryLimit, s.MemoryLimit)
		t.NetRx += s.NetRx
		t.NetTx += s.NetTx
		t.NetRxRate += s.NetRxRate
		t.NetTxRate += s.NetTxRate
		t.BlkRead += s.BlkRead
		t.BlkWrite += s.BlkWrite
		t.BlkReadRate += s.BlkReadRate
		t.BlkWriteRate += s.BlkWriteRate
		t.PIDs += s.PIDs
		t.UptimeSeconds = max(t.UptimeSeconds, s.UptimeSeconds)
		t.Time = s.Time
	}
	for i := range out {
		t := &out[i].Totals
		if t.MemoryLimit > 0 {
			t.MemoryPercent = float64(t.MemoryUsed) / float64(t.MemoryLimit) * 100
		}
	}
	slices.SortStableFunc(out, func(a, b Group) int {
		if a.Missing != b.Missing {
			if a.Missing {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out
}

// LabelKeys are the keys of every label the containers have, sorted.
func LabelKeys(stats []Stats) []string {
	seen := map[string]bool{}
	var keys []string
	for i := range stats {
		for k := range stats[i].Labels {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// QueryFamilies are Families with every label of each container, as
// container_label_<key>, and the compose project and service also as
// compose_project and compose_service: for questions asked of the
// containers (sum by (compose_project) (...)), which no scraper sees.
func QueryFamilies(stats []Stats) []exposition.Family {
	fams := Families(stats, LabelKeys(stats))
	aliases := [...][2]string{{LabelName(ComposeProject), "compose_project"}, {LabelName("com.docker.compose.service"), "compose_service"}}
	for i := range fams {
		for j := range fams[i].Metrics {
			m := &fams[i].Metrics[j]
			for _, a := range aliases {
				if v := m.Labels.Get(a[0]); v != "" && m.Labels.Get(a[1]) == "" {
					m.Labels = with(m.Labels, a[1], v)
				}
			}
		}
	}
	return fams
}
