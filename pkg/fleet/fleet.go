// Package fleet reads the containers of many hosts back out of the
// monctl_container_* series their agents expose (monctl serve) or send
// (monctl push) — from a hub's scrape of each host, or from a
// Prometheus-compatible store — so that they can be shown as the local
// containers are, each with the host it came from.
package fleet

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exposition"
)

// Source gives the containers of a fleet at each sample.
type Source interface {
	// Name says where the containers come from, for messages and
	// labels: a URL, without credentials.
	Name() string
	// Kind says what Name is, for messages: "Prometheus API", "monctl serve".
	Kind() string
	Sample(ctx context.Context) ([]containers.Stats, error)
}

// Read turns monctl_container_* families into containers. host names the
// host a series came from; a series without an id label is not a
// container's and is left out. Rates (CPU %, network and block I/O per
// second) are left zero: Rates or the store fill them in.
func Read(fams []exposition.Family, host func(exposition.Labels) string, now time.Time) []containers.Stats {
	rows := map[string]*containers.Stats{}
	var keys []string
	row := func(ls exposition.Labels) *containers.Stats {
		id := ls.Get("id")
		if id == "" {
			return nil
		}
		h := cmp.Or(host(ls), ls.Get("host"))
		// The engine is part of the key: one host may run two.
		k := h + "\x00" + ls.Get("host") + "\x00" + id
		s := rows[k]
		if s == nil {
			s = &containers.Stats{Host: h, Time: now, Container: containers.Container{ID: id, Name: ls.Get("name")}}
			for _, l := range ls {
				if key, ok := strings.CutPrefix(l.Name, "container_label_"); ok {
					if s.Labels == nil {
						s.Labels = map[string]string{}
					}
					s.Labels[key] = l.Value
				}
			}
			rows[k] = s
			keys = append(keys, k)
		}
		return s
	}
	for i := range fams {
		f := &fams[i]
		name, ok := strings.CutPrefix(f.Name, "monctl_container_")
		if !ok {
			continue
		}
		for j := range f.Metrics {
			m := &f.Metrics[j]
			s := row(m.Labels)
			if s == nil {
				continue
			}
			set(s, name, m)
		}
	}
	out := make([]containers.Stats, 0, len(keys))
	for _, k := range keys {
		s := rows[k]
		if s.MemoryLimit > 0 {
			s.MemoryPercent = float64(s.MemoryUsed) / float64(s.MemoryLimit) * 100
		}
		if s.Running() && !s.StartedAt.IsZero() {
			s.UptimeSeconds = max(0, now.Sub(s.StartedAt).Seconds())
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b containers.Stats) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// set takes one series of monctl_container_NAME into s: the inverse of
// containers.Families.
func set(s *containers.Stats, name string, m *exposition.Metric) {
	v := m.Value
	n := uint64(max(v, 0))
	switch name {
	case "info":
		s.Image = m.Labels.Get("image")
	case "state":
		if v == 1 {
			s.State = m.Labels.Get("state")
		}
	case "health_status":
		if v == 1 {
			s.Health = m.Labels.Get("health")
		}
	case "restarts_total":
		s.Restarts = int(n)
	case "oom_kills_total":
		s.OOMKills = n
	case "exits_total":
		if code, err := strconv.Atoi(m.Labels.Get("code")); err == nil {
			if s.Exits == nil {
				s.Exits = map[int]uint64{}
			}
			s.Exits[code] = n
		}
	case "cpu_usage_seconds_total":
		s.CPUSeconds = v
	case "memory_usage_bytes":
		s.MemoryUsage = n
	case "memory_working_set_bytes":
		s.MemoryUsed = n
	case "memory_limit_bytes":
		s.MemoryLimit = n
	case "network_receive_bytes_total":
		s.NetRx = n
	case "network_transmit_bytes_total":
		s.NetTx = n
	case "blkio_read_bytes_total":
		s.BlkRead = n
	case "blkio_write_bytes_total":
		s.BlkWrite = n
	case "pids":
		s.PIDs = n
	case "start_time_seconds":
		s.StartedAt = time.Unix(0, int64(v*1e9)).UTC()
	}
}

// Rates keeps each container's last counters, to turn the next reading
// into CPU % and rates per second, as docker stats does between two
// samples. A counter that went back (a restart) gives 0, never a
// negative rate.
type Rates struct {
	prev map[string]containers.Stats
}

// Apply sets the rates of stats from the previous reading, and keeps
// this one (forgetting the containers no longer in it).
func (r *Rates) Apply(stats []containers.Stats) {
	next := make(map[string]containers.Stats, len(stats))
	for i := range stats {
		s := &stats[i]
		k := s.Host + "\x00" + s.ID
		if p, ok := r.prev[k]; ok && s.Time.After(p.Time) {
			d := s.Time.Sub(p.Time)
			if s.CPUSeconds >= p.CPUSeconds {
				s.CPUPercent = (s.CPUSeconds - p.CPUSeconds) / d.Seconds() * 100
			}
			s.NetRxRate, s.NetTxRate = containers.Rate(p.NetRx, s.NetRx, d), containers.Rate(p.NetTx, s.NetTx, d)
			s.BlkReadRate, s.BlkWriteRate = containers.Rate(p.BlkRead, s.BlkRead, d), containers.Rate(p.BlkWrite, s.BlkWrite, d)
		}
		next[k] = *s
	}
	r.prev = next
}
