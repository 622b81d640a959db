// Package host implements 'monctl watch host': the machine monctl runs
// on, from its /proc — CPU (busy, I/O wait and stolen time over the
// interval), load, memory and uptime — as a full-screen view on a
// terminal and a record per interval everywhere else.
package host

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/cli/watch/live"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/host"
)

// Options of 'monctl watch host'.
type Options struct {
	IO cmdutil.IOStreams
	live.Flags
	Out cmdutil.OutputFlags

	// proc is where /proc is mounted (tests give their own).
	proc string
}

// NewCmd builds 'monctl watch host'.
func NewCmd(f *cmdutil.Factory) *cobra.Command { return newCmd(f, "/proc") }

// newCmd builds it over the /proc at proc.
func newCmd(f *cmdutil.Factory, proc string) *cobra.Command {
	opts := &Options{IO: f.IO, proc: proc}
	cmd := &cobra.Command{
		Use:     "host",
		Aliases: []string{"hosts", "node"},
		Short:   "Live CPU, load, memory and uptime of this machine",
		Long: `Watch the machine monctl runs on, from /proc: CPU % (busy time of all CPUs
over the interval, 100% when every CPU is busy, as top's summary says it),
I/O wait and steal (time the hypervisor gave other guests), the load
average, memory used (total less available, as free(1) says it) and
uptime.

On a terminal the view is redrawn in place (q quits). Elsewhere one
record is printed per interval: a table with a time line, csv, or JSON
(-o json, jsonl, yaml) with the exact numbers.`,
		Example: `  monctl watch host
  monctl watch host --once -o json
  monctl watch host --interval 10 -o csv >> host.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), opts) },
	}
	opts.Flags.AddFlags(cmd, newTable().SortNames(), "name")
	opts.Out.AddOutputFlags(cmd, "table", output.RowsShape|output.RecordsShape)
	return cmd
}

// Record is the host in one interval, as json, jsonl, yaml and --format
// templates see it. Field names are stable.
type Record struct {
	Time          time.Time `json:"time"`
	Host          string    `json:"host"`
	CPUs          int       `json:"cpus"`
	CPUPercent    float64   `json:"cpu_percent"`
	IOWaitPercent float64   `json:"iowait_percent"`
	StealPercent  float64   `json:"steal_percent"`
	Load1         float64   `json:"load1"`
	Load5         float64   `json:"load5"`
	Load15        float64   `json:"load15"`
	MemoryUsed    uint64    `json:"memory_used_bytes"`
	MemoryTotal   uint64    `json:"memory_total_bytes"`
	MemoryPercent float64   `json:"memory_percent"`
	UptimeSeconds float64   `json:"uptime_seconds"`
}

// sampler reads /proc on the watch's clock; CPU % is over the time
// between two reads.
type sampler struct {
	proc, name string
	prev       *host.CPUTimes
}

// sample reads the host once. The first read only primes the CPU times.
func (s *sampler) sample(context.Context) (Record, error) {
	cpu, err := host.ReadCPU(s.proc)
	if err != nil {
		return Record{}, err
	}
	mem, err := host.ReadMemory(s.proc)
	if err != nil {
		return Record{}, err
	}
	load, err := host.ReadLoad(s.proc)
	if err != nil {
		return Record{}, err
	}
	up, err := host.ReadUptime(s.proc)
	if err != nil {
		return Record{}, err
	}
	r := Record{Time: time.Now().UTC(), Host: s.name, CPUs: cpu.CPUs, Load1: load.Load1, Load5: load.Load5, Load15: load.Load15,
		MemoryTotal: mem.Total, MemoryUsed: mem.Total - min(mem.Available, mem.Total), UptimeSeconds: up}
	if mem.Total > 0 {
		r.MemoryPercent = float64(r.MemoryUsed) / float64(mem.Total) * 100
	}
	if s.prev != nil {
		r.CPUPercent, r.IOWaitPercent, r.StealPercent = percents(*s.prev, cpu)
	}
	s.prev = &cpu
	return r, nil
}

// percents are the busy, I/O wait and stolen shares of the ticks between
// two reads, in percent of all CPUs.
func percents(prev, cur host.CPUTimes) (busy, iowait, steal float64) {
	if cur.Ticks() <= prev.Ticks() {
		return 0, 0, 0
	}
	total := cur.Ticks() - prev.Ticks()
	// A counter that went back (some kernels' iowait does) had no share.
	share := func(a, b uint64) float64 {
		if b < a {
			return 0
		}
		return float64(b-a) / float64(total) * 100
	}
	return share(prev.BusyTicks(), cur.BusyTicks()), share(prev.IOWait, cur.IOWait), share(prev.Steal, cur.Steal)
}

func run(ctx context.Context, o *Options) error {
	if err := o.Flags.Validate(); err != nil {
		return err
	}
	p, err := o.Out.Printer(o.IO, true, Record{})
	if err != nil {
		return err
	}
	name, _ := os.Hostname()
	s := &sampler{proc: o.proc, name: name}
	table := newTable()
	return live.Run(ctx, o.IO, &o.Flags, p, live.Resource[Record, Record]{
		Name: "host", Table: table, Sample: s.sample,
		Screen: func(r Record) *live.Frame[Record] {
			return &live.Frame[Record]{Items: []Record{r}, Head: fmt.Sprintf("%s · %s · load %.2f %.2f %.2f · %s",
				r.Host, output.Count(r.CPUs, "CPU"), r.Load1, r.Load5, r.Load15, r.Time.Local().Format("15:04:05"))}
		},
		Print: func(r Record) error {
			rows := []Record{r}
			err := p.Print(output.View{
				Title:   live.TimeLine(r.Time, r.Host+", "+output.Count(r.CPUs, "CPU")),
				Rows:    table.IntervalRows(r.Time, rows),
				Records: func() []any { return []any{r} },
			})
			if err != nil {
				return fmt.Errorf("writing output: %w", err)
			}
			return nil
		},
	})
}

// newTable is the host's table: a row, its numbers for people, and in
// csv a column per number.
func newTable() *live.Table[Record] {
	type col = live.Column[Record]
	type part = live.Part[Record]
	exact := func(name string, v func(r *Record) float64) part {
		return part{Name: name, Cell: func(r *Record) string { return strconv.FormatFloat(v(r), 'f', -1, 64) }}
	}
	percent := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "%" }
	return &live.Table[Record]{
		Columns: []col{
			{Name: "HOST", Cell: func(r *Record, _ bool) string { return r.Host }},
			{Name: "CPUS", Cell: func(r *Record, _ bool) string { return strconv.Itoa(r.CPUs) }},
			{Name: "CPU %", Cell: func(r *Record, _ bool) string { return percent(r.CPUPercent) },
				Parts: []part{exact("cpu_percent", func(r *Record) float64 { return r.CPUPercent })}},
			{Name: "IOWAIT %", Cell: func(r *Record, _ bool) string { return percent(r.IOWaitPercent) },
				Parts: []part{exact("iowait_percent", func(r *Record) float64 { return r.IOWaitPercent })}},
			{Name: "STEAL %", Cell: func(r *Record, _ bool) string { return percent(r.StealPercent) },
				Parts: []part{exact("steal_percent", func(r *Record) float64 { return r.StealPercent })}},
			{Name: "LOAD AVERAGE", Cell: func(r *Record, _ bool) string { return fmt.Sprintf("%.2f %.2f %.2f", r.Load1, r.Load5, r.Load15) },
				Parts: []part{
					exact("load1", func(r *Record) float64 { return r.Load1 }),
					exact("load5", func(r *Record) float64 { return r.Load5 }),
					exact("load15", func(r *Record) float64 { return r.Load15 }),
				}},
			{Name: "MEM USED / TOTAL", Cell: func(r *Record, _ bool) string {
				return output.Bytes(float64(r.MemoryUsed)) + " / " + output.Bytes(float64(r.MemoryTotal))
			}, Parts: []part{
				exact("memory_used_bytes", func(r *Record) float64 { return float64(r.MemoryUsed) }),
				exact("memory_total_bytes", func(r *Record) float64 { return float64(r.MemoryTotal) }),
			}},
			{Name: "MEM %", Cell: func(r *Record, _ bool) string { return percent(r.MemoryPercent) },
				Parts: []part{exact("memory_percent", func(r *Record) float64 { return r.MemoryPercent })}},
			{Name: "UPTIME", Cell: func(r *Record, _ bool) string { return output.Uptime(r.UptimeSeconds) },
				Parts: []part{exact("uptime_seconds", func(r *Record) float64 { return r.UptimeSeconds })}},
		},
		// One row: a sort has nothing to order, but --sort takes a name.
		SortKeys:  []live.SortKey[Record]{{Name: "name", Key: 'n'}},
		Name:      func(r *Record) string { return r.Host },
		DropOrder: []string{"STEAL %", "IOWAIT %", "UPTIME", "CPUS", "MEM %"},
	}
}
