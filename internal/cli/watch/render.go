package watch

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/containers"
)

// sortKeys are the --sort values; every one but name sorts descending.
var sortKeys = []string{"cpu", "mem", "net", "block", "pids", "name", "uptime"}

// arrange sorts stats by key (numbers biggest first, names A to Z; reverse
// flips it) and keeps the first top of them (0: all).
func arrange(stats []containers.Stats, key string, reverse bool, top int) []containers.Stats {
	num := func(s *containers.Stats) float64 {
		switch key {
		case "cpu":
			return s.CPUPercent
		case "mem":
			return float64(s.MemoryUsed)
		case "net":
			return s.NetRxRate + s.NetTxRate
		case "block":
			return s.BlkReadRate + s.BlkWriteRate
		case "pids":
			return float64(s.PIDs)
		case "uptime":
			return s.UptimeSeconds
		}
		return 0
	}
	slices.SortStableFunc(stats, func(a, b containers.Stats) int {
		c := 0
		if key != "name" {
			c = cmp.Compare(num(&b), num(&a))
		}
		if c == 0 {
			c = cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Host, b.Host))
		}
		if reverse {
			return -c
		}
		return c
	})
	if top > 0 && len(stats) > top {
		return stats[:top]
	}
	return stats
}

// cells formats numbers for people on a terminal (human units, as docker
// stats shows them) or exactly for programs reading a pipe.
type cells struct {
	human   bool
	noTrunc bool
	history map[string][]float64
}

// column is one column of the table; wide ones show only with -o wide.
type column struct {
	name string
	wide bool
	cell func(c *cells, s *containers.Stats) string
}

func columns(multiHost bool) []column {
	cols := []column{
		{"CONTAINER ID", false, func(c *cells, s *containers.Stats) string {
			if c.noTrunc {
				return s.ID
			}
			return s.ID[:min(12, len(s.ID))]
		}},
		{"NAME", false, func(_ *cells, s *containers.Stats) string { return s.Name }},
		{"IMAGE", true, func(_ *cells, s *containers.Stats) string { return s.Image }},
		{"STATE", false, func(_ *cells, s *containers.Stats) string { return state(s) }},
		{"CPU %", false, func(c *cells, s *containers.Stats) string { return c.ifRunning(s, c.percent(s.CPUPercent)) }},
		{"CPU HISTORY", true, func(c *cells, s *containers.Stats) string {
			return c.ifRunning(s, sparkline(c.history[s.Host+"/"+s.ID]))
		}},
		{"MEM USAGE / LIMIT", false, func(c *cells, s *containers.Stats) string {
			return c.ifRunning(s, c.mem(s.MemoryUsed)+" / "+c.mem(s.MemoryLimit))
		}},
		{"MEM %", false, func(c *cells, s *containers.Stats) string { return c.ifRunning(s, c.percent(s.MemoryPercent)) }},
		{"NET I/O", false, func(c *cells, s *containers.Stats) string { return c.ifRunning(s, c.io(s.NetRx)+" / "+c.io(s.NetTx)) }},
		{"NET RX/s / TX/s", true, func(c *cells, s *containers.Stats) string {
			return c.ifRunning(s, c.rate(s.NetRxRate)+" / "+c.rate(s.NetTxRate))
		}},
		{"BLOCK I/O", false, func(c *cells, s *containers.Stats) string {
			return c.ifRunning(s, c.io(s.BlkRead)+" / "+c.io(s.BlkWrite))
		}},
		{"BLOCK R/s / W/s", true, func(c *cells, s *containers.Stats) string {
			return c.ifRunning(s, c.rate(s.BlkReadRate)+" / "+c.rate(s.BlkWriteRate))
		}},
		{"PIDS", false, func(c *cells, s *containers.Stats) string { return c.ifRunning(s, strconv.FormatUint(s.PIDs, 10)) }},
		{"RESTARTS", false, func(_ *cells, s *containers.Stats) string { return strconv.Itoa(s.Restarts) }},
		{"UPTIME", false, func(c *cells, s *containers.Stats) string { return c.ifRunning(s, c.uptime(s.UptimeSeconds)) }},
	}
	if multiHost {
		cols = append([]column{{"HOST", false, func(_ *cells, s *containers.Stats) string { return s.Host }}}, cols...)
	}
	return cols
}

// state is the state with health and an OOM kill, as docker ps shows them.
func state(s *containers.Stats) string {
	st := s.State
	if s.Health != "" {
		st += " (" + s.Health + ")"
	}
	if s.OOMKilled {
		st += " OOM-killed"
	}
	return st
}

func (c *cells) ifRunning(s *containers.Stats, v string) string {
	if !s.Running() {
		return "--"
	}
	return v
}

func (c *cells) percent(v float64) string {
	if c.human {
		return strconv.FormatFloat(v, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// mem is a memory size: binary units on a terminal, like docker stats.
func (c *cells) mem(v uint64) string {
	if c.human {
		return output.Bytes(float64(v))
	}
	return strconv.FormatUint(v, 10)
}

// io is an I/O byte count: decimal units on a terminal, like docker stats.
func (c *cells) io(v uint64) string {
	if c.human {
		return output.DecimalBytes(float64(v))
	}
	return strconv.FormatUint(v, 10)
}

func (c *cells) rate(v float64) string {
	if c.human {
		return output.DecimalBytes(v) + "/s"
	}
	return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
}

func (c *cells) uptime(v float64) string {
	if c.human {
		return output.Age(v)
	}
	return strconv.FormatFloat(math.Floor(v), 'f', -1, 64)
}

// sparkline draws CPU % values as bars, scaled to one CPU or the highest
// value, whichever is more.
func sparkline(vs []float64) string {
	const bars = "▁▂▃▄▅▆▇█"
	top := 100.0
	for _, v := range vs {
		top = max(top, v)
	}
	var b strings.Builder
	for _, v := range vs {
		i := int(v / top * 7.999)
		b.WriteString(string([]rune(bars)[max(0, min(7, i))]))
	}
	return b.String()
}

// table renders rows of the chosen columns.
func table(cols []column, c *cells, stats []containers.Stats) ([]string, [][]string) {
	header := make([]string, len(cols))
	for i, col := range cols {
		header[i] = col.name
	}
	rows := make([][]string, len(stats))
	for r := range stats {
		row := make([]string, len(cols))
		for i, col := range cols {
			row[i] = col.cell(c, &stats[r])
		}
		rows[r] = row
	}
	return header, rows
}

func visible(cols []column, wide bool) []column {
	return slices.DeleteFunc(slices.Clone(cols), func(c column) bool { return c.wide && !wide })
}

// streamSink prints one record per interval, for pipes and files: never an
// escape code.
type streamSink struct {
	w         io.Writer
	format    output.Format
	tmpl      *output.Template
	term      output.Terminal
	cols      []column
	cells     cells
	frames    int
	csvHeader bool
}

func newStreamSink(o *Options, format output.Format, tmpl *output.Template, term output.Terminal, multiHost bool) *streamSink {
	return &streamSink{w: o.IO.Out, format: format, tmpl: tmpl, term: term,
		cols: visible(columns(multiHost), format == output.Wide), cells: cells{human: term.IsTTY, noTrunc: o.NoTrunc}}
}

func (s *streamSink) frame(fr *frame) error {
	defer func() { s.frames++ }()
	s.cells.history = fr.history
	if s.tmpl != nil {
		recs := make([]any, len(fr.stats))
		for i := range fr.stats {
			recs[i] = Record{Stats: fr.stats[i], noTrunc: s.cells.noTrunc}
		}
		return s.tmpl.Execute(s.w, recs)
	}
	switch s.format {
	case output.JSON:
		b, err := json.MarshalIndent(nonNil(fr.stats), "", "  ")
		if err != nil {
			return err
		}
		_, err = s.w.Write(append(b, '\n'))
		return err
	case output.JSONL:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for i := range fr.stats {
			if err := enc.Encode(&fr.stats[i]); err != nil {
				return err
			}
		}
		_, err := s.w.Write(buf.Bytes())
		return err
	case output.YAML:
		b, err := json.Marshal(nonNil(fr.stats))
		if err != nil {
			return err
		}
		if _, err := io.WriteString(s.w, "---\n"); err != nil {
			return err
		}
		return output.JSONToYAML(s.w, b)
	case output.CSV:
		return s.csv(fr)
	case output.Prom, output.OpenMetrics, output.Protobuf:
		// monctl's own families: nothing a format cannot hold, no warnings.
		_, err := output.WriteExposition(s.w, []output.Source{{Time: fr.time, Families: containers.Families(fr.stats, nil)}}, s.format)
		return err
	case output.Influx:
		_, err := output.WriteInflux(s.w, []output.Source{{Time: fr.time, Families: containers.Families(fr.stats, nil)}})
		return err
	}
	// table and wide
	var buf bytes.Buffer
	if s.frames > 0 {
		buf.WriteByte('\n')
	}
	fmt.Fprintf(&buf, "%s  %d containers\n", fr.time.UTC().Format(time.RFC3339), len(fr.stats))
	header, rows := table(s.cols, &s.cells, fr.stats)
	if err := output.WriteTable(&buf, s.term, header, rows); err != nil {
		return err
	}
	_, err := s.w.Write(buf.Bytes())
	return err
}

// csv writes the header once and a TIME column, so that intervals can be
// told apart in one file.
func (s *streamSink) csv(fr *frame) error {
	w := csv.NewWriter(s.w)
	header, rows := table(s.cols, &cells{noTrunc: s.cells.noTrunc, history: fr.history}, fr.stats)
	if !s.csvHeader {
		s.csvHeader = true
		if err := w.Write(append([]string{"TIME"}, header...)); err != nil {
			return err
		}
	}
	ts := fr.time.UTC().Format(time.RFC3339)
	for _, r := range rows {
		if err := w.Write(append([]string{ts}, r...)); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

func nonNil(stats []containers.Stats) []containers.Stats {
	if stats == nil {
		return []containers.Stats{}
	}
	return stats
}

// Record is one container as --format templates see it: every JSON field
// by its Go name (.Name, .CPUPercent, .MemoryUsed...) and, for docker stats
// templates, .Container, .CPUPerc, .MemUsage, .MemPerc, .NetIO, .BlockIO
// and .PIDs as docker prints them.
type Record struct {
	containers.Stats
	noTrunc bool
}

func (r Record) human() *cells { return &cells{human: true, noTrunc: r.noTrunc} }

// Container is the name, as in docker stats.
func (r Record) Container() string { return r.Name }

// CPUPerc is the CPU % as docker stats prints it.
func (r Record) CPUPerc() string { return r.human().percent(r.CPUPercent) }

// MemUsage is "used / limit" in binary units.
func (r Record) MemUsage() string {
	c := r.human()
	return c.mem(r.MemoryUsed) + " / " + c.mem(r.MemoryLimit)
}

// MemPerc is the memory % as docker stats prints it.
func (r Record) MemPerc() string { return r.human().percent(r.MemoryPercent) }

// NetIO is "received / sent" in decimal units.
func (r Record) NetIO() string { c := r.human(); return c.io(r.NetRx) + " / " + c.io(r.NetTx) }

// BlockIO is "read / written" in decimal units.
func (r Record) BlockIO() string { c := r.human(); return c.io(r.BlkRead) + " / " + c.io(r.BlkWrite) }

// PIDs is the process count.
func (r Record) PIDs() string { return strconv.FormatUint(r.Stats.PIDs, 10) }
