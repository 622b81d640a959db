package k8s

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/monctl/monctl/pkg/kube"
)

func object(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// The live view of pods and events: one table under the union of the
// server's columns, each object kind/name; sorted by name, the pods come
// first, then the events in their own order (warnings first); a change
// is marked once the first frame has been shown; text from the server is
// escaped; AGE is the object's age at the frame.
func TestScreen(t *testing.T) {
	now := time.Now()
	web := object("shop", "web")
	web.SetCreationTimestamp(metav1.NewTime(now.Add(-90 * time.Minute)))
	pods := part{res: kube.Resource{Kind: "Pod"},
		objects: []*unstructured.Unstructured{web, object("shop", "api")},
		table: &kube.Table{Columns: []metav1.TableColumnDefinition{{Name: "Name"}, {Name: "Status"}, {Name: "Age"}},
			Rows: map[string][]any{"shop/web": {"web", "Running", "2m"}, "shop/api": {"api", "Crash\x1b[2J", "5m"}}}}
	// As the watcher gives them: the warning first.
	events := part{res: kube.Resource{Kind: "Event"},
		objects: []*unstructured.Unstructured{object("shop", "zz.warning"), object("shop", "aa.normal")},
		table: &kube.Table{Columns: []metav1.TableColumnDefinition{{Name: "Type"}, {Name: "Reason"}},
			Rows: map[string][]any{"shop/zz.warning": {"Warning", "BackOff"}, "shop/aa.normal": {"Normal", "Pulled"}}}}
	o := &Options{AllNamespaces: true}
	fr := o.screen(&frame{time: now, parts: []part{pods, events}})
	var cols []string
	for _, c := range fr.Columns {
		cols = append(cols, c.Name)
	}
	if !slices.Equal(cols, []string{" ", "NAMESPACE", "NAME", "STATUS", "AGE", "TYPE", "REASON"}) {
		t.Errorf("columns %q", cols)
	}
	var names []string
	for _, r := range liveTable().Arrange(fr.Items, "name", false, 0) {
		names = append(names, r.name)
	}
	if !slices.Equal(names, []string{"pod/api", "pod/web", "event/zz.warning", "event/aa.normal"}) {
		t.Errorf("sorted by name: %q", names)
	}
	for _, r := range fr.Items {
		if r.name == "pod/api" && r.cells["Status"] != `Crash\x1b[2J` {
			t.Errorf("a cell from the server is not escaped: %q", r.cells["Status"])
		}
		if r.name == "pod/web" && r.cells["Age"] != "90m" {
			t.Errorf("web's age, as of the frame and not of the server's table: %q", r.cells["Age"])
		}
		if r.mark != "" {
			t.Errorf("the first frame marks %s", r.name)
		}
	}

	pods.changes = []kube.Change{{Type: "MODIFIED", Object: object("shop", "web")}}
	fr = o.screen(&frame{parts: []part{pods, events}})
	for _, r := range fr.Items {
		if want := map[string]string{"pod/web": "~"}[r.name]; r.mark != want {
			t.Errorf("%s is marked %q, want %q", r.name, r.mark, want)
		}
	}
}
