package output

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/pkg/exposition"
)

func TestFormatsOfShapes(t *testing.T) {
	for _, shapes := range []Shape{RowsShape, RecordsShape, FamiliesShape, RowsShape | RecordsShape} {
		for _, f := range formats {
			if got := slices.Contains(FormatsOf(shapes), string(f.format)); got != (f.shape&shapes != 0) {
				t.Errorf("shapes %b: %s listed %v, its shape is %b", shapes, f.format, got, f.shape)
			}
		}
	}
	if got := len(FormatsOf(AllShapes)); got != len(formats) {
		t.Errorf("every shape: %d formats of %d", got, len(formats))
	}
	for _, c := range []struct {
		in, err string
		shapes  Shape
	}{
		{"JSON", "", RecordsShape},
		{"prom", `output format "prom" is not available here (want one of ` + strings.Join(FormatsOf(RowsShape), ", ") + ")", RowsShape},
		{"yml", `unknown output format "yml"`, AllShapes},
	} {
		f, err := ParseFormatOf(c.in, c.shapes)
		if c.err == "" && (err != nil || f != JSON) || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%q: %q, %v; want %s", c.in, f, err, c.err)
		}
	}
}

// TestPrinterNeverFallsBackToATable: a view without the shape a format
// needs is an error, whatever the format.
func TestPrinterNeverFallsBackToATable(t *testing.T) {
	rowsOnly := View{Rows: func(Format) ([]string, [][]string) { return []string{"A"}, [][]string{{"1"}} }}
	for _, f := range append(FormatsOf(AllShapes&^RowsShape), "bogus") {
		var out bytes.Buffer
		p := &Printer{Out: &out, ErrOut: &out, Format: Format(f)}
		if err := p.Print(rowsOnly); err == nil || !strings.Contains(err.Error(), "not available") || out.Len() != 0 {
			t.Errorf("%s of a rows-only view: %v, wrote %q", f, err, out.String())
		}
	}
	tmpl, _ := ParseTemplate("{{.A}}")
	p := &Printer{Out: &bytes.Buffer{}, Template: tmpl}
	if err := p.Print(rowsOnly); err == nil {
		t.Error("--format of a view without records")
	}
}

func TestPrinterStream(t *testing.T) {
	view := func(n int) View {
		return View{
			Title: "interval " + string(rune('0'+n)),
			Rows: func(f Format) ([]string, [][]string) {
				return []string{"NAME", "N"}, [][]string{{"a\x1b[2J", string(rune('0' + n))}}
			},
			Records: func() []any { return []any{map[string]int{"n": n}} },
			Families: func() []Source {
				return []Source{{Time: time.Unix(1, 0), Families: []exposition.Family{{Name: "n", Type: exposition.Gauge, Metrics: []exposition.Metric{{Value: float64(n)}}}}}}
			},
		}
	}
	print2 := func(f Format) string {
		var out bytes.Buffer
		p := &Printer{Out: &out, ErrOut: &out, Format: f, Stream: true}
		for n := range 2 {
			if err := p.Print(view(n + 1)); err != nil {
				t.Fatal(err)
			}
		}
		return out.String()
	}
	if got := print2(Table); got != "interval 1\nNAME       N\na\\x1b[2J   1\n\ninterval 2\nNAME       N\na\\x1b[2J   2\n" {
		t.Errorf("tables: a title each, a blank line between, cells escaped:\n%q", got)
	}
	if got := print2(CSV); got != "name,n\na\x1b[2J,1\na\x1b[2J,2\n" {
		t.Errorf("csv: one header:\n%q", got)
	}
	if got := print2(JSON); got != "[\n  {\n    \"n\": 1\n  }\n]\n[\n  {\n    \"n\": 2\n  }\n]\n" {
		t.Errorf("json: an array per view:\n%q", got)
	}
	if got := print2(JSONL); got != "{\"n\":1}\n{\"n\":2}\n" {
		t.Errorf("jsonl: a line per record:\n%q", got)
	}
	if got := print2(YAML); got != "---\n- n: 1\n---\n- n: 2\n" {
		t.Errorf("yaml: a document per view:\n%q", got)
	}
	if got := print2(OpenMetrics); strings.Count(got, "# EOF") != 2 {
		t.Errorf("openmetrics: an exposition per view:\n%s", got)
	}
}

// TestMarkdown: a GitHub table whose cells cannot start markup or HTML,
// nor reach a terminal raw; --no-headers keeps the header a Markdown
// table needs, and drops the title.
func TestMarkdown(t *testing.T) {
	v := View{
		Title: "2026-12-07  1 target",
		Rows: func(f Format) ([]string, [][]string) {
			if f != Markdown {
				t.Errorf("rows asked for %s", f)
			}
			return []string{"NAME", "VALUE"}, [][]string{{"a|b <script>*x*</script>", "1\x1b[2J"}}
		},
	}
	// The escape Escape writes is itself escaped, so that a renderer
	// shows it as Escape wrote it.
	table := "| NAME | VALUE |\n| --- | --- |\n" + `| a\|b \<script\>\*x\*\</script\> | 1\\x1b\[2J |` + "\n"
	for _, c := range []struct {
		noHeaders bool
		want      string
	}{
		{false, "2026-12-07  1 target\n\n" + table},
		{true, table},
	} {
		var out bytes.Buffer
		p := &Printer{Out: &out, Format: Markdown, NoHeaders: c.noHeaders}
		if err := p.Print(v); err != nil || out.String() != c.want {
			t.Errorf("no headers %v: %v\n%s\nwant\n%s", c.noHeaders, err, out.String(), c.want)
		}
	}
}

// TestCSVName: one header style in every verb's csv, whatever its table
// calls the column.
func TestCSVName(t *testing.T) {
	for in, want := range map[string]string{
		"SCRAPE DURATION": "scrape_duration", "CPU %": "cpu_percent", "MEM USAGE / LIMIT": "mem_usage_limit",
		"NET I/O": "net_io", "NET RX/s / TX/s": "net_rx_per_s_tx_per_s", "CONTAINER ID": "container_id",
		"timestamp_ms": "timestamp_ms", "LAST ERROR": "last_error", "P99": "p99",
	} {
		if got := CSVName(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
