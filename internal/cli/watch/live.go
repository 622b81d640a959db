package watch

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

// sortByKey maps the live view's keys to --sort values.
var sortByKey = map[byte]string{'c': "cpu", 'm': "mem", 'i': "net", 'b': "block", 'p': "pids", 'n': "name", 'u': "uptime"}

// dropOrder is which columns give way first when the terminal is narrow.
var dropOrder = []string{"CPU HISTORY", "BLOCK R/s / W/s", "NET RX/s / TX/s", "IMAGE", "RESTARTS", "BLOCK I/O", "UPTIME",
	"NET I/O", "MEM %", "CONTAINER ID", "STATE", "HOST"}

// liveView is the state of the full-screen view between redraws.
type liveView struct {
	opts    *Options
	wide    bool
	sortKey string
	reverse bool
	last    *frame
}

// runLive shows the full-screen view until q, Ctrl-C, a signal or --count.
func runLive(ctx context.Context, o *Options, s *sampler, term output.Terminal, wide bool) error {
	scr, err := output.OpenScreen(o.IO.Out, o.IO.In, term)
	if err != nil {
		return err
	}
	defer scr.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	frames := make(chan *frame)
	done := make(chan error, 1)
	go func() {
		done <- s.run(ctx, o.Count, func(fr *frame) error {
			select {
			case frames <- fr:
			case <-ctx.Done():
			}
			return nil
		})
	}()

	v := &liveView{opts: o, wide: wide, sortKey: o.Sort}
	resize := time.NewTicker(250 * time.Millisecond)
	defer resize.Stop()
	w, h := scr.Size()
	draw := func() error {
		w, h = scr.Size()
		return scr.Draw(v.lines(w))
	}
	if err := draw(); err != nil {
		return err
	}
	keys := scr.Keys()
	for {
		select {
		case fr := <-frames:
			v.last = fr
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
			case sortByKey[k] != "":
				v.sortKey, v.reverse = sortByKey[k], false
			default:
				continue
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

// lines renders the view for a terminal width wide.
func (v *liveView) lines(width int) []output.Line {
	fr := v.last
	if fr == nil {
		return []output.Line{{Text: "monctl watch containers: taking the first samples…"}}
	}
	var head []output.Line
	var cpu float64
	var mem uint64
	for i := range fr.stats {
		cpu += fr.stats[i].CPUPercent
		mem += fr.stats[i].MemoryUsed
	}
	var engines []string
	for _, e := range fr.engines {
		engines = append(engines, fmt.Sprintf("%s (Docker %s, API %s)", e.Host, e.ServerVersion, e.APIVersion))
	}
	head = append(head, output.Line{Text: fmt.Sprintf("%s · %d containers · CPU %.1f%% · MEM %s · %s",
		strings.Join(engines, ", "), len(fr.stats), cpu, output.Bytes(float64(mem)), fr.time.Format("15:04:05")), Style: output.Bold})
	for _, e := range fr.down {
		head = append(head, output.Line{Text: e.Error() + " — retrying every " + v.opts.Interval.String(), Style: "31"})
	}
	dir := "↓"
	if v.reverse != (v.sortKey == "name") {
		dir = "↑"
	}
	head = append(head, output.Line{Text: fmt.Sprintf("sort: %s %s · keys: c cpu, m mem, i net, b block, p pids, n name, u uptime, r reverse, q quit", v.sortKey, dir)},
		output.Line{})

	stats := arrange(slices.Clone(fr.stats), v.sortKey, v.reverse, v.opts.Top)
	cols := visible(columns(len(v.opts.Hosts) > 1), v.wide)
	c := &cells{human: true, noTrunc: v.opts.NoTrunc, history: fr.history}
	for _, drop := range append(dropOrder, "") {
		header, rows := table(cols, c, stats)
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
		cols = slices.DeleteFunc(cols, func(c column) bool { return c.name == drop })
	}
	return head
}

func maxWidth(lines []string) int {
	m := 0
	for _, l := range lines {
		m = max(m, output.Width(l))
	}
	return m
}
