package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/containers"
)

func sampleStats() []containers.Stats {
	started := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	at := started.Add(90 * time.Minute)
	mk := func(name string, cpu float64, mem uint64, rx float64) containers.Stats {
		return containers.Stats{Host: "unix:///run/docker.sock",
			Container: containers.Container{ID: strings.Repeat(name[:1], 64), Name: name, Image: "img:" + name, State: "running", StartedAt: started},
			Time:      at, UptimeSeconds: 5400, CPUPercent: cpu, MemoryUsed: mem, MemoryLimit: 1 << 30, MemoryPercent: float64(mem) / (1 << 30) * 100,
			NetRx: 1500000, NetTx: 2000, NetRxRate: rx, PIDs: 4}
	}
	stopped := containers.Stats{Host: "unix:///run/docker.sock", Time: at,
		Container: containers.Container{ID: strings.Repeat("d", 64), Name: "done", Image: "img", State: "exited", Restarts: 3}}
	return []containers.Stats{mk("web", 12.5, 64<<20, 10), mk("api", 150.25, 32<<20, 500), mk("cache", 0.5, 256<<20, 0), stopped}
}

func TestArrange(t *testing.T) {
	names := func(ss []containers.Stats) string {
		var n []string
		for _, s := range ss {
			n = append(n, s.Name)
		}
		return strings.Join(n, ",")
	}
	for _, c := range []struct {
		key     string
		reverse bool
		top     int
		want    string
	}{
		{"name", false, 0, "api,cache,done,web"},
		{"cpu", false, 0, "api,web,cache,done"},
		{"mem", false, 2, "cache,web"},
		{"net", false, 0, "api,web,cache,done"},
		{"cpu", true, 0, "done,cache,web,api"},
		{"uptime", false, 1, "api"}, // a tie: by name
	} {
		if got := names(arrange(sampleStats(), c.key, c.reverse, c.top)); got != c.want {
			t.Errorf("sort %s reverse=%v top %d: %s, want %s", c.key, c.reverse, c.top, got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Once: true, Count: 3, Sort: "name", Interval: time.Second, Concurrency: 1, Timeout: time.Second}, "--once"},
		{Options{Sort: "size", Interval: time.Second, Concurrency: 1, Timeout: time.Second}, `--sort "size"`},
		{Options{Sort: "name", Interval: time.Millisecond, Concurrency: 1, Timeout: time.Second}, "too short"},
		{Options{Sort: "name", Interval: time.Second, Concurrency: 1, Timeout: time.Second, Filters: []string{"colour=red"}}, "unknown key"},
		{Options{Sort: "name", Interval: time.Second, Concurrency: 1, Timeout: time.Second, Top: -1}, "--top"},
	} {
		err := c.o.validate()
		if cmdutil.CodeOf(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want a usage error about %s", c.o, err, c.want)
		}
	}
	o := Options{NoStream: true, Sort: "cpu", Interval: time.Second, Concurrency: 1, Timeout: time.Second, Refs: []string{"web"}}
	if err := o.validate(); err != nil || o.Count != 1 || len(o.filter.Refs) != 1 {
		t.Errorf("--no-stream: %v, count %d, refs %v", err, o.Count, o.filter.Refs)
	}
}

// render runs the stream sink over two frames of sampleStats.
func render(t *testing.T, format output.Format, tmpl string, term output.Terminal) string {
	t.Helper()
	var out bytes.Buffer
	o := &Options{IO: cmdutil.IOStreams{Out: &out}}
	var tp *output.Template
	if tmpl != "" {
		var err error
		if tp, err = output.ParseTemplate(tmpl); err != nil {
			t.Fatal(err)
		}
	}
	sink := newStreamSink(o, format, tp, term, false)
	for range 2 {
		fr := &frame{time: time.Date(2026, 11, 21, 11, 30, 0, 0, time.UTC), stats: sampleStats(),
			history: map[string][]float64{"unix:///run/docker.sock/" + strings.Repeat("a", 64): {0, 50, 100, 150.25}}}
		if err := sink.frame(fr); err != nil {
			t.Fatal(err)
		}
	}
	return out.String()
}

func TestStreamFormats(t *testing.T) {
	table := render(t, output.Table, "", output.Terminal{})
	if strings.Contains(table, "\x1b") || strings.Count(table, "2026-11-21T11:30:00Z  4 containers") != 2 {
		t.Errorf("a pipe gets plain tables, each after a time line:\n%s", table)
	}
	// Raw numbers for programs: bytes and seconds, no units.
	for _, want := range []string{"150.25", "33554432 / 1073741824", "1500000 / 2000", "5400", "exited", "--"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	human := render(t, output.Wide, "", output.Terminal{IsTTY: true, Width: 300})
	for _, want := range []string{"150.25%", "32MiB / 1GiB", "1.5MB / 2kB", "1h30m", "img:api", "▁▃▆█", "500B/s / 0B/s"} {
		if !strings.Contains(human, want) {
			t.Errorf("wide table for people lacks %q:\n%s", want, human)
		}
	}

	var arrays int
	dec := json.NewDecoder(strings.NewReader(render(t, output.JSON, "", output.Terminal{})))
	for dec.More() {
		var recs []map[string]any
		if err := dec.Decode(&recs); err != nil {
			t.Fatal(err)
		}
		arrays++
		if len(recs) != 4 || recs[0]["cpu_percent"] == nil || recs[0]["memory_used_bytes"] == nil || recs[0]["host"] == nil {
			t.Errorf("json record: %v", recs[0])
		}
	}
	if arrays != 2 {
		t.Errorf("json: %d arrays for 2 intervals", arrays)
	}
	if lines := strings.Count(render(t, output.JSONL, "", output.Terminal{}), "\n"); lines != 8 {
		t.Errorf("jsonl: %d lines, want one per container per interval (8)", lines)
	}
	csv := render(t, output.CSV, "", output.Terminal{})
	if strings.Count(csv, "TIME,CONTAINER ID") != 1 || strings.Count(csv, "\n") != 9 {
		t.Errorf("csv: one header, then a row per container per interval:\n%s", csv)
	}
	if yaml := render(t, output.YAML, "", output.Terminal{}); strings.Count(yaml, "---\n") != 2 || !strings.Contains(yaml, "cpu_percent: 150.25") {
		t.Errorf("yaml:\n%s", yaml)
	}
	prom := render(t, output.Prom, "", output.Terminal{})
	if !strings.Contains(prom, `monctl_container_pids{host="unix:///run/docker.sock",id="`) || !strings.Contains(prom, "# TYPE monctl_container_cpu_usage_seconds_total counter") {
		t.Errorf("prom:\n%s", prom)
	}
	if om := render(t, output.OpenMetrics, "", output.Terminal{}); strings.Count(om, "# EOF") != 2 {
		t.Errorf("openmetrics: want an # EOF per interval:\n%s", om)
	}
	if influx := render(t, output.Influx, "", output.Terminal{}); !strings.Contains(influx, "monctl_container_pids,host=unix:///run/docker.sock,id=") {
		t.Errorf("influx:\n%s", influx)
	}
	tmpl := render(t, "", `table {{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.NetIO}}\t{{.PIDs}}`, output.Terminal{})
	if !strings.Contains(tmpl, "NAME") || !strings.Contains(tmpl, "150.25%") || !strings.Contains(tmpl, "32MiB / 1GiB") || !strings.Contains(tmpl, "1.5MB / 2kB") {
		t.Errorf("docker stats templates:\n%s", tmpl)
	}
}

func TestLiveViewFitsTheTerminal(t *testing.T) {
	v := &liveView{opts: &Options{Interval: time.Second}, sortKey: "cpu"}
	if l := v.lines(80); len(l) != 1 || !strings.Contains(l[0].Text, "first samples") {
		t.Errorf("before the first frame: %v", l)
	}
	eng := &containers.Engine{Host: "unix:///run/docker.sock", ServerVersion: "29.0.1", APIVersion: "1.51"}
	v.last = &frame{time: time.Now(), stats: sampleStats(), engines: []*containers.Engine{eng},
		down: []*containers.EngineError{{Host: "tcp://b:2376", Err: context.DeadlineExceeded}}}
	for _, width := range []int{200, 100, 60} {
		lines := v.lines(width)
		text := ""
		for _, l := range lines {
			text += l.Text + "\n"
		}
		if !strings.Contains(lines[0].Text, "4 containers") || !strings.Contains(lines[0].Text, "CPU 163.2%") || !strings.Contains(text, "tcp://b:2376 is not answering") {
			t.Errorf("width %d: header and engine state missing:\n%s", width, text)
		}
		for _, l := range lines[3:] { // the table
			if output.Width(l.Text) > width {
				t.Errorf("width %d: line of %d: %q", width, output.Width(l.Text), l.Text)
			}
		}
		if !strings.Contains(text, "NAME") || strings.Index(text, "api") > strings.Index(text, "web ") {
			t.Errorf("width %d: want NAME and api (most CPU) first:\n%s", width, text)
		}
	}
}

func TestHistoryKeepsTheLastTen(t *testing.T) {
	s := &sampler{history: map[string][]float64{}}
	st := sampleStats()[:1]
	var first []float64
	for i := range 15 {
		st[0].CPUPercent = float64(i)
		s.remember(st)
		if i == 0 {
			first = s.history["unix:///run/docker.sock/"+st[0].ID]
		}
	}
	h := s.history["unix:///run/docker.sock/"+st[0].ID]
	if len(h) != historyLen || h[0] != 5 || h[9] != 14 || first[0] != 0 {
		t.Errorf("history %v (first %v): want 5..14, and earlier slices left alone", h, first)
	}
	s.remember(nil)
	if len(s.history) != 0 {
		t.Error("a container that is gone keeps its history")
	}
}
