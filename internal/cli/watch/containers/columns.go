package containers

import (
	"math"
	"strconv"
	"sync/atomic"

	"github.com/monctl/monctl/internal/cli/watch/live"
	"github.com/monctl/monctl/internal/output"
	ctr "github.com/monctl/monctl/pkg/containers"
)

// historyLen is how many CPU % values the sparkline of -o wide shows.
const historyLen = 10

// cells formats a container's numbers: for people (human units, as docker
// stats and docker ps show them) or exactly for csv.
type cells struct {
	noTrunc bool
	// history is the frame's host/id → recent CPU %, oldest first. The
	// sampler's goroutine sets it as the view's goroutine draws.
	history atomic.Pointer[map[string][]float64]
	// groups are the frame's --group-by groups by their row's ID.
	groups atomic.Pointer[map[string]*ctr.Group]
}

// setHistory hands the cells the history of the frame about to be shown.
func (c *cells) setHistory(h map[string][]float64) { c.history.Store(&h) }

func (c *cells) historyOf(s *ctr.Stats) []float64 {
	if h := c.history.Load(); h != nil {
		return (*h)[historyKey(s)]
	}
	return nil
}

// newTable is the containers' table: its columns (HOST only when several
// engines are watched) and sort keys.
func newTable(c *cells, multiHost bool) *live.Table[ctr.Stats] {
	type col = live.Column[ctr.Stats]
	// A stopped container has no numbers: "--" as docker stats shows
	// it, an empty cell in csv.
	running := func(cell func(s *ctr.Stats, human bool) string) func(*ctr.Stats, bool) string {
		return func(s *ctr.Stats, human bool) string {
			switch {
			case s.Running():
				return cell(s, human)
			case human:
				return "--"
			}
			return ""
		}
	}
	type part = live.Part[ctr.Stats]
	exact := func(name string, v func(s *ctr.Stats) float64) part {
		return part{Name: name, Cell: func(s *ctr.Stats) string {
			if !s.Running() {
				return ""
			}
			return strconv.FormatFloat(v(s), 'f', -1, 64)
		}}
	}
	cols := []col{
		{Name: "CONTAINER ID", Cell: func(s *ctr.Stats, _ bool) string {
			if g := c.group(s); g != nil {
				return output.Count(g.Containers, "container")
			}
			if c.noTrunc {
				return s.ID
			}
			return s.ID[:min(12, len(s.ID))]
		}},
		{Name: "NAME", Cell: func(s *ctr.Stats, _ bool) string { return s.Name }},
		{Name: "IMAGE", Wide: true, Cell: func(s *ctr.Stats, _ bool) string { return s.Image }},
		{Name: "STATE", Cell: func(s *ctr.Stats, _ bool) string {
			if g := c.group(s); g != nil {
				return groupState(g)
			}
			return state(s)
		}},
		{Name: "CPU %", Cell: running(func(s *ctr.Stats, _ bool) string { return percent(s.CPUPercent) }),
			Parts: []part{exact("cpu_percent", func(s *ctr.Stats) float64 { return s.CPUPercent })}},
		{Name: "CPU HISTORY", Wide: true, Cell: running(func(s *ctr.Stats, _ bool) string {
			return live.Sparkline(c.historyOf(s), 100)
		})},
		{Name: "MEM USAGE / LIMIT", Cell: running(func(s *ctr.Stats, _ bool) string { return mem(s.MemoryUsed) + " / " + mem(s.MemoryLimit) }),
			Parts: []part{
				exact("memory_used_bytes", func(s *ctr.Stats) float64 { return float64(s.MemoryUsed) }),
				exact("memory_limit_bytes", func(s *ctr.Stats) float64 { return float64(s.MemoryLimit) }),
			}},
		{Name: "MEM %", Cell: running(func(s *ctr.Stats, _ bool) string { return percent(s.MemoryPercent) }),
			Parts: []part{exact("memory_percent", func(s *ctr.Stats) float64 { return s.MemoryPercent })}},
		{Name: "NET I/O", Cell: running(func(s *ctr.Stats, _ bool) string { return count(s.NetRx) + " / " + count(s.NetTx) }),
			Parts: []part{
				exact("network_rx_bytes", func(s *ctr.Stats) float64 { return float64(s.NetRx) }),
				exact("network_tx_bytes", func(s *ctr.Stats) float64 { return float64(s.NetTx) }),
			}},
		{Name: "NET RX/s / TX/s", Wide: true, Cell: running(func(s *ctr.Stats, _ bool) string { return rate(s.NetRxRate) + " / " + rate(s.NetTxRate) }),
			Parts: []part{
				exact("network_rx_bytes_per_second", func(s *ctr.Stats) float64 { return s.NetRxRate }),
				exact("network_tx_bytes_per_second", func(s *ctr.Stats) float64 { return s.NetTxRate }),
			}},
		{Name: "BLOCK I/O", Cell: running(func(s *ctr.Stats, _ bool) string { return count(s.BlkRead) + " / " + count(s.BlkWrite) }),
			Parts: []part{
				exact("block_read_bytes", func(s *ctr.Stats) float64 { return float64(s.BlkRead) }),
				exact("block_write_bytes", func(s *ctr.Stats) float64 { return float64(s.BlkWrite) }),
			}},
		{Name: "BLOCK R/s / W/s", Wide: true, Cell: running(func(s *ctr.Stats, _ bool) string {
			return rate(s.BlkReadRate) + " / " + rate(s.BlkWriteRate)
		}), Parts: []part{
			exact("block_read_bytes_per_second", func(s *ctr.Stats) float64 { return s.BlkReadRate }),
			exact("block_write_bytes_per_second", func(s *ctr.Stats) float64 { return s.BlkWriteRate }),
		}},
		{Name: "PIDS", Cell: running(func(s *ctr.Stats, _ bool) string { return strconv.FormatUint(s.PIDs, 10) })},
		{Name: "RESTARTS", Cell: func(s *ctr.Stats, _ bool) string { return strconv.Itoa(s.Restarts) }},
		{Name: "UPTIME", Cell: running(func(s *ctr.Stats, _ bool) string { return output.Uptime(s.UptimeSeconds) }),
			Parts: []part{exact("uptime_seconds", func(s *ctr.Stats) float64 { return math.Floor(s.UptimeSeconds) })}},
	}
	if multiHost {
		cols = append([]col{{Name: "HOST", Cell: func(s *ctr.Stats, _ bool) string { return s.Host }}}, cols...)
	}
	type key = live.SortKey[ctr.Stats]
	return &live.Table[ctr.Stats]{
		Columns: cols,
		SortKeys: []key{
			{Name: "cpu", Key: 'c', Value: func(s *ctr.Stats) float64 { return s.CPUPercent }},
			{Name: "mem", Key: 'm', Value: func(s *ctr.Stats) float64 { return float64(s.MemoryUsed) }},
			{Name: "net", Key: 'i', Value: func(s *ctr.Stats) float64 { return s.NetRxRate + s.NetTxRate }},
			{Name: "block", Key: 'b', Value: func(s *ctr.Stats) float64 { return s.BlkReadRate + s.BlkWriteRate }},
			{Name: "pids", Key: 'p', Value: func(s *ctr.Stats) float64 { return float64(s.PIDs) }},
			{Name: "name", Key: 'n'},
			{Name: "uptime", Key: 'u', Value: func(s *ctr.Stats) float64 { return s.UptimeSeconds }},
		},
		// The same name on two engines goes by engine.
		Name: func(s *ctr.Stats) string { return s.Name + "\x00" + s.Host },
		DropOrder: []string{"CPU HISTORY", "BLOCK R/s / W/s", "NET RX/s / TX/s", "IMAGE", "RESTARTS", "BLOCK I/O", "UPTIME",
			"NET I/O", "MEM %", "CONTAINER ID", "STATE", "HOST"},
	}
}

func historyKey(s *ctr.Stats) string { return s.Host + "/" + s.ID }

// state is the state with health and an OOM kill, as docker ps shows them.
func state(s *ctr.Stats) string {
	st := s.State
	if s.Health != "" {
		st += " (" + s.Health + ")"
	}
	if s.OOMKilled {
		st += " OOM-killed"
	}
	return st
}

// percent is a percent as docker stats prints it.
func percent(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "%" }

// mem is a memory size in binary units, like docker stats.
func mem(v uint64) string { return output.Bytes(float64(v)) }

// count is an I/O byte count in decimal units, like docker stats.
func count(v uint64) string { return output.DecimalBytes(float64(v)) }

func rate(v float64) string { return output.DecimalBytes(v) + "/s" }

// Record is one container as --format templates see it: every JSON field
// by its Go name (.Name, .CPUPercent, .MemoryUsed...) and, for docker stats
// templates, .Container, .CPUPerc, .MemUsage, .MemPerc, .NetIO, .BlockIO
// and .PIDs as docker prints them.
type Record struct {
	ctr.Stats
}

// Container is the name, as in docker stats.
func (r Record) Container() string { return r.Name }

// CPUPerc is the CPU % as docker stats prints it.
func (r Record) CPUPerc() string { return percent(r.CPUPercent) }

// MemUsage is "used / limit" in binary units.
func (r Record) MemUsage() string { return mem(r.MemoryUsed) + " / " + mem(r.MemoryLimit) }

// MemPerc is the memory % as docker stats prints it.
func (r Record) MemPerc() string { return percent(r.MemoryPercent) }

// NetIO is "received / sent" in decimal units.
func (r Record) NetIO() string { return count(r.NetRx) + " / " + count(r.NetTx) }

// BlockIO is "read / written" in decimal units.
func (r Record) BlockIO() string { return count(r.BlkRead) + " / " + count(r.BlkWrite) }

// PIDs is the process count.
func (r Record) PIDs() string { return strconv.FormatUint(r.Stats.PIDs, 10) }
