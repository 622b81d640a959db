package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Selector chooses objects as kubectl's -l and --field-selector do, in
// a namespace ("" with AllNamespaces).
type Selector struct {
	Namespace     string
	AllNamespaces bool
	Labels        string
	Fields        string
}

// Watcher keeps every object of one resource type that the selector
// chooses, through a dynamic informer: listed once, then watched from
// that resource version on, and resumed from the last version seen when
// the watch breaks (the API server restarted), so that nothing is missed
// or doubled.
type Watcher struct {
	Resource Resource
	cluster  *Cluster
	sel      Selector
	informer cache.SharedIndexInformer
	hooks    Hooks
	stop     chan struct{}
	synced   chan struct{}
	refused  chan error

	mu sync.Mutex
	// changes are what changed since Changes was last asked, one per
	// object, in the order they first changed; err is the last error of
	// the list or watch, until the informer has news again.
	changes map[string]*Change
	order   []string
	err     error
}

// Change is what became of one object over an interval: ADDED,
// MODIFIED or DELETED (as kubectl get -w --output-watch-events says),
// with the object as it is now, or as it was last seen when deleted.
type Change struct {
	Type   string
	Object *unstructured.Unstructured
}

// Hooks are told of a watcher's news, from its informer's goroutines:
// Changed after an object changed, Failed after the list or watch
// failed (the informer tries again by itself). Either may be nil.
type Hooks struct {
	Changed func()
	Failed  func(error)
}

// Watch starts an informer for r and waits until it has listed, or ctx
// ends, or the list is refused.
func (c *Cluster) Watch(ctx context.Context, r Resource, sel Selector) (*Watcher, error) {
	return c.WatchWith(ctx, r, sel, Hooks{})
}

// WatchWith is Watch with hooks.
func (c *Cluster) WatchWith(ctx context.Context, r Resource, sel Selector, h Hooks) (*Watcher, error) {
	w := c.Start(r, sel, h)
	select {
	case <-w.Synced():
		return w, nil
	case err := <-w.refused:
		w.Close()
		return nil, err
	case <-ctx.Done():
		w.Close()
		return nil, ctx.Err()
	}
}

// Start starts an informer for r without waiting for its list: Synced
// says when it has listed.
func (c *Cluster) Start(r Resource, sel Selector, h Hooks) *Watcher {
	ns := sel.Namespace
	if !r.Namespaced || sel.AllNamespaces {
		ns = metav1.NamespaceAll
	}
	// The informer dynamicinformer would make, without its package,
	// which brings every typed client of client-go into the binary.
	tweak := func(o *metav1.ListOptions) { o.LabelSelector, o.FieldSelector = sel.Labels, sel.Fields }
	client := c.dynamic.Resource(r.GVR).Namespace(ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			tweak(&o)
			return client.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			tweak(&o)
			return client.Watch(ctx, o)
		},
	}
	informer := cache.NewSharedIndexInformerWithOptions(lw, &unstructured.Unstructured{}, cache.SharedIndexInformerOptions{})
	// Each object's managedFields (who set which field) are a good part
	// of it, and kubectl hides them too (--show-managed-fields): they
	// are not kept.
	_ = informer.SetTransform(func(obj any) (any, error) {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
		}
		return obj, nil
	})
	w := &Watcher{Resource: r, cluster: c, sel: sel, informer: informer, hooks: h,
		stop: make(chan struct{}), synced: make(chan struct{}), refused: make(chan error, 1), changes: map[string]*Change{}}
	w.informer.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		// "failed to list *unstructured.Unstructured: " says nothing
		// the message will not.
		if inner := errors.Unwrap(err); inner != nil && strings.HasPrefix(err.Error(), "failed to list ") {
			err = inner
		}
		err = c.Explain(err, "list and watch", w.what())
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
		if _, ok := err.(*RefusedError); ok {
			select {
			case w.refused <- err:
			default:
			}
		}
		if h.Failed != nil {
			h.Failed(err)
		}
	})
	w.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { w.note("ADDED", obj) },
		UpdateFunc: func(old, obj any) {
			// A relist after a watch that could not resume hands every
			// object over again: only a new resource version is news.
			if o, ok := old.(*unstructured.Unstructured); ok {
				if n, ok := obj.(*unstructured.Unstructured); ok && o.GetResourceVersion() == n.GetResourceVersion() {
					return
				}
			}
			w.note("MODIFIED", obj)
		},
		DeleteFunc: func(obj any) {
			if gone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = gone.Obj
			}
			w.note("DELETED", obj)
		},
	})
	go w.informer.Run(w.stop)
	go func() {
		if cache.WaitForCacheSync(w.stop, w.informer.HasSynced) {
			close(w.synced)
			if h.Changed != nil {
				h.Changed()
			}
		}
	}()
	return w
}

// Synced is closed once the informer has listed.
func (w *Watcher) Synced() <-chan struct{} { return w.synced }

// Get is the object of key (namespace/name, or name), nil when there is
// none.
func (w *Watcher) Get(key string) *unstructured.Unstructured {
	obj, ok, _ := w.informer.GetStore().GetByKey(key)
	if !ok {
		return nil
	}
	u, _ := obj.(*unstructured.Unstructured)
	return u
}

// note keeps a change of one object, merged with what it had this
// interval: added then modified is added, added then deleted is nothing,
// deleted then added is modified.
func (w *Watcher) note(typ string, obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	key := u.GetName()
	if u.GetNamespace() != "" {
		key = u.GetNamespace() + "/" + key
	}
	if w.hooks.Changed != nil {
		defer w.hooks.Changed() // after the unlock
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = nil // the informer has news: it works
	prev := w.changes[key]
	switch {
	case prev == nil:
		w.changes[key] = &Change{Type: typ, Object: u}
		w.order = append(w.order, key)
		return
	case prev.Type == "ADDED" && typ == "DELETED":
		delete(w.changes, key)
		w.order = slices.DeleteFunc(w.order, func(k string) bool { return k == key })
		return
	case prev.Type == "ADDED":
		typ = "ADDED"
	case prev.Type == "DELETED" && typ == "ADDED":
		typ = "MODIFIED"
	}
	prev.Type, prev.Object = typ, u
}

// what is the resource and namespace, for messages.
func (w *Watcher) what() string { return what(w.Resource, w.sel) }

func what(r Resource, sel Selector) string {
	if r.Namespaced && !sel.AllNamespaces {
		return r.Name() + " in namespace " + sel.Namespace
	}
	return r.Name()
}

// Objects are the objects now, sorted by namespace and name.
func (w *Watcher) Objects() []*unstructured.Unstructured {
	items := w.informer.GetStore().List()
	out := make([]*unstructured.Unstructured, 0, len(items))
	for _, it := range items {
		if u, ok := it.(*unstructured.Unstructured); ok {
			out = append(out, u)
		}
	}
	if w.Resource.Kind == "Event" {
		slices.SortFunc(out, eventOrder)
		return out
	}
	// Each object's namespace and name are read once: reading them in
	// the comparison is most of the cost of a large sort.
	type keyed struct {
		ns, name string
		u        *unstructured.Unstructured
	}
	ks := make([]keyed, len(out))
	for i, u := range out {
		ks[i] = keyed{u.GetNamespace(), u.GetName(), u}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if c := strings.Compare(a.ns, b.ns); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	for i := range ks {
		out[i] = ks[i].u
	}
	return out
}

// Len is how many objects the watcher has now.
func (w *Watcher) Len() int { return len(w.informer.GetStore().ListKeys()) }

// eventOrder puts warnings first, then the newest: what needs a look
// comes at the top.
func eventOrder(a, b *unstructured.Unstructured) int {
	if wa, wb := str(a.Object, "type") == "Warning", str(b.Object, "type") == "Warning"; wa != wb {
		if wa {
			return -1
		}
		return 1
	}
	return -strings.Compare(lastSeen(a), lastSeen(b))
}

// lastSeen is when an event (core/v1 or events.k8s.io/v1) last happened,
// as RFC 3339 text, which sorts as the time does.
func lastSeen(e *unstructured.Unstructured) string {
	for _, path := range [][]string{{"series", "lastObservedTime"}, {"lastTimestamp"}, {"eventTime"}, {"deprecatedLastTimestamp"}} {
		if t := str(e.Object, path...); t != "" {
			return t
		}
	}
	return e.GetCreationTimestamp().UTC().Format(time.RFC3339)
}

// EventTime is when an event (core/v1 or events.k8s.io/v1) last
// happened.
func EventTime(e *unstructured.Unstructured) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, lastSeen(e))
	return t
}

// Changes are what changed since the last call, in order, and the error
// the watch has now (nil when it works).
func (w *Watcher) Changes() ([]Change, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Change, 0, len(w.order))
	for _, k := range w.order {
		out = append(out, *w.changes[k])
	}
	w.changes, w.order = map[string]*Change{}, nil
	return out, w.err
}

// Close stops the informer.
func (w *Watcher) Close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
}

// Table is the server's table of some objects: the columns kubectl
// would print (a custom resource's printer columns included), one row
// per object, keyed by namespace/name, in the server's order.
type Table struct {
	Columns []metav1.TableColumnDefinition
	Rows    map[string][]any
	Order   []string
}

// Table asks the server to render the objects sel chooses as kubectl's
// table (as=Table;g=meta.k8s.io;v=v1), served from its cache
// (resourceVersion=0), without the objects themselves.
func (c *Cluster) Table(ctx context.Context, r Resource, sel Selector) (*Table, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req := c.raw.Get().AbsPath(collectionPath(r, sel)).Param("resourceVersion", "0")
	if sel.Labels != "" {
		req = req.Param("labelSelector", sel.Labels)
	}
	if sel.Fields != "" {
		req = req.Param("fieldSelector", sel.Fields)
	}
	return c.table(ctx, req, "list", what(r, sel))
}

// Table is the server's table of the watched objects.
func (w *Watcher) Table(ctx context.Context) (*Table, error) {
	return w.cluster.Table(ctx, w.Resource, w.sel)
}

// TableOf is the server's table of the watched objects of keys alone,
// asked for one at a time (a few at once): after a few changes, far
// cheaper for both sides than the table of every object. An object
// gone meanwhile has no row.
func (w *Watcher) TableOf(ctx context.Context, keys []string) (*Table, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tables := make([]*Table, len(keys))
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	limit := make(chan struct{}, 8)
	for i, k := range keys {
		wg.Go(func() {
			limit <- struct{}{}
			defer func() { <-limit }()
			ns, name, ok := strings.Cut(k, "/")
			if !ok {
				ns, name = "", k
			}
			sel := Selector{Namespace: ns, AllNamespaces: ns == ""}
			req := w.cluster.raw.Get().AbsPath(collectionPath(w.Resource, sel) + "/" + name)
			tables[i], errs[i] = w.cluster.table(ctx, req, "get", w.Resource.Name()+" "+k)
		})
	}
	wg.Wait()
	out := &Table{Rows: map[string][]any{}}
	for i, t := range tables {
		if errs[i] != nil {
			if apierrors.IsNotFound(errs[i]) {
				continue
			}
			return nil, errs[i]
		}
		out.Columns = t.Columns
		for _, k := range t.Order {
			out.Rows[k] = t.Rows[k]
			out.Order = append(out.Order, k)
		}
	}
	return out, nil
}

// table sends req for a table.
func (c *Cluster) table(ctx context.Context, req *rest.Request, verb, what string) (*Table, error) {
	res := req.Param("includeObject", "Metadata").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json").Do(ctx)
	body, err := res.Raw()
	if err != nil {
		err = res.Error() // the server's Status, which says why
	}
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, err
		}
		return nil, c.Explain(err, verb, what)
	}
	var t metav1.Table
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("%s: the table of %s: %w", c.Where(), what, err)
	}
	out := &Table{Columns: t.ColumnDefinitions, Rows: make(map[string][]any, len(t.Rows))}
	for _, row := range t.Rows {
		var m metav1.PartialObjectMetadata
		if row.Object.Raw == nil || json.Unmarshal(row.Object.Raw, &m) != nil {
			continue
		}
		key := m.Name
		if m.Namespace != "" {
			key = m.Namespace + "/" + m.Name
		}
		out.Rows[key] = row.Cells
		out.Order = append(out.Order, key)
	}
	return out, nil
}

// collectionPath is the URL path of the objects of r sel chooses.
func collectionPath(r Resource, sel Selector) string {
	gvr := r.GVR
	p := "/apis/" + gvr.Group + "/" + gvr.Version
	if gvr.Group == "" {
		p = "/api/" + gvr.Version
	}
	if r.Namespaced && !sel.AllNamespaces {
		p += "/namespaces/" + sel.Namespace
	}
	return p + "/" + gvr.Resource
}

// String says what is watched where.
func (w *Watcher) String() string { return fmt.Sprintf("%s on %s", w.what(), w.cluster.Where()) }
