package live

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
)

// Frame is what one interval shows on the screen.
type Frame[T any] struct {
	// Head is the summary line at the top.
	Head string
	// Banners are sources that are down, shown under the head in red.
	Banners []string
	Items   []T
	// Columns, when not nil, are this frame's columns in place of the
	// table's, and DropOrder which of them give way first: for a
	// resource whose columns its server gives (Kubernetes' tables).
	Columns   []Column[T]
	DropOrder []string
}

// View is the full-screen view of one resource.
type View[T any] struct {
	// Resource names what is watched, for the line shown before the first
	// frame ("containers").
	Resource string
	Table    *Table[T]
	Flags    *Flags
	Wide     bool

	sortKey string
	reverse bool
	// collapsed hides the table's children (the e key).
	collapsed bool
	last      *Frame[T]
}

// Run shows the view on the terminal of io until q, Ctrl-C, a signal or
// --count. loop is the resource's clock; it hands frames to emit.
func (v *View[T]) Run(ctx context.Context, io cmdutil.IOStreams, loop func(ctx context.Context, emit func(*Frame[T]) error) error) error {
	scr, err := output.OpenScreen(io.Out, io.In, io.Terminal())
	if err != nil {
		return err
	}
	defer scr.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	frames := make(chan *Frame[T])
	done := make(chan error, 1)
	go func() {
		done <- loop(ctx, func(fr *Frame[T]) error {
			select {
			case frames <- fr:
			case <-ctx.Done():
			}
			return nil
		})
	}()

	v.sortKey, v.collapsed = v.Flags.Sort, v.Table.Collapsed
	resize := time.NewTicker(250 * time.Millisecond)
	defer resize.Stop()
	w, h := scr.Size()
	draw := func() error {
		w, h = scr.Size()
		return scr.Draw(v.Lines(w))
	}
	if err := draw(); err != nil {
		return err
	}
	keys := scr.Keys()
	for {
		select {
		case fr := <-frames:
			v.Show(fr)
		case k, ok := <-keys:
			switch {
			case !ok:
				keys = nil // the terminal closed: a closed channel would spin the loop
				continue
			case k == 'q' || k == 'Q':
				return nil
			case k == 3: // Ctrl-C in raw mode
				return &cmdutil.ExitError{Code: cmdutil.ExitInterrupted}
			case k == 'r':
				v.reverse = !v.reverse
			case k == 'e' && v.Table.Children != nil:
				v.collapsed = !v.collapsed
			default:
				i := slices.IndexFunc(v.Table.SortKeys, func(s SortKey[T]) bool { return s.Key == k })
				if i < 0 {
					continue
				}
				v.sortKey, v.reverse = v.Table.SortKeys[i].Name, false
			}
		case <-resize.C:
			if nw, nh := scr.Size(); nw == w && nh == h {
				continue
			}
		case err := <-done:
			return err
		}
		if err := draw(); err != nil {
			return err
		}
	}
}

// Show sets the frame the next Lines draws (the view's loop calls it for
// each frame; tests call it directly).
func (v *View[T]) Show(fr *Frame[T]) {
	v.last = fr
	if v.sortKey == "" {
		v.sortKey, v.collapsed = v.Flags.Sort, v.Table.Collapsed
	}
}

// Lines renders the view for a terminal width wide: the head, the
// banners, the sort line, and the table with as many columns as fit.
func (v *View[T]) Lines(width int) []output.Line {
	fr := v.last
	if fr == nil {
		return []output.Line{{Text: "monctl watch " + v.Resource + ": taking the first samples…"}}
	}
	head := []output.Line{{Text: fr.Head, Style: output.Bold}}
	for _, b := range fr.Banners {
		head = append(head, output.Line{Text: b + " — retrying every " + v.Flags.Interval.String(), Style: "31"})
	}
	head = append(head, output.Line{Text: v.sortLine()}, output.Line{})

	items := v.Table.Arrange(slices.Clone(fr.Items), v.sortKey, v.reverse, v.Flags.Top)
	table := v.Table
	if v.collapsed {
		shown := *table
		shown.Children, table = nil, &shown
	}
	cols, dropOrder := table.Visible(v.Wide), table.DropOrder
	if fr.Columns != nil {
		cols, dropOrder = slices.Clone(fr.Columns), fr.DropOrder
	}
	for _, drop := range append(slices.Clone(dropOrder), "") {
		header, rows := table.Rows(cols, items, true)
		var buf bytes.Buffer
		_ = output.WriteTable(&buf, output.Terminal{}, header, rows)
		tl := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
		if drop == "" || maxWidth(tl) <= width {
			for i, l := range tl {
				style := ""
				if i == 0 {
					style = output.Bold
				}
				head = append(head, output.Line{Text: l, Style: style})
			}
			return head
		}
		cols = slices.DeleteFunc(cols, func(c Column[T]) bool { return c.Name == drop })
	}
	return head
}

// sortLine says the sort and the keys: "sort: cpu ↓ · keys: c cpu, …".
func (v *View[T]) sortLine() string {
	k, _ := v.Table.sortKey(v.sortKey)
	dir := "↓"
	if v.reverse != (k.Value == nil) { // names go A to Z
		dir = "↑"
	}
	var keys []string
	for _, s := range v.Table.SortKeys {
		keys = append(keys, string(s.Key)+" "+s.Name)
	}
	expand := ""
	if v.Table.Children != nil {
		expand = ", e expand"
		if !v.collapsed {
			expand = ", e collapse"
		}
	}
	return fmt.Sprintf("sort: %s %s · keys: %s, r reverse%s, q quit", v.sortKey, dir, strings.Join(keys, ", "), expand)
}

func maxWidth(lines []string) int {
	m := 0
	for _, l := range lines {
		m = max(m, output.Width(l))
	}
	return m
}
