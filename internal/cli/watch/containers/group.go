package containers

import (
	"strconv"

	"github.com/monctl/monctl/internal/cli/watch/live"
	"github.com/monctl/monctl/internal/output"
	ctr "github.com/monctl/monctl/pkg/containers"
)

// groupID marks a group's row among containers' rows: no container ID
// starts with it.
const groupID = "group:"

// groupRows are the rows of --group-by: one per group, its totals in the
// containers' columns, its containers (sorted by --sort) its children.
// The cells learn the groups, to show their counts and members.
func (o *Options) groupRows(stats []ctr.Stats) []ctr.Stats {
	groups := ctr.GroupBy(stats, o.GroupBy)
	byID := make(map[string]*ctr.Group, len(groups))
	rows := make([]ctr.Stats, len(groups))
	for i := range groups {
		g := &groups[i]
		g.Members = o.table.Arrange(g.Members, o.Sort, false, 0)
		r := g.Totals
		r.ID, r.Name, r.State = groupID+g.Value, groupName(g), "exited"
		if g.Missing {
			r.ID = groupID + "\x00"
		}
		if g.Running > 0 {
			r.State = "running"
		}
		rows[i] = r
		byID[r.ID] = g
	}
	o.cells.groups.Store(&byID)
	return rows
}

// groupName is what a group's row is called: the label's value, or
// "(no LABEL)" for the containers without it.
func groupName(g *ctr.Group) string {
	if !g.Missing {
		return g.Value
	}
	if g.Key == ctr.ComposeProject {
		return "(no compose project)"
	}
	return "(no " + g.Key + ")"
}

// group is the group a row stands for, nil for a container's row.
func (c *cells) group(s *ctr.Stats) *ctr.Group {
	if p := c.groups.Load(); p != nil {
		return (*p)[s.ID]
	}
	return nil
}

// members are a group row's containers, for the table's Children.
func (c *cells) members(s *ctr.Stats) []ctr.Stats {
	if g := c.group(s); g != nil {
		return g.Members
	}
	return nil
}

// groupState is a group's STATE: how many of its containers run.
func groupState(g *ctr.Group) string {
	if g.Running == g.Containers {
		return strconv.Itoa(g.Running) + " running"
	}
	return strconv.Itoa(g.Running) + " of " + strconv.Itoa(g.Containers) + " running"
}

// GroupRecord is one group as -o json gives it: the label and value, the
// counts, the totals and the containers.
type GroupRecord struct {
	ctr.Group
}

// groupView is one interval of --group-by: the groups' rows, each with
// its containers under it, and one record per group.
func (o *Options) groupView(fr *frame, wide bool) output.View {
	o.cells.setHistory(fr.history)
	rows := o.table.Arrange(o.groupRows(fr.stats), o.Sort, false, o.Top)
	summary := output.Count(len(fr.stats), "container") + " in " + output.Count(len(rows), "group")
	if wide {
		summary += " · stats from " + fr.sourcesText()
	}
	return output.View{
		Title: live.TimeLine(fr.time, summary),
		Rows:  o.table.IntervalRows(fr.time, rows),
		Records: func() []any {
			recs := make([]any, len(rows))
			for i := range rows {
				recs[i] = GroupRecord{Group: *o.cells.group(&rows[i])}
			}
			return recs
		},
		Families: func() []output.Source {
			return []output.Source{{Time: fr.time, Families: ctr.Families(fr.stats, nil)}}
		},
	}
}
