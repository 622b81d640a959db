// Package k8s implements 'monctl watch k8s': any Kubernetes resource
// type, built-in or custom, watched through a dynamic informer each, with
// the columns kubectl would print taken from the server's own table.
package k8s

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/monctl/monctl/internal/cli/ask"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/cli/watch/live"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/kube"
)

// Options of 'monctl watch k8s'.
type Options struct {
	IO cmdutil.IOStreams
	live.Flags
	kube.Options

	Resources     []string
	AllNamespaces bool
	Selector      string
	FieldSelector string
	// Changes prints what changed each interval instead of every object.
	Changes bool
	Out     cmdutil.OutputFlags
	// Ask holds --query, --fail-if and --rules, over the
	// kube-state-metrics series of each interval.
	Ask ask.Flags

	wide  bool // -o wide: every column of the server's tables
	shown bool // the live view has shown objects
}

// NewCmd builds 'monctl watch k8s'.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO}
	cmd := &cobra.Command{
		Use:     "k8s RESOURCE[,RESOURCE...]",
		Aliases: []string{"kube", "kubernetes"},
		Short:   "Kubernetes objects of any resource type, custom ones too, as kubectl get -w shows them",
		Long: `Watch Kubernetes objects of one or more resource types, each named as
kubectl names it (pods, po, deploy, deployments.apps, nodes, a custom
resource's plural or short name), resolved through the API's discovery.
Each type is followed by a dynamic informer: listed once, then watched,
and resumed from the last resource version seen when the watch breaks.

The cluster is found as kubectl finds it: --kubeconfig, else $KUBECONFIG,
else ~/.kube/config, else the pod's service account; --kube-context (the
docker context is --context), -n/--namespace, -A/--all-namespaces,
-l/--selector and --field-selector.

Tables have the columns the server renders for kubectl (a custom
resource's printer columns included; -o wide: all of them), with
NAMESPACE first under -A. -o json, jsonl and yaml print the objects as
the API gives them. One table or record set is printed per --interval;
--once prints one; --changes prints what changed.

--query, --fail-if and --rules are asked of the series kube-state-metrics
would expose for the pods, deployments, statefulsets, daemonsets, nodes
and jobs watched, which -o prom prints.`,
		Example: `  monctl watch k8s pods -A --once
  monctl watch k8s deploy,statefulsets -n shop -o wide
  monctl watch k8s pods -l app=web -o jsonl --interval 10s >> pods.jsonl
  monctl watch k8s crontabs.stable.example.com --kube-context lab`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				for r := range strings.SplitSeq(a, ",") {
					if r != "" {
						o.Resources = append(o.Resources, r)
					}
				}
			}
			o.Ask.ConfigAlertmanagers = f.ConfigAlertmanagers()
			return o.Ask.NagiosError(o.IO.Out, run(cmd.Context(), o))
		},
	}
	fl := cmd.Flags()
	// A snapshot is the informers' caches as listed: no window to wait.
	o.Flags.SnapshotInterval = 10 * time.Millisecond
	o.Flags.AddFlags(cmd, liveTable().SortNames(), "name")
	fl.StringVar(&o.Kubeconfig, "kubeconfig", "", "the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)")
	fl.StringVar(&o.Context, "kube-context", "", "the kubeconfig context (default: its current one)")
	fl.StringVarP(&o.Namespace, "namespace", "n", "", "the namespace (default: the context's, else default)")
	fl.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "objects of every namespace")
	fl.StringVarP(&o.Selector, "selector", "l", "", "label selector, as kubectl's -l (app=web,tier!=db)")
	fl.StringVar(&o.FieldSelector, "field-selector", "", "field selector, as kubectl's (status.phase=Running)")
	fl.BoolVar(&o.Changes, "changes", false, "print what changed each interval, each object once with its change (ADDED, MODIFIED, DELETED: kubectl get -w --output-watch-events), the first time every object as ADDED")
	o.Out.AddOutputFlags(cmd, "table", output.AllShapes)
	o.Ask.AddFlags(fl, "the series kube-state-metrics would expose for the pods, deployments, statefulsets, daemonsets, nodes and jobs watched (kube_pod_status_phase, kube_deployment_status_replicas_available...)")
	return cmd
}

// frame is one sample: each resource's objects and table.
type frame struct {
	time  time.Time
	parts []part
	down  error // the API server does not answer
}

type part struct {
	res kube.Resource
	// w is its watcher; nil for a single table (snapshot), whose
	// objects are its table's rows.
	w       *kube.Watcher
	objects []*unstructured.Unstructured
	count   int // of objects, even where they are not taken
	changes []kube.Change
	table   *kube.Table
	err     error
}

// families are the kube-state-metrics series of a frame's objects.
func (fr *frame) families() []exposition.Family {
	sets := make([]kube.Objects, len(fr.parts))
	for i, pt := range fr.parts {
		sets[i] = kube.Objects{Kind: pt.res.Kind, Items: pt.objects}
	}
	return kube.Families(sets...)
}

// changed counts the changes of a frame.
func (fr *frame) changed() int {
	n := 0
	for _, pt := range fr.parts {
		n += len(pt.changes)
	}
	return n
}

func run(ctx context.Context, o *Options) error {
	if err := o.Flags.Validate(); err != nil {
		return err
	}
	p, err := o.Out.Printer(o.IO, true, map[string]any{})
	if err != nil {
		return err
	}
	o.wide = p.Format == output.Wide
	if o.Ask.Asking() {
		if o.Changes {
			return cmdutil.UsageError("--changes prints the changes, and --query, --fail-if and --rules print answers instead: give one or the other")
		}
		if err := o.Ask.Check(p); err != nil {
			return err
		}
		defer o.Ask.Close() // delivers the alerts found
	}
	cluster, err := cmdutil.KubeConnect(o.Options)
	if err != nil {
		return err
	}
	sel := kube.Selector{Namespace: cluster.Namespace, AllNamespaces: o.AllNamespaces, Labels: o.Selector, Fields: o.FieldSelector}
	// The server renders tables only for the views that print them.
	tables := !o.Ask.Asking() && (p.Format == output.Table || p.Format == output.Wide || p.Format == output.CSV || p.Format == output.Markdown)
	if tables && o.Count == 1 && !o.Changes {
		return o.snapshot(ctx, cluster, sel, p)
	}
	watchers, failed := start(ctx, cluster, o.Resources, sel)
	for _, err := range failed {
		fmt.Fprintf(o.IO.ErrOut, "monctl: %v\n", err)
	}
	if len(watchers) == 0 {
		return cmdutil.Silent // each was said
	}
	defer func() {
		for _, w := range watchers {
			w.Close()
		}
	}()
	said := map[string]string{}
	partial := len(failed) > 0
	samples := 0
	cache := map[*kube.Watcher]*cachedTable{}
	refresh := tableRefresh
	if o.Changes {
		refresh = 0
	}
	store := o.Ask.NewStore()
	fired := false
	res := live.Resource[row, *frame]{
		Name:  "k8s " + strings.Join(o.Resources, ","),
		Table: liveTable(),
		Sample: func(ctx context.Context) (*frame, error) {
			fr := &frame{time: time.Now(), down: cluster.Ping(ctx)}
			samples++
			for _, w := range watchers {
				pt := part{res: w.Resource, w: w}
				if o.Changes && !o.Ask.Asking() {
					pt.count = w.Len() // the changes carry their objects
				} else {
					pt.objects = w.Objects()
					pt.count = len(pt.objects)
				}
				// The watch's first sample only primes its clock, and is
				// not printed: the changes wait for the next, and no
				// table is asked for.
				if samples > 1 {
					pt.changes, pt.err = w.Changes()
					if tables {
						pt.table, pt.err = tableOf(ctx, w, cache, pt.changes, pt.err, refresh)
					}
				}
				fr.parts = append(fr.parts, pt)
			}
			return fr, nil
		},
		Print: func(fr *frame) error {
			switch {
			case fr.down != nil && said[cluster.Server] == "":
				fmt.Fprintf(o.IO.ErrOut, "monctl: %v (retrying)\n", fr.down)
				said[cluster.Server] = fr.down.Error()
				partial = true
			case fr.down == nil && said[cluster.Server] != "":
				fmt.Fprintf(o.IO.ErrOut, "monctl: %s answers again; the watches go on from where they were\n", cluster.Where())
				delete(said, cluster.Server)
			}
			for _, pt := range fr.parts {
				// A watch that breaks is said once, and again when it
				// works again; the informer resumes by itself.
				key := pt.w.String()
				switch {
				case pt.err != nil && said[key] != pt.err.Error():
					fmt.Fprintf(o.IO.ErrOut, "monctl: %v (retrying)\n", pt.err)
					said[key] = pt.err.Error()
					partial = true
				case pt.err == nil && said[key] != "":
					fmt.Fprintf(o.IO.ErrOut, "monctl: %s answers again\n", key)
					delete(said, key)
				}
			}
			if o.Ask.Asking() {
				store.Add(fr.time, fr.families())
				var askErr error
				fired, askErr = o.Ask.Answer(ctx, p, store, fr.time, fr.down != nil)
				return askErr
			}
			if o.Changes {
				if fr.changed() == 0 {
					return nil // nothing to say this interval
				}
				return p.Print(o.changesView(fr, p.Format == output.Wide))
			}
			return p.Print(o.view(fr, p.Format == output.Wide))
		},
		Done: func() error {
			if fired {
				return cmdutil.CheckFailed
			}
			if partial {
				return cmdutil.Partial
			}
			return nil
		},
	}
	if !o.Ask.Asking() && !o.Changes {
		// --changes and the questions print lines, never a screen.
		res.Screen = o.screen
	}
	return live.Run(ctx, o.IO, &o.Flags, p, res)
}

// cachedTable is the server's last table of a watch, and when it was
// rendered.
type cachedTable struct {
	table *kube.Table
	at    time.Time
}

// tableRefresh is how old a table may be before it is asked for whole
// again: its AGE column is the server's, rendered with it.
const tableRefresh = 10 * time.Second

// fewChanges is the most changes whose rows are asked for one by one,
// over the last table, rather than the table of every object again.
const fewChanges = 100

// tableOf is the table of w after changes: the last one with the rows
// of the objects changed, each asked of the server, or, when the last
// is much changed or older than refresh (0: never too old, as for
// --changes, which prints no AGE but of the rows changed), a new one.
// While the watch fails (watchErr) the last stands in, and the error is
// kept.
func tableOf(ctx context.Context, w *kube.Watcher, cache map[*kube.Watcher]*cachedTable, changes []kube.Change, watchErr error, refresh time.Duration) (*kube.Table, error) {
	last := cache[w]
	old := last != nil && refresh > 0 && time.Since(last.at) >= refresh
	switch {
	case watchErr != nil && last == nil:
		return nil, watchErr
	case watchErr != nil:
		return last.table, watchErr
	case last != nil && len(changes) == 0 && !old:
		return last.table, nil
	case last == nil || len(changes) > fewChanges || old:
		t, err := w.Table(ctx)
		if err != nil {
			if last != nil {
				return last.table, err
			}
			return nil, err
		}
		cache[w] = &cachedTable{table: t, at: time.Now()}
		return t, nil
	}
	var keys []string
	for _, c := range changes {
		if c.Type != "DELETED" {
			keys = append(keys, key(c.Object))
		}
	}
	rows, err := w.TableOf(ctx, keys)
	if err != nil {
		return last.table, err
	}
	// A new table: the last may still be on the screen.
	t := &kube.Table{Columns: last.table.Columns, Rows: maps.Clone(last.table.Rows), Order: last.table.Order}
	maps.Copy(t.Rows, rows.Rows)
	for _, c := range changes {
		if c.Type == "DELETED" {
			delete(t.Rows, key(c.Object))
		}
	}
	cache[w] = &cachedTable{table: t, at: last.at}
	return t, nil
}

// snapshot prints one table of each type, as the server renders it: a
// single table needs no informer, whose list of every object would
// double the time to it.
func (o *Options) snapshot(ctx context.Context, c *kube.Cluster, sel kube.Selector, p *output.Printer) error {
	fr := &frame{time: time.Now(), parts: make([]part, len(o.Resources))}
	errs := make([]error, len(o.Resources))
	var wg sync.WaitGroup
	for i, name := range o.Resources {
		wg.Go(func() {
			r, err := c.Resolve(ctx, name)
			pt := &fr.parts[i]
			pt.res = r
			if err == nil && r.Kind == "Event" {
				// Events come warnings first, then the newest: the
				// order needs the objects.
				if pt.w, err = c.Watch(ctx, r, sel); err == nil {
					pt.objects = pt.w.Objects()
					pt.w.Close()
				}
			}
			if err == nil {
				pt.table, err = c.Table(ctx, r, sel)
			}
			if err == nil {
				pt.count = len(pt.table.Order)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	var parts []part
	for i, err := range errs {
		if err != nil {
			fmt.Fprintf(o.IO.ErrOut, "monctl: %v\n", err)
		} else {
			parts = append(parts, fr.parts[i])
		}
	}
	if len(parts) == 0 {
		return cmdutil.Silent // each was said
	}
	fr.parts = parts
	if err := p.Print(o.view(fr, p.Format == output.Wide)); err != nil {
		return cmdutil.Failure(err)
	}
	if len(parts) < len(o.Resources) {
		return cmdutil.Partial
	}
	return nil
}

// start resolves and watches each resource type at once. A type the
// server does not have, or will not list, is an error of its own: the
// others are watched.
func start(ctx context.Context, c *kube.Cluster, names []string, sel kube.Selector) ([]*kube.Watcher, []error) {
	watchers := make([]*kube.Watcher, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			r, err := c.Resolve(ctx, name)
			if err == nil {
				watchers[i], err = c.Watch(ctx, r, sel)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	var ok []*kube.Watcher
	var failed []error
	for i := range names {
		if errs[i] != nil {
			failed = append(failed, errs[i])
		} else {
			ok = append(ok, watchers[i])
		}
	}
	return ok, failed
}

// view is one sample in every shape: a table per resource type (a blank
// line between), the objects as records.
func (o *Options) view(fr *frame, wide bool) output.View {
	return output.View{
		Title: live.TimeLine(fr.time, o.count(fr)),
		Rows: func(output.Format) ([]string, [][]string) {
			var header []string
			var rows [][]string
			for i, pt := range fr.parts {
				if pt.table == nil {
					continue
				}
				h, rs := o.tableRows(pt, wide)
				if i > 0 && len(fr.parts) > 1 {
					rows = append(rows, nil, h) // the next type's own header
				} else {
					header = h
				}
				rows = append(rows, rs...)
			}
			return header, rows
		},
		Families: func() []output.Source {
			return []output.Source{{Time: fr.time, Families: fr.families()}}
		},
		Records: func() []any {
			var recs []any
			for _, pt := range fr.parts {
				for _, obj := range pt.objects {
					recs = append(recs, obj.Object)
				}
			}
			return recs
		},
	}
}

// changesView is what changed in one interval: a row or record per
// object that changed, with how.
func (o *Options) changesView(fr *frame, wide bool) output.View {
	return output.View{
		Title: live.TimeLine(fr.time, output.Count(fr.changed(), "change")),
		Rows: func(output.Format) ([]string, [][]string) {
			var header []string
			var rows [][]string
			for i, pt := range fr.parts {
				if pt.table == nil || len(pt.changes) == 0 {
					continue
				}
				h := append([]string{"EVENT"}, o.tableHeader(pt, wide)...)
				if i > 0 && header != nil {
					rows = append(rows, nil, h)
				} else {
					header = h
				}
				for _, c := range pt.changes {
					rows = append(rows, append([]string{c.Type}, o.row(pt, c.Object.GetNamespace(), c.Object.GetName(), wide, len(h)-1)...))
				}
			}
			return header, rows
		},
		Records: func() []any {
			var recs []any
			for _, pt := range fr.parts {
				for _, c := range pt.changes {
					recs = append(recs, map[string]any{"type": c.Type, "object": c.Object.Object})
				}
			}
			return recs
		},
	}
}

// count says how many objects of each type.
func (o *Options) count(fr *frame) string {
	var parts []string
	for _, pt := range fr.parts {
		parts = append(parts, fmt.Sprintf("%d %s", pt.count, pt.res.Name()))
	}
	return strings.Join(parts, ", ")
}

// tableRows are the server's columns for one type (priority 0 only
// unless wide), NAMESPACE first under -A, in the informer's order (the
// server's for a snapshot).
func (o *Options) tableRows(pt part, wide bool) ([]string, [][]string) {
	header := o.tableHeader(pt, wide)
	var rows [][]string
	if pt.w == nil {
		for _, k := range pt.table.Order {
			ns, name, ok := strings.Cut(k, "/")
			if !ok {
				ns, name = "", k
			}
			rows = append(rows, o.row(pt, ns, name, wide, len(header)))
		}
		return header, rows
	}
	for _, obj := range pt.objects {
		if _, ok := pt.table.Rows[key(obj)]; ok { // one made since the table was rendered is in the next
			rows = append(rows, o.row(pt, obj.GetNamespace(), obj.GetName(), wide, len(header)))
		}
	}
	return header, rows
}

// tableHeader is the header of tableRows.
func (o *Options) tableHeader(pt part, wide bool) []string {
	var header []string
	if o.AllNamespaces && pt.res.Namespaced {
		header = append(header, "NAMESPACE")
	}
	for _, c := range pt.table.Columns {
		if wide || c.Priority == 0 {
			header = append(header, strings.ToUpper(c.Name))
		}
	}
	return header
}

// row is an object's cells, as tableRows' columns: its table row, or
// its namespace and name alone when the table has none (it was deleted).
func (o *Options) row(pt part, namespace, name string, wide bool, width int) []string {
	var row []string
	if o.AllNamespaces && pt.res.Namespaced {
		row = append(row, namespace)
	}
	k := name
	if namespace != "" {
		k = namespace + "/" + name
	}
	cells, ok := pt.table.Rows[k]
	if !ok {
		row = append(row, output.Escape(name))
	}
	for i, c := range pt.table.Columns {
		if ok && (wide || c.Priority == 0) && i < len(cells) {
			row = append(row, cell(cells[i]))
		}
	}
	for len(row) < width {
		row = append(row, "")
	}
	return row
}

// key is an object's namespace/name, as the table's rows are keyed.
func key(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() != "" {
		return obj.GetNamespace() + "/" + obj.GetName()
	}
	return obj.GetName()
}

// cell writes a table cell as kubectl does: <none> for nothing.
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "<none>"
	case string:
		if v == "" {
			return "<none>"
		}
		return output.Escape(v)
	case float64:
		if v == float64(int64(v)) {
			return fmt.Sprint(int64(v))
		}
		return fmt.Sprint(v)
	}
	return output.Escape(fmt.Sprint(v))
}
