// Package live is what every 'monctl watch' resource shares: the columns
// and sort keys of its table, the flags of a watch (interval, count, sort,
// top), the sampling clock, the full-screen view with its keys and Run,
// which runs a watch. A resource (watch/containers, watch/targets,
// watch/host) says what its rows are and how they are sampled; this
// package says how a watch looks and behaves.
package live

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/monctl/monctl/internal/output"
)

// Column is one column of a resource's table.
type Column[T any] struct {
	Name string
	// Wide columns show only with -o wide (and in the live view of it).
	Wide bool
	// Cell is the text of the column for an item: in units for people
	// when human, exact for csv.
	Cell func(it *T, human bool) string
	// Parts, when not nil, stand for the column in csv: a column each,
	// with its exact value (a table's "MEM USAGE / LIMIT" is two
	// numbers); empty, the column is not in csv (a sparkline).
	Parts []Part[T]
}

// Part is one csv column of a Column that shows several values.
type Part[T any] struct {
	// Name is the csv header, as the JSON record names the value.
	Name string
	Cell func(it *T) string
}

// SortKey is one --sort value and its key in the live view.
type SortKey[T any] struct {
	Name string
	Key  byte
	// Value sorts numbers biggest first; nil sorts by the item's name,
	// A to Z.
	Value func(it *T) float64
}

// Table is what a resource's table is made of.
type Table[T any] struct {
	Columns  []Column[T]
	SortKeys []SortKey[T]
	// Name is an item's name, the sort of last resort.
	Name func(it *T) string
	// Children are rows shown under an item, in their own order (the
	// series of a target, the containers of a group); nil: none. The
	// live view's e key shows or hides them.
	Children func(it *T) []T
	// Collapsed says the live view starts with the children hidden.
	Collapsed bool
	// DropOrder is which columns give way first when the terminal is
	// narrow.
	DropOrder []string
}

// SortNames lists the --sort values.
func (t *Table[T]) SortNames() []string {
	names := make([]string, len(t.SortKeys))
	for i, k := range t.SortKeys {
		names[i] = k.Name
	}
	return names
}

// sortKey finds a --sort value.
func (t *Table[T]) sortKey(name string) (SortKey[T], bool) {
	i := slices.IndexFunc(t.SortKeys, func(k SortKey[T]) bool { return k.Name == name })
	if i < 0 {
		return SortKey[T]{}, false
	}
	return t.SortKeys[i], true
}

// Arrange sorts items by the sort key named key (reverse flips it) and
// keeps the first top of them (0: all). Ties go by name.
func (t *Table[T]) Arrange(items []T, key string, reverse bool, top int) []T {
	k, _ := t.sortKey(key)
	slices.SortStableFunc(items, func(a, b T) int {
		c := 0
		if k.Value != nil {
			c = cmp.Compare(k.Value(&b), k.Value(&a))
		}
		if c == 0 {
			c = strings.Compare(t.Name(&a), t.Name(&b))
		}
		if reverse {
			return -c
		}
		return c
	})
	if top > 0 && len(items) > top {
		return items[:top]
	}
	return items
}

// Visible are the columns shown: the wide ones only when wide.
func (t *Table[T]) Visible(wide bool) []Column[T] {
	return slices.DeleteFunc(slices.Clone(t.Columns), func(c Column[T]) bool { return c.Wide && !wide })
}

// Rows renders items, each followed by its children, in cols: for
// people when human, else exact, a column's Parts in its place.
func (t *Table[T]) Rows(cols []Column[T], items []T, human bool) ([]string, [][]string) {
	header := make([]string, 0, len(cols))
	for _, col := range cols {
		if human || col.Parts == nil {
			header = append(header, col.Name)
			continue
		}
		for _, p := range col.Parts {
			header = append(header, p.Name)
		}
	}
	rows := make([][]string, 0, len(items))
	add := func(it *T) {
		row := make([]string, 0, len(header))
		for _, col := range cols {
			if human || col.Parts == nil {
				row = append(row, col.Cell(it, human))
				continue
			}
			for _, p := range col.Parts {
				row = append(row, p.Cell(it))
			}
		}
		rows = append(rows, row)
	}
	for i := range items {
		add(&items[i])
		if t.Children != nil {
			kids := t.Children(&items[i])
			for j := range kids {
				add(&kids[j])
			}
		}
	}
	return header, rows
}

// IntervalRows are the rows of one interval for output.View: in units for
// people in table and wide, exact in csv, with a TIME column that tells
// the intervals of one file apart.
func (t *Table[T]) IntervalRows(at time.Time, items []T) func(output.Format) ([]string, [][]string) {
	return func(f output.Format) ([]string, [][]string) {
		header, rows := t.Rows(t.Visible(f == output.Wide), items, f != output.CSV)
		if f != output.CSV {
			return header, rows
		}
		ts := at.UTC().Format(time.RFC3339)
		for i := range rows {
			rows[i] = append([]string{ts}, rows[i]...)
		}
		return append([]string{"TIME"}, header...), rows
	}
}

// TimeLine is the line above an interval's table: when, and what.
func TimeLine(at time.Time, summary string) string {
	return at.UTC().Format(time.RFC3339) + "  " + summary
}

// Sparkline draws values as bars, scaled to top or the highest value,
// whichever is more.
func Sparkline(vs []float64, top float64) string {
	const bars = "▁▂▃▄▅▆▇█"
	for _, v := range vs {
		top = max(top, v)
	}
	if top <= 0 {
		top = 1
	}
	var b strings.Builder
	for _, v := range vs {
		i := int(v / top * 7.999)
		b.WriteString(string([]rune(bars)[max(0, min(7, i))]))
	}
	return b.String()
}

// History keeps the last values of each key, for sparklines.
type History struct {
	n      int
	values map[string][]float64
}

// NewHistory keeps n values per key.
func NewHistory(n int) *History { return &History{n: n, values: map[string][]float64{}} }

// Add appends v to key's values. The slice is new each time: views of
// earlier frames keep reading the old ones.
func (h *History) Add(key string, v float64) {
	old := h.values[key]
	h.values[key] = append(slices.Clone(old[max(0, len(old)-h.n+1):]), v)
}

// Get is key's values, oldest first; the slice is never changed after.
func (h *History) Get(key string) []float64 { return h.values[key] }

// Snapshot is every key's values as they are now, for a frame.
func (h *History) Snapshot() map[string][]float64 { return maps.Clone(h.values) }

// Keep forgets every key for which keep is false: items that are gone.
func (h *History) Keep(keep func(key string) bool) {
	for k := range h.values {
		if !keep(k) {
			delete(h.values, k)
		}
	}
}
