package containers

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/monctl/monctl/pkg/exposition"
)

// Families turns stats into the monctl_container_* metric families, in base
// units with counters ending in _total, labelled host, id and name. The
// container labels named in labelKeys are added as container_label_<key>
// (cAdvisor's spelling), so that only labels someone chose become series
// labels. Containers without numbers (stopped ones) get info, state and
// restarts only: in a Snapshot every running container has numbers.
func Families(stats []Stats, labelKeys []string) []exposition.Family {
	type def struct {
		name, help string
		typ        exposition.Type
		value      func(*Stats) float64
	}
	defs := []def{
		{"monctl_container_cpu_usage_seconds_total", "CPU time the container used, in seconds.", exposition.Counter, func(s *Stats) float64 { return s.CPUSeconds }},
		{"monctl_container_memory_usage_bytes", "Memory charged to the container, page cache included.", exposition.Gauge, func(s *Stats) float64 { return float64(s.MemoryUsage) }},
		{"monctl_container_memory_working_set_bytes", "Memory used without inactive file cache: docker stats' MEM USAGE.", exposition.Gauge, func(s *Stats) float64 { return float64(s.MemoryUsed) }},
		{"monctl_container_memory_limit_bytes", "Memory limit of the container (the host's memory when it has none).", exposition.Gauge, func(s *Stats) float64 { return float64(s.MemoryLimit) }},
		{"monctl_container_network_receive_bytes_total", "Bytes received on all interfaces.", exposition.Counter, func(s *Stats) float64 { return float64(s.NetRx) }},
		{"monctl_container_network_transmit_bytes_total", "Bytes sent on all interfaces.", exposition.Counter, func(s *Stats) float64 { return float64(s.NetTx) }},
		{"monctl_container_blkio_read_bytes_total", "Bytes read from block devices.", exposition.Counter, func(s *Stats) float64 { return float64(s.BlkRead) }},
		{"monctl_container_blkio_write_bytes_total", "Bytes written to block devices.", exposition.Counter, func(s *Stats) float64 { return float64(s.BlkWrite) }},
		{"monctl_container_pids", "Processes and threads in the container.", exposition.Gauge, func(s *Stats) float64 { return float64(s.PIDs) }},
		{"monctl_container_start_time_seconds", "Start time of the container since the Unix epoch, in seconds.", exposition.Gauge, func(s *Stats) float64 {
			return float64(s.StartedAt.UnixNano()) / 1e9
		}},
	}
	fams := make([]exposition.Family, 0, len(defs)+4)
	info := exposition.Family{Name: "monctl_container_info", Type: exposition.Gauge, Help: "Always 1: the image and the labels of the container."}
	state := exposition.Family{Name: "monctl_container_state", Type: exposition.Gauge, Help: "1 for the state the container is in, 0 for the others."}
	health := exposition.Family{Name: "monctl_container_health_status", Type: exposition.Gauge, Help: "1 for the health status of a container with a health check, 0 for the others."}
	restarts := exposition.Family{Name: "monctl_container_restarts_total", Type: exposition.Counter, Help: "Times the engine restarted the container."}
	ooms := exposition.Family{Name: "monctl_container_oom_kills_total", Type: exposition.Counter, Help: "OOM kills of the container (its oom events) since monctl began to watch it."}
	exits := exposition.Family{Name: "monctl_container_exits_total", Type: exposition.Counter, Help: "Exits of the container (its die events) since monctl began to watch it, by exit code."}
	states := containerStates()
	for i := range stats {
		s := &stats[i]
		base := seriesLabels(s, labelKeys)
		info.Metrics = append(info.Metrics, exposition.Metric{Labels: with(base, "image", s.Image), Value: 1})
		for _, st := range states {
			state.Metrics = append(state.Metrics, exposition.Metric{Labels: with(base, "state", st), Value: boolValue(s.State == st)})
		}
		if s.Health != "" {
			for _, h := range []string{"starting", "healthy", "unhealthy"} {
				health.Metrics = append(health.Metrics, exposition.Metric{Labels: with(base, "health", h), Value: boolValue(s.Health == h)})
			}
		}
		restarts.Metrics = append(restarts.Metrics, exposition.Metric{Labels: base, Value: float64(s.Restarts)})
		ooms.Metrics = append(ooms.Metrics, exposition.Metric{Labels: base, Value: float64(s.OOMKills)})
		for _, code := range slices.Sorted(maps.Keys(s.Exits)) {
			exits.Metrics = append(exits.Metrics, exposition.Metric{Labels: with(base, "code", strconv.Itoa(code)), Value: float64(s.Exits[code])})
		}
	}
	fams = append(fams, info, state, health, restarts, ooms, exits)
	for _, d := range defs {
		f := exposition.Family{Name: d.name, Help: d.help, Type: d.typ}
		for i := range stats {
			if s := &stats[i]; s.Running() {
				f.Metrics = append(f.Metrics, exposition.Metric{Labels: seriesLabels(s, labelKeys), Value: d.value(s)})
			}
		}
		fams = append(fams, f)
	}
	// A family without series cannot be written (no health checks, no
	// running containers).
	return slices.DeleteFunc(fams, func(f exposition.Family) bool { return len(f.Metrics) == 0 })
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// seriesLabels are host, id, name and the chosen container labels, sorted.
func seriesLabels(s *Stats, labelKeys []string) exposition.Labels {
	ls := exposition.Labels{{Name: "host", Value: s.Host}, {Name: "id", Value: s.ID}, {Name: "name", Value: s.Name}}
	for _, k := range labelKeys {
		if v, ok := s.Labels[k]; ok {
			ls = with(ls, LabelName(k), v)
		}
	}
	return ls
}

// with returns a copy of ls with one more label, kept sorted.
func with(ls exposition.Labels, name, value string) exposition.Labels {
	out := make(exposition.Labels, 0, len(ls)+1)
	added := false
	for _, l := range ls {
		if !added && name < l.Name {
			out = append(out, exposition.Label{Name: name, Value: value})
			added = true
		}
		out = append(out, l)
	}
	if !added {
		out = append(out, exposition.Label{Name: name, Value: value})
	}
	return out
}

// LabelName is the Prometheus label for a container label:
// com.docker.compose.service becomes container_label_com_docker_compose_service.
func LabelName(key string) string {
	// One _ per character that is not a letter, digit or _, as
	// Prometheus's discovery names __meta_docker_container_label_<key>.
	var b strings.Builder
	b.WriteString("container_label_")
	for _, c := range key {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			c = '_'
		}
		b.WriteRune(c)
	}
	return b.String()
}
