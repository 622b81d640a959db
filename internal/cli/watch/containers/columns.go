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
	running := func(cell func(s *ctr.Stats, human bool) string) func(*ctr.Stats, bool) string {
		return func(s *ctr.Stats, human bool) string {
			if !s.Running() {
				return "--"
			}
			return cell(s, human)
		}
	}
	cols := []col{
		{Name: "CONTAINER ID", Cell: func(s *ctr.Stats, _ bool) string {
			if c.noTrunc {
				return s.ID
			}
			return s.ID[:min(12, len(s.ID))]
		}},
		{Name: "NAME", Cell: func(s *ctr.Stats, _ bool) string { return s.Name }},
		{Name: "IMAGE", Wide: true, Cell: func(s *ctr.Stats, _ bool) string { return s.Image }},
		{Name: "STATE", Cell: func(s *ctr.Stats, _ bool) string { return state(s) }},
		{Name: "CPU %", Cell: running(func(s *ctr.Stats, h bool) string { return percent(s.CPUPercent, h) })},
		{Name: "CPU HISTORY", Wide: true, Cell: running(func(s *ctr.Stats, _ bool) string {
			return live.Sparkline(c.historyOf(s), 100)
		})},
		{Name: "MEM USAGE / LIMIT", Cell: running(func(s *ctr.Stats, h bool) string { return mem(s.MemoryUsed, h) + " / " + mem(s.MemoryLimit, h) })},
		{Name: "MEM %", Cell: running(func(s *ctr.Stats, h bool) string { return percent(s.MemoryPercent, h) })},
		{Name: "NET I/O", Cell: running(func(s *ctr.Stats, h bool) string { return count(s.NetRx, h) + " / " + count(s.NetTx, h) })},
		{Name: "NET RX/s / TX/s", Wide: true, Cell: running(func(s *ctr.Stats, h bool) string { return rate(s.NetRxRate, h) + " / " + rate(s.NetTxRate, h) })},
		{Name: "BLOCK I/O", Cell: running(func(s *ctr.Stats, h bool) string { return count(s.BlkRead, h) + " / " + count(s.BlkWrite, h) })},
		{Name: "BLOCK R/s / W/s", Wide: true, Cell: running(func(s *ctr.Stats, h bool) string {
			return rate(s.BlkReadRate, h) + " / " + rate(s.BlkWriteRate, h)
		})},
		{Name: "PIDS", Cell: running(func(s *ctr.Stats, _ bool) string { return strconv.FormatUint(s.PIDs, 10) })},
		{Name: "RESTARTS", Cell: func(s *ctr.Stats, _ bool) string { return strconv.Itoa(s.Restarts) }},
		{Name: "UPTIME", Cell: running(func(s *ctr.Stats, h bool) string {
			if h {
				return output.Uptime(s.UptimeSeconds)
			}
			return strconv.FormatFloat(math.Floor(s.UptimeSeconds), 'f', -1, 64)
		})},
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

func percent(v float64, human bool) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if human {
		return s + "%"
	}
	return s
}

// mem is a memory size: binary units for people, like docker stats.
func mem(v uint64, human bool) string {
	if human {
		return output.Bytes(float64(v))
	}
	return strconv.FormatUint(v, 10)
}

// count is an I/O byte count: decimal units for people, like docker stats.
func count(v uint64, human bool) string {
	if human {
		return output.DecimalBytes(float64(v))
	}
	return strconv.FormatUint(v, 10)
}

func rate(v float64, human bool) string {
	if human {
		return output.DecimalBytes(v) + "/s"
	}
	return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
}

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
func (r Record) CPUPerc() string { return percent(r.CPUPercent, true) }

// MemUsage is "used / limit" in binary units.
func (r Record) MemUsage() string { return mem(r.MemoryUsed, true) + " / " + mem(r.MemoryLimit, true) }

// MemPerc is the memory % as docker stats prints it.
func (r Record) MemPerc() string { return percent(r.MemoryPercent, true) }

// NetIO is "received / sent" in decimal units.
func (r Record) NetIO() string { return count(r.NetRx, true) + " / " + count(r.NetTx, true) }

// BlockIO is "read / written" in decimal units.
func (r Record) BlockIO() string { return count(r.BlkRead, true) + " / " + count(r.BlkWrite, true) }

// PIDs is the process count.
func (r Record) PIDs() string { return strconv.FormatUint(r.Stats.PIDs, 10) }
