package targets

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/cli/cmdtest"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
)

// exporter serves a counter that grows by 10 and a histogram that
// observes 0.3 (le 0.5) on every scrape.
func exporter(t *testing.T) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		i := n.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE jobs_total counter\njobs_total{q=\"a\"} %d\n", 10*i)
		fmt.Fprintf(w, "# TYPE lat_seconds histogram\nlat_seconds_bucket{le=\"0.1\"} 0\nlat_seconds_bucket{le=\"0.5\"} %d\nlat_seconds_bucket{le=\"+Inf\"} %d\nlat_seconds_sum %g\nlat_seconds_count %d\n", i, i, 0.3*float64(i), i)
		fmt.Fprintln(w, "# TYPE temp gauge\ntemp 21.5")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// execute runs 'watch targets' from its flags, piped.
func execute(t *testing.T, config []exposition.Target, args ...string) (string, string, int) {
	return executeOn(t, nil, config, args...)
}

// executeOn runs 'watch targets' from its flags on term (nil: piped).
func executeOn(t *testing.T, term *output.Terminal, config []exposition.Target, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{Out: &out, ErrOut: &errOut, Term: term})
	f.Config = &cmdutil.Config{Targets: config}
	err := cmdtest.Execute(NewCmd(f), args...)
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), cmdutil.CodeOf(err)
}

func TestFlags(t *testing.T) {
	srv := exporter(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, cmdutil.ExitUsage, "nothing to scrape"},
		{[]string{"-o", "prom", srv.URL}, cmdutil.ExitUsage, `output format "prom" is not available here`},
		{[]string{"-"}, cmdutil.ExitUsage, "standard input cannot be watched"},
		{[]string{"--match", "{a=", srv.URL}, cmdutil.ExitUsage, `--match "{a="`},
		{[]string{"--sort", "cpu", srv.URL}, cmdutil.ExitUsage, `--sort "cpu"`},
		{[]string{"--interval", "0", srv.URL}, cmdutil.ExitUsage, "too short"},
		{[]string{"--header", "no colon", srv.URL}, cmdutil.ExitUsage, "--header number 1"},
		// -H is --host across monctl (here the engines of --discover docker), never --header.
		{[]string{"-H", "X: y", srv.URL}, cmdutil.ExitUsage, "-H and --context name the engines of --discover docker"},
		{[]string{"--discover", "dns", srv.URL}, cmdutil.ExitUsage, "want docker, file:GLOB, an http(s):// URL or kubernetes:ROLE"},
		{[]string{"--discover", "file:", srv.URL}, cmdutil.ExitUsage, "the glob is missing"},
		{[]string{"--timeout", "-1", srv.URL}, cmdutil.ExitUsage, "--timeout must be positive"},
		{[]string{"--format", "{{.Nope}}", srv.URL}, cmdutil.ExitUsage, "Nope"},
	} {
		_, errOut, code := execute(t, nil, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want exit %d about %s", c.args, code, errOut, c.code, c.want)
		}
	}
}

func TestRecordsRatesAndQuantiles(t *testing.T) {
	srv := exporter(t)
	out, errOut, code := execute(t, nil, "-o", "jsonl", "--count", "2", "--interval", "0.05",
		"--match", "jobs_total", "--match", "lat_seconds", srv.URL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a record per interval:\n%s", out)
	}
	var r Record
	if err := json.Unmarshal([]byte(lines[1]), &r); err != nil {
		t.Fatal(err)
	}
	if !r.Up || r.Error != nil || r.Series != 7 || r.SeriesChange != 0 || r.Bytes == 0 || len(r.Matched) != 2 {
		t.Fatalf("record: %+v", r)
	}
	jobs, lat := r.Matched[0], r.Matched[1]
	if jobs.Name != "jobs_total" || jobs.Labels["q"] != "a" || jobs.Rate == nil || *jobs.Rate <= 0 || jobs.Quantiles != nil {
		t.Errorf("counter: %+v", jobs)
	}
	// One observation of 0.3 in the interval: every quantile lies in
	// (0.1, 0.5], as histogram_quantile would interpolate.
	for q, v := range lat.Quantiles {
		if v <= 0.1 || v > 0.5 {
			t.Errorf("histogram p%s = %v, want in (0.1, 0.5]", q, v)
		}
	}
	if lat.Type != "histogram" || len(lat.Quantiles) != 3 || lat.Rate == nil || *lat.Rate <= 0 {
		t.Errorf("histogram: %+v", lat)
	}
}

func TestTableAndDownTarget(t *testing.T) {
	srv := exporter(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	out, errOut, code := execute(t, []exposition.Target{exposition.NewTarget(srv.URL), exposition.NewTarget(dead.URL)},
		"--once", "--interval", "0.05", "--match", "temp")
	if code != cmdutil.ExitPartial {
		t.Errorf("exit %d, want %d (a target is down): %s", code, cmdutil.ExitPartial, errOut)
	}
	if strings.Count(errOut, "connection refused") != 1 {
		t.Errorf("the outage is told once on stderr: %q", errOut)
	}
	for _, want := range []string{"2 targets, 1 up", "TARGET", "LAST ERROR", "DOWN", "  temp ", "21.5", "connection refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape codes in a piped table:\n%q", out)
	}
}

// TestCSV: csv has the JSON record's names, booleans as booleans, exact
// numbers, and a row per --match series carrying its target, name and
// labels apart.
func TestCSV(t *testing.T) {
	srv := exporter(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	out, errOut, code := execute(t, []exposition.Target{exposition.NewTarget(srv.URL), exposition.NewTarget(dead.URL)},
		"-o", "csv", "--count", "2", "--interval", "0.05", "--match", "jobs_total")
	if code != cmdutil.ExitPartial {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := "time,target,up,scrape_duration_seconds,bytes,series,series_change,name,labels,type,value,rate,p50,p90,p99,error"
	if len(rows) != 7 || strings.Join(rows[0], ",") != want {
		t.Fatalf("want the header and 3 rows per interval:\n%s", out)
	}
	cell := func(row []string, name string) string { return row[slices.Index(rows[0], name)] }
	// The second interval, in the order of the targets' names.
	var up, series, down []string
	for _, r := range rows[4:] {
		switch {
		case cell(r, "name") != "":
			series = r
		case cell(r, "target") == srv.URL:
			up = r
		default:
			down = r
		}
	}
	if up == nil || series == nil || down == nil {
		t.Fatalf("want a row of each kind in the second interval:\n%s", out)
	}
	if cell(up, "target") != srv.URL || cell(up, "up") != "true" || cell(up, "series_change") != "0" || cell(up, "name") != "" {
		t.Errorf("the target's row: %q", up)
	}
	if cell(series, "target") != srv.URL || cell(series, "up") != "" || cell(series, "name") != "jobs_total" ||
		cell(series, "labels") != `q="a"` || cell(series, "type") != "counter" || !strings.HasSuffix(cell(series, "value"), "0") {
		t.Errorf("the series' row: %q", series)
	}
	if rate, err := strconv.ParseFloat(cell(series, "rate"), 64); err != nil || rate <= 0 {
		t.Errorf("the series' rate: %q", cell(series, "rate"))
	}
	if cell(down, "up") != "false" || !strings.Contains(cell(down, "error"), "connection refused") {
		t.Errorf("the down target's row: %q", down)
	}
}

// TestLiveViewOnATerminal: on a terminal (the Factory's TTY override) the
// table takes the screen and gives it back after --count frames.
func TestLiveViewOnATerminal(t *testing.T) {
	srv := exporter(t)
	out, errOut, code := executeOn(t, &output.Terminal{IsTTY: true, Width: 120}, nil, "--count", "2", "--interval", "0.05", "--match", "temp", srv.URL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"\x1b[?1049h", "1 target · 1 up · 7 series", "sort: name ↑", "TARGET", "  temp", "\x1b[?1049l"} {
		if !strings.Contains(out, want) {
			t.Errorf("the screen lacks %q:\n%q", want, out)
		}
	}
	if regexp.MustCompile(`\d{4}-\d\d-\d\dT`).MatchString(out) {
		t.Errorf("the live view has no time lines of piped tables:\n%q", out)
	}
}

// A failing discovery mechanism is a banner of the live view, before the
// targets that are down.
func TestScreenFrameBanners(t *testing.T) {
	fr := &frame{time: time.Now(), discovery: "discovery failing (last good targets kept): h http: 503",
		rows: []Row{{Target: "a", Up: true}, {Target: "b", Error: "b: connection refused"}}}
	got := screenFrame(fr).Banners
	if len(got) != 2 || got[0] != fr.discovery || got[1] != "b: connection refused" {
		t.Errorf("banners %q", got)
	}
	fr.discovery = ""
	if got := screenFrame(fr).Banners; len(got) != 1 {
		t.Errorf("without a failing mechanism: banners %q", got)
	}
}

// TestRulesOverIntervals: --rules see every interval's series, the
// priming scrape's too (so rate() has two samples at --once), and up per
// target; an alert whose for: the intervals outlast fires (exit 4), a
// down target's up is 0 for a check.
func TestRulesOverIntervals(t *testing.T) {
	srv := exporter(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte(`groups:
- name: t
  rules:
  - alert: JobsRunning
    expr: rate(jobs_total[1m]) > 0
    for: 100ms
    annotations: {summary: "jobs at {{ $value | humanize }}/s"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := execute(t, nil, "-o", "json", "--once", "--interval", "0.05", "--rules", rules,
		"--query", "rate(jobs_total[1m]) > 0", "--state-dir", "", srv.URL)
	if code != 0 {
		t.Errorf("exit %d: the alert is pending at --once (its for: is longer than one interval): %s", code, errOut)
	}
	if !strings.Contains(out, `"state":"pending"`) || !strings.Contains(out, `"metric":{"q":"a"}`) {
		t.Errorf("want the rate over the priming scrape and the alert pending:\n%s", out)
	}

	out, errOut, code = execute(t, nil, "--count", "4", "--interval", "0.05", "--rules", rules, "--state-dir", "",
		"--fail-if", "up == 0", srv.URL, dead.URL)
	if code != cmdutil.ExitCheck {
		t.Errorf("exit %d, want %d: %s", code, cmdutil.ExitCheck, errOut)
	}
	for _, want := range []string{`monctl: alert firing: JobsRunning{q="a", target="`, "monctl: check failed: up == 0", `up{target="` + dead.URL} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(out, "LAST ERROR") {
		t.Errorf("answers are printed instead of the table:\n%s", out)
	}
}
