package live

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
)

type item struct {
	name string
	n    float64
	kids []item
}

func testTable() *Table[item] {
	return &Table[item]{
		Columns: []Column[item]{
			{Name: "NAME", Cell: func(it *item, _ bool) string { return it.name }},
			{Name: "N", Cell: func(it *item, human bool) string {
				if human {
					return strconv.FormatFloat(it.n, 'f', 1, 64) + " units"
				}
				return strconv.FormatFloat(it.n, 'f', -1, 64)
			}},
			{Name: "EXTRA", Wide: true, Cell: func(*item, bool) string { return strings.Repeat("x", 40) }},
		},
		SortKeys: []SortKey[item]{
			{Name: "name", Key: 'n'},
			{Name: "n", Key: 'x', Value: func(it *item) float64 { return it.n }},
		},
		Name:      func(it *item) string { return it.name },
		Children:  func(it *item) []item { return it.kids },
		DropOrder: []string{"EXTRA", "N"},
	}
}

func names(items []item) string {
	var out []string
	for _, it := range items {
		out = append(out, it.name)
	}
	return strings.Join(out, ",")
}

func TestArrange(t *testing.T) {
	tb := testTable()
	items := []item{{name: "b", n: 1}, {name: "a", n: 1}, {name: "c", n: 5}}
	for _, c := range []struct {
		key     string
		reverse bool
		top     int
		want    string
	}{
		{"name", false, 0, "a,b,c"},
		{"n", false, 0, "c,a,b"}, // a tie goes by name
		{"n", true, 0, "b,a,c"},
		{"n", false, 2, "c,a"},
	} {
		if got := names(tb.Arrange(slices.Clone(items), c.key, c.reverse, c.top)); got != c.want {
			t.Errorf("%s reverse=%v top=%d: %s, want %s", c.key, c.reverse, c.top, got, c.want)
		}
	}
}

func TestRowsWithChildren(t *testing.T) {
	tb := testTable()
	items := []item{{name: "p", n: 2, kids: []item{{name: "  k1"}, {name: "  k2"}}}, {name: "q"}}
	header, rows := tb.Rows(tb.Visible(false), items, true)
	if !slices.Equal(header, []string{"NAME", "N"}) {
		t.Errorf("header %v: wide columns only with wide", header)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r[0])
	}
	if strings.Join(got, "|") != "p|  k1|  k2|q" || rows[0][1] != "2.0 units" {
		t.Errorf("rows %q: children follow their parent; cells human", rows)
	}
	if _, rows := tb.Rows(tb.Visible(true), items, false); len(rows[0]) != 3 || rows[0][1] != "2" {
		t.Errorf("wide, exact: %q", rows[0])
	}
}

// A table whose children start hidden shows only its items until e.
func TestViewCollapsed(t *testing.T) {
	tb := testTable()
	tb.Collapsed = true
	v := &View[item]{Resource: "things", Table: tb, Flags: &Flags{Sort: "n", Interval: time.Second}}
	v.Show(&Frame[item]{Head: "h", Items: []item{{name: "p", n: 2, kids: []item{{name: "  kid"}}}}})
	text := func() string {
		var out []string
		for _, l := range v.Lines(100) {
			out = append(out, l.Text)
		}
		return strings.Join(out, "\n")
	}
	if got := text(); strings.Contains(got, "kid") || !strings.Contains(got, "e expand, q quit") {
		t.Errorf("collapsed: the child shows, or the keys do not say e expands:\n%s", got)
	}
	v.collapsed = false // what the e key does
	if got := text(); !strings.Contains(got, "  kid") || !strings.Contains(got, "e collapse, q quit") {
		t.Errorf("expanded: no child, or the keys do not say e collapses:\n%s", got)
	}
}

func TestViewLines(t *testing.T) {
	tb := testTable()
	v := &View[item]{Resource: "things", Table: tb, Flags: &Flags{Sort: "n", Interval: 2 * time.Second}, Wide: true}
	if l := v.Lines(80); len(l) != 1 || l[0].Text != "monctl watch things: taking the first samples…" {
		t.Errorf("before the first frame: %q", l)
	}
	v.Show(&Frame[item]{Head: "3 things", Banners: []string{"source x is down"}, Items: []item{{name: "a", n: 1}, {name: "b", n: 9}}})
	text := func(width int) []string {
		var out []string
		for _, l := range v.Lines(width) {
			out = append(out, l.Text)
		}
		return out
	}
	wide := text(100)
	if wide[0] != "3 things" || wide[1] != "source x is down — retrying every 2s" || wide[2] != "sort: n ↓ · keys: n name, x n, r reverse, e collapse, q quit" {
		t.Errorf("head, banner and sort line:\n%s", strings.Join(wide, "\n"))
	}
	if !strings.HasPrefix(wide[4], "NAME") || !strings.Contains(wide[4], "EXTRA") || !strings.HasPrefix(wide[5], "b") {
		t.Errorf("table, sorted by n:\n%s", strings.Join(wide, "\n"))
	}
	// Narrower: EXTRA gives way first, then N; NAME always stays.
	for width, want := range map[int][]string{30: {"NAME", "N"}, 8: {"NAME"}} {
		lines := text(width)
		if got := strings.Fields(lines[4]); !slices.Equal(got, want) {
			t.Errorf("width %d: columns %q, want %q", width, got, want)
		}
	}
}

func TestLoopPrimesThenEmitsCount(t *testing.T) {
	samples := 0
	var emitted []int
	err := Loop(context.Background(), 10*time.Millisecond, 3, func(context.Context) (int, error) { samples++; return samples, nil },
		func(n int) error { emitted = append(emitted, n); return nil })
	if err != nil || samples != 4 || !slices.Equal(emitted, []int{2, 3, 4}) {
		t.Errorf("err %v, %d samples, emitted %v: want a priming sample, then 3 emitted", err, samples, emitted)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Loop(ctx, time.Hour, 0, func(context.Context) (int, error) { return 0, nil }, func(int) error { return nil }); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}

// TestRun: a resource is its table, sampler, printer and outcome; Run
// turns what goes wrong into the documented exit codes.
func TestRun(t *testing.T) {
	table := &Table[int]{Columns: []Column[int]{{Name: "N", Cell: func(n *int, _ bool) string { return strconv.Itoa(*n) }}},
		SortKeys: []SortKey[int]{{Name: "n", Key: 'n'}}, Name: func(n *int) string { return strconv.Itoa(*n) }}
	broken := errors.New("the source broke")
	for _, c := range []struct {
		name   string
		sample func(n int) (int, error)
		print  func(n int) error
		done   error
		code   int
	}{
		{"ran its course", func(n int) (int, error) { return n, nil }, func(int) error { return nil }, nil, cmdutil.ExitOK},
		{"partial", func(n int) (int, error) { return n, nil }, func(int) error { return nil }, cmdutil.Partial, cmdutil.ExitPartial},
		{"a sample fails", func(n int) (int, error) { return 0, broken }, func(int) error { return nil }, nil, cmdutil.ExitFailure},
		{"printing fails", func(n int) (int, error) { return n, nil }, func(int) error { return broken }, nil, cmdutil.ExitFailure},
		{"the resource's own code", func(n int) (int, error) { return n, nil }, func(int) error { return cmdutil.Silent }, nil, cmdutil.ExitFailure},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &Flags{Interval: 10 * time.Millisecond, Count: 2, Sort: "n", sortNames: []string{"n"}}
			var out bytes.Buffer
			p := &output.Printer{Out: &out, Format: output.Table}
			n, printed := 0, 0
			err := Run(context.Background(), cmdutil.IOStreams{Out: &out}, f, p, Resource[int, int]{
				Name: "numbers", Table: table,
				Sample: func(context.Context) (int, error) { n++; return c.sample(n) },
				Screen: func(n int) *Frame[int] { t.Error("a pipe took the screen"); return nil },
				Print:  func(n int) error { printed++; return c.print(n) },
				Done:   func() error { return c.done },
			})
			if code := cmdutil.CodeOf(err); code != c.code {
				t.Errorf("exit %d (%v), want %d", code, err, c.code)
			}
			if c.code == cmdutil.ExitOK && printed != 2 {
				t.Errorf("printed %d samples, want --count 2", printed)
			}
		})
	}
}

func TestSparklineAndHistory(t *testing.T) {
	if s := Sparkline([]float64{0, 50, 100, 200}, 100); s != "▁▂▄█" {
		t.Errorf("scaled to the highest when above top: %q", s)
	}
	if s := Sparkline([]float64{0, 0}, 0); s != "▁▁" {
		t.Errorf("all zero: %q", s)
	}
	h := NewHistory(3)
	for i := range 5 {
		h.Add("k", float64(i))
	}
	old := h.Get("k")
	h.Add("k", 9)
	if !slices.Equal(old, []float64{2, 3, 4}) || !slices.Equal(h.Get("k"), []float64{3, 4, 9}) {
		t.Errorf("history %v then %v: the last 3, earlier slices left alone", old, h.Get("k"))
	}
	h.Keep(func(string) bool { return false })
	if len(h.Snapshot()) != 0 {
		t.Error("Keep did not forget")
	}
}

// TestSnapshotInterval: one snapshot takes its rates over the verb's
// snapshot interval, unless --interval was given; a stream keeps the
// interval.
func TestSnapshotInterval(t *testing.T) {
	for _, c := range []struct {
		args []string
		want time.Duration
	}{
		{[]string{"--once"}, 500 * time.Millisecond},
		{[]string{"--count", "1"}, 500 * time.Millisecond},
		{[]string{"--once", "--interval", "2"}, 2 * time.Second},
		{[]string{"--count", "3"}, time.Second},
		{nil, time.Second},
	} {
		f := &Flags{SnapshotInterval: 500 * time.Millisecond}
		cmd := &cobra.Command{}
		f.AddFlags(cmd, []string{"name"}, "name")
		if err := cmd.ParseFlags(c.args); err != nil {
			t.Fatal(err)
		}
		if err := f.Validate(); err != nil || f.Interval != c.want {
			t.Errorf("%v: interval %v (%v), want %v", c.args, f.Interval, err, c.want)
		}
	}
}
