package containers

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/cli/cmdtest"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/cli/watch/live"
	"github.com/monctl/monctl/internal/output"
	ctr "github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/containers/containerstest"
)

func sampleStats() []ctr.Stats {
	started := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	at := started.Add(90 * time.Minute)
	mk := func(name string, cpu float64, mem uint64, rx float64) ctr.Stats {
		return ctr.Stats{Host: "unix:///run/docker.sock",
			Container: ctr.Container{ID: strings.Repeat(name[:1], 64), Name: name, Image: "img:" + name, State: "running", StartedAt: started},
			Time:      at, UptimeSeconds: 5400, CPUPercent: cpu, MemoryUsed: mem, MemoryLimit: 1 << 30, MemoryPercent: float64(mem) / (1 << 30) * 100,
			NetRx: 1500000, NetTx: 2000, NetRxRate: rx, PIDs: 4}
	}
	stopped := ctr.Stats{Host: "unix:///run/docker.sock", Time: at,
		Container: ctr.Container{ID: strings.Repeat("d", 64), Name: "done", Image: "img", State: "exited", Restarts: 3}}
	return []ctr.Stats{mk("web", 12.5, 64<<20, 10), mk("api", 150.25, 32<<20, 500), mk("cache", 0.5, 256<<20, 0), stopped}
}

func TestArrange(t *testing.T) {
	names := func(ss []ctr.Stats) string {
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
		if got := names(newTable(&cells{}, false).Arrange(sampleStats(), c.key, c.reverse, c.top)); got != c.want {
			t.Errorf("sort %s reverse=%v top %d: %s, want %s", c.key, c.reverse, c.top, got, c.want)
		}
	}
}

// TestFlags runs the command from its flags to the engines it would ask,
// with a Factory whose engines are a fake that fails.
func TestFlags(t *testing.T) {
	for _, c := range []struct {
		args  []string
		code  int
		want  string // in the error
		hosts []string
	}{
		{[]string{"--once", "--count", "3"}, cmdutil.ExitUsage, "--once", nil},
		{[]string{"--sort", "size"}, cmdutil.ExitUsage, `--sort "size"`, nil},
		{[]string{"--interval", "1ms"}, cmdutil.ExitUsage, "too short", nil},
		{[]string{"--interval", "0.001"}, cmdutil.ExitUsage, "too short", nil},
		{[]string{"--filter", "colour=red"}, cmdutil.ExitUsage, "unknown key", nil},
		{[]string{"--top", "-1"}, cmdutil.ExitUsage, "--top", nil},
		{[]string{"--concurrency", "0"}, cmdutil.ExitUsage, "--concurrency", nil},
		{[]string{"-o", "yml"}, cmdutil.ExitUsage, `unknown output format "yml"`, nil},
		{[]string{"--format", "{{.Nope}}"}, cmdutil.ExitUsage, "Nope", nil},
		// Valid flags reach the engines: -H is --host, --interval 5 is 5s.
		{[]string{"--no-stream", "web"}, cmdutil.ExitFailure, "engine down", []string{}},
		{[]string{"-H", "tcp://a:2375", "-H", "unix:///b.sock", "--interval", "5"}, cmdutil.ExitFailure, "engine down", []string{"tcp://a:2375", "unix:///b.sock"}},
	} {
		var asked []string
		f := cmdutil.NewFactory(cmdutil.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
		f.Engines = func(_ context.Context, hosts []string, _ string, _ int) ([]*ctr.Engine, []error) {
			asked = append([]string{}, hosts...)
			return nil, []error{errors.New("engine down")}
		}
		err := cmdtest.Execute(NewCmd(f), c.args...)
		code := cmdutil.CodeOf(err)
		if code != c.code || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: exit %d, %v; want exit %d about %s", c.args, code, err, c.code, c.want)
		}
		if c.hosts != nil && !slices.Equal(asked, c.hosts) {
			t.Errorf("%v: asked engines %q, want %q", c.args, asked, c.hosts)
		}
	}
}

// render prints two frames of sampleStats as the verb does when piped.
func render(t *testing.T, format output.Format, tmpl string) string {
	t.Helper()
	var out bytes.Buffer
	o := &Options{IO: cmdutil.IOStreams{Out: &out}, Out: cmdutil.OutputFlags{Output: string(format), Template: tmpl}}
	o.table = newTable(&o.cells, false)
	o.Out.AddOutputFlags(&cobra.Command{}, string(cmp.Or(format, output.Table)), output.AllShapes)
	o.Out.Template = tmpl
	p, err := o.Out.Printer(o.IO, true, Record{})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		fr := &frame{time: time.Date(2026, 11, 21, 11, 30, 0, 0, time.UTC), stats: sampleStats(),
			history: map[string][]float64{"unix:///run/docker.sock/" + strings.Repeat("a", 64): {0, 50, 100, 150.25}},
			engines: []*ctr.Engine{{Host: "unix:///run/docker.sock"}, {Host: "build"}}, sources: []string{"cgroup-v2", "api"}}
		if err := p.Print(o.view(fr, format == output.Wide)); err != nil {
			t.Fatal(err)
		}
	}
	return out.String()
}

func TestStreamFormats(t *testing.T) {
	table := render(t, output.Table, "")
	if strings.Contains(table, "\x1b") || strings.Count(table, "2026-11-21T11:30:00Z  4 containers") != 2 {
		t.Errorf("a pipe gets plain tables, each after a time line:\n%s", table)
	}
	// Tables are for people, piped or not: docker's units and durations.
	for _, want := range []string{"150.25%", "32MiB / 1GiB", "1.5MB / 2kB", "Up 2 hours", "exited", "--"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	human := render(t, output.Wide, "")
	for _, want := range []string{"4 containers · stats from unix:///run/docker.sock: cgroup-v2, build: api", "150.25%", "32MiB / 1GiB", "1.5MB / 2kB", "img:api", "▁▃▆█", "500B/s / 0B/s"} {
		if !strings.Contains(human, want) {
			t.Errorf("wide table for people lacks %q:\n%s", want, human)
		}
	}

	var arrays int
	dec := json.NewDecoder(strings.NewReader(render(t, output.JSON, "")))
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
	if lines := strings.Count(render(t, output.JSONL, ""), "\n"); lines != 8 {
		t.Errorf("jsonl: %d lines, want one per container per interval (8)", lines)
	}
	csv := render(t, output.CSV, "")
	if strings.Count(csv, "time,container_id,name,state,cpu_percent,memory_used_bytes,memory_limit_bytes,memory_percent,network_rx_bytes,") != 1 || strings.Count(csv, "\n") != 9 {
		t.Errorf("csv: one header (snake case, a column per number), then a row per container per interval:\n%s", csv)
	}
	// A stopped container has no numbers: empty cells, not docker's "--".
	if !strings.Contains(csv, ",done,exited,,,,,,,,,,3,\n") {
		t.Errorf("csv: the stopped container's row:\n%s", csv)
	}
	// Exact numbers for programs: bytes and seconds, no units.
	for _, want := range []string{"150.25", "33554432", "1500000", "5400"} {
		if !strings.Contains(csv, want) {
			t.Errorf("csv lacks %q:\n%s", want, csv)
		}
	}
	if yaml := render(t, output.YAML, ""); strings.Count(yaml, "---\n") != 2 || !strings.Contains(yaml, "cpu_percent: 150.25") {
		t.Errorf("yaml:\n%s", yaml)
	}
	prom := render(t, output.Prom, "")
	if !strings.Contains(prom, `monctl_container_pids{host="unix:///run/docker.sock",id="`) || !strings.Contains(prom, "# TYPE monctl_container_cpu_usage_seconds_total counter") {
		t.Errorf("prom:\n%s", prom)
	}
	if om := render(t, output.OpenMetrics, ""); strings.Count(om, "# EOF") != 2 {
		t.Errorf("openmetrics: want an # EOF per interval:\n%s", om)
	}
	if influx := render(t, output.Influx, ""); !strings.Contains(influx, "monctl_container_pids,host=unix:///run/docker.sock,id=") {
		t.Errorf("influx:\n%s", influx)
	}
	tmpl := render(t, "", `table {{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.NetIO}}\t{{.PIDs}}`)
	if !strings.Contains(tmpl, "NAME") || !strings.Contains(tmpl, "150.25%") || !strings.Contains(tmpl, "32MiB / 1GiB") || !strings.Contains(tmpl, "1.5MB / 2kB") {
		t.Errorf("docker stats templates:\n%s", tmpl)
	}
}

func TestLiveViewFitsTheTerminal(t *testing.T) {
	o := &Options{Flags: live.Flags{Interval: time.Second, Sort: "cpu"}}
	o.table = newTable(&o.cells, false)
	v := &live.View[ctr.Stats]{Resource: "containers", Table: o.table, Flags: &o.Flags}
	if l := v.Lines(80); len(l) != 1 || !strings.Contains(l[0].Text, "first samples") {
		t.Errorf("before the first frame: %v", l)
	}
	eng := &ctr.Engine{Host: "unix:///run/docker.sock", Product: ctr.Docker, ServerVersion: "29.0.1", APIVersion: "1.51"}
	v.Show(o.screenFrame(&frame{time: time.Now(), stats: sampleStats(), engines: []*ctr.Engine{eng}, sources: []string{"cgroup-v1"},
		down: []*ctr.EngineError{{Host: "tcp://b:2376", Err: context.DeadlineExceeded}}}))
	for _, width := range []int{200, 100, 60} {
		lines := v.Lines(width)
		text := ""
		for _, l := range lines {
			text += l.Text + "\n"
		}
		if width == 200 && !strings.Contains(lines[0].Text, "(Docker 29.0.1, API 1.51, stats from cgroup-v1)") {
			t.Errorf("the head does not say where the numbers come from: %s", lines[0].Text)
		}
		if !strings.Contains(lines[0].Text, "4 containers") || !strings.Contains(lines[0].Text, "CPU 163.2%") || !strings.Contains(text, "tcp://b:2376 is not answering") {
			t.Errorf("width %d: header and engine state missing:\n%s", width, text)
		}
		if !strings.Contains(text, "sort: cpu ↓ · keys: c cpu, m mem, i net, b block, p pids, n name, u uptime, r reverse, q quit") {
			t.Errorf("width %d: the sort line:\n%s", width, text)
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
	s := newSampler(nil)
	st := sampleStats()[:1]
	var first []float64
	for i := range 15 {
		st[0].CPUPercent = float64(i)
		s.remember(st)
		if i == 0 {
			first = s.history.Get("unix:///run/docker.sock/" + st[0].ID)
		}
	}
	h := s.history.Get("unix:///run/docker.sock/" + st[0].ID)
	if len(h) != historyLen || h[0] != 5 || h[9] != 14 || first[0] != 0 {
		t.Errorf("history %v (first %v): want 5..14, and earlier slices left alone", h, first)
	}
	s.remember(nil)
	if len(s.history.Snapshot()) != 0 {
		t.Error("a container that is gone keeps its history")
	}
}

// TestAgainstAnEngine runs the verb against containerstest's engine,
// whose numbers are fixed: what it prints is exactly what the engine's
// stats say, through docker stats' formulas, and a check over them fires.
func TestAgainstAnEngine(t *testing.T) {
	eng := containerstest.NewEngine(
		containerstest.Container{ID: strings.Repeat("a", 64), Name: "web", Image: "nginx", CPUPercent: 25, MemoryUsed: 64 << 20, MemoryLimit: 256 << 20, NetRx: 1000, PIDs: 3,
			Labels: map[string]string{"com.docker.compose.project": "shop"}},
		containerstest.Container{ID: strings.Repeat("b", 64), Name: "db", Image: "postgres", CPUPercent: 150, MemoryUsed: 128 << 20, MemoryLimit: 256 << 20, PIDs: 9,
			Labels: map[string]string{"com.docker.compose.project": "shop"}},
		containerstest.Container{ID: strings.Repeat("c", 64), Name: "old", Image: "busybox", State: "exited"},
	)
	defer eng.Close()
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		err := cmdtest.Execute(NewCmd(cmdutil.NewFactory(cmdutil.IOStreams{Out: &out, ErrOut: &errOut})), append([]string{"-H", eng.Host, "--interval", "20ms"}, args...)...)
		return out.String(), errOut.String() + fmt.Sprint(err), cmdutil.CodeOf(err)
	}
	t.Run("records", func(t *testing.T) {
		out, errOut, code := run("--count", "2", "-o", "jsonl", "--all")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		got := map[string]Record{}
		for line := range strings.Lines(out) {
			var r Record
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			got[r.Name] = r
		}
		web, db, old := got["web"], got["db"], got["old"]
		if web.CPUPercent != 25 || web.MemoryUsed != 64<<20 || web.MemoryPercent != 25 || web.NetRx != 1000 || web.Stats.PIDs != 3 || web.Image != "nginx" {
			t.Errorf("web: %+v", web.Stats)
		}
		if db.CPUPercent != 150 || db.Host != eng.Host {
			t.Errorf("db: %+v", db.Stats)
		}
		if old.State != "exited" || old.CPUPercent != 0 {
			t.Errorf("the stopped container: %+v", old.Stats)
		}
	})
	t.Run("a check fires", func(t *testing.T) {
		_, errOut, code := run("--once", "--fail-if", "monctl_container_memory_working_set_bytes > 100e6")
		if code != cmdutil.ExitCheck || !strings.Contains(errOut, `name="db"`) || strings.Contains(errOut, `name="web"`) {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
	t.Run("container labels in queries", func(t *testing.T) {
		out, errOut, code := run("--once", "--query", "sum by (compose_project) (monctl_container_pids)", "-o", "json")
		if code != 0 || !strings.Contains(out, `{"compose_project":"shop"}`) || !strings.Contains(out, `"12"`) {
			t.Errorf("exit %d: %s\n%s", code, out, errOut)
		}
	})
	t.Run("grouped", func(t *testing.T) {
		out, errOut, code := run("--once", "--group-by", "compose", "--all", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var groups []GroupRecord
		if err := json.Unmarshal([]byte(out), &groups); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		// By name: "(no compose project)" sorts before "shop".
		if len(groups) != 2 || !groups[0].Missing || groups[1].Value != "shop" {
			t.Fatalf("groups %s; want the containers of no project, then shop", out)
		}
		shop := groups[1]
		if shop.Containers != 2 || shop.Running != 2 || shop.Totals.CPUPercent != 175 || shop.Totals.MemoryUsed != 192<<20 || shop.Totals.PIDs != 12 || len(shop.Members) != 2 {
			t.Errorf("shop: %+v", shop.Group)
		}
		table, errOut, code := run("--once", "--group-by", "compose", "--all", "--sort", "cpu")
		lines := strings.Split(strings.TrimSpace(table), "\n")
		if code != 0 || len(lines) != 7 || !strings.Contains(lines[0], "3 containers in 2 groups") ||
			!strings.HasPrefix(lines[2], "2 containers") || !strings.Contains(lines[2], "shop") || !strings.Contains(lines[2], "175.00%") || !strings.Contains(lines[2], "2 running") ||
			!strings.Contains(lines[3], "db") || !strings.Contains(lines[4], "web") || !strings.Contains(lines[5], "(no compose project)") || !strings.Contains(lines[5], "0 of 1 running") || !strings.Contains(lines[6], "old") {
			t.Errorf("exit %d; the table: a group's row, then its containers by CPU:\n%s\n%s", code, table, errOut)
		}
		if _, errOut, code := run("--once", "--group-by", "compose", "--query", "up"); code != cmdutil.ExitUsage || !strings.Contains(errOut, "group in the query") {
			t.Errorf("--group-by with --query: exit %d, %s", code, errOut)
		}
	})
	t.Run("IDs only", func(t *testing.T) {
		out, errOut, code := run("--once", "-q", "--sort", "cpu", "--all")
		if want := "bbbbbbbbbbbb\naaaaaaaaaaaa\ncccccccccccc\n"; code != 0 || out != want {
			t.Errorf("exit %d, %q, want %q: %s", code, out, want, errOut)
		}
		if _, errOut, code := run("--once", "-q", "-o", "json"); code != cmdutil.ExitUsage || !strings.Contains(errOut, "quiet") {
			t.Errorf("-q with -o: exit %d, %s", code, errOut)
		}
	})
	t.Run("the engine goes away", func(t *testing.T) {
		gone := containerstest.NewEngine(containerstest.Container{ID: strings.Repeat("d", 64), Name: "x", CPUPercent: 1})
		var out, errOut bytes.Buffer
		cmd := NewCmd(cmdutil.NewFactory(cmdutil.IOStreams{Out: &out, ErrOut: &errOut}))
		time.AfterFunc(300*time.Millisecond, gone.Close)
		err := cmdtest.Execute(cmd, "-H", gone.Host, "--interval", "100ms", "--count", "6", "-o", "jsonl")
		if code := cmdutil.CodeOf(err); code != cmdutil.ExitPartial || !strings.Contains(errOut.String(), "retrying") || !strings.Contains(out.String(), `"name":"x"`) {
			t.Errorf("exit %d (%v): %s\n%s", code, err, errOut.String(), out.String())
		}
	})
}
