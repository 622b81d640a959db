package k8s

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/monctl/monctl/internal/cli/watch/live"
	"github.com/monctl/monctl/internal/output"
)

// row is an object as the live view shows it.
type row struct {
	namespace string
	// name is kind/name when several types are watched, as kubectl
	// names objects of several types.
	name    string
	cells   map[string]string // the server's table cells, by column
	created time.Time
	// mark is + for an object added in the last interval, ~ for one
	// modified (one deleted is gone from the view).
	mark string
	// order sorts it by name: its namespace/name, but an event's is
	// its place among the events (warnings first, then the newest),
	// after every other object.
	order string
}

// liveTable is the live view's table: its columns are the server's,
// given with each frame.
func liveTable() *live.Table[row] {
	return &live.Table[row]{
		SortKeys: []live.SortKey[row]{
			{Name: "name", Key: 'n'},
			{Name: "age", Key: 'a', Value: func(r *row) float64 { return -float64(r.created.UnixNano()) }},
			{Name: "changed", Key: 'c', Value: func(r *row) float64 {
				if r.mark != "" {
					return 1
				}
				return 0
			}},
		},
		Name: func(r *row) string { return r.order },
	}
}

// screen is a sample as the live view shows it: every type in one table
// whose columns are those the server renders for kubectl (their union
// when several types are watched), a mark on what changed, and a banner
// while the API server, or a watch, fails.
func (o *Options) screen(fr *frame) *live.Frame[row] {
	out := &live.Frame[row]{Head: live.TimeLine(fr.time, o.count(fr)+", "+output.Count(fr.changed(), "change"))}
	if fr.down != nil {
		out.Banners = append(out.Banners, fr.down.Error())
	}
	wide := o.wide
	now := fr.time
	multi := len(fr.parts) > 1
	var names []string // the server's columns, in the order first given
	for _, pt := range fr.parts {
		if pt.err != nil && fr.down == nil {
			out.Banners = append(out.Banners, pt.err.Error())
		}
		if pt.table == nil {
			continue
		}
		for _, c := range pt.table.Columns {
			if (wide || c.Priority == 0) && !strings.EqualFold(c.Name, "name") && !slices.Contains(names, c.Name) {
				names = append(names, c.Name)
			}
		}
		marks := map[string]string{}
		for _, c := range pt.changes {
			if !o.shown {
				break // the first frame's changes are the first list: no news
			}
			marks[key(c.Object)] = map[string]string{"ADDED": "+", "MODIFIED": "~"}[c.Type]
		}
		for i, obj := range pt.objects {
			r := row{namespace: obj.GetNamespace(), name: output.Escape(obj.GetName()), created: obj.GetCreationTimestamp().Time,
				mark: marks[key(obj)], cells: map[string]string{}, order: key(obj)}
			if pt.res.Kind == "Event" {
				r.order = fmt.Sprintf("\xff%09d", i) // pt.objects are in the events' order
			}
			if multi {
				r.name = strings.ToLower(pt.res.Kind) + "/" + r.name
			}
			if cells, ok := pt.table.Rows[key(obj)]; ok {
				for i, c := range pt.table.Columns {
					if i < len(cells) {
						r.cells[c.Name] = cell(cells[i])
					}
					// The server's AGE is as old as its table: the view
					// renders it now, as kubectl does (HumanDuration).
					if c.Name == "Age" && !r.created.IsZero() {
						r.cells[c.Name] = duration.HumanDuration(now.Sub(r.created))
					}
				}
			}
			out.Items = append(out.Items, r)
		}
	}
	o.shown = o.shown || len(out.Items) > 0
	out.Columns = []live.Column[row]{{Name: " ", Cell: func(r *row, _ bool) string { return r.mark }}}
	if o.AllNamespaces {
		out.Columns = append(out.Columns, live.Column[row]{Name: "NAMESPACE", Cell: func(r *row, _ bool) string { return r.namespace }})
	}
	out.Columns = append(out.Columns, live.Column[row]{Name: "NAME", Cell: func(r *row, _ bool) string { return r.name }})
	for _, n := range names {
		out.Columns = append(out.Columns, live.Column[row]{Name: strings.ToUpper(n), Cell: func(r *row, _ bool) string {
			if v, ok := r.cells[n]; ok {
				return v
			}
			return ""
		}})
		// The last columns give way first on a narrow terminal, as the
		// server orders them by what matters.
		out.DropOrder = append([]string{strings.ToUpper(n)}, out.DropOrder...)
	}
	return out
}
