package events

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	timetypes "github.com/docker/docker/api/types/time"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	ctr "github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/kube"
)

// kubeEvent is a Kubernetes event as monctl events prints every event:
// the object it is about as the name (namespace/kind/name), its reason
// as the action, its type and message.
func kubeEvent(e *unstructured.Unstructured, host string) *ctr.Event {
	obj := e.Object["involvedObject"]
	if obj == nil {
		obj = e.Object["regarding"] // events.k8s.io/v1
	}
	ref, _ := obj.(map[string]any)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	name := strings.ToLower(str(ref, "kind")) + "/" + str(ref, "name")
	if ns := str(ref, "namespace"); ns != "" {
		name = ns + "/" + name
	}
	ev := &ctr.Event{Time: kube.EventTime(e), Host: host, ID: str(ref, "uid"), Name: name,
		Action: str(e.Object, "reason"), Type: str(e.Object, "type"), Message: cmp.Or(str(e.Object, "message"), str(e.Object, "note")),
		Attributes: map[string]string{"namespace": e.GetNamespace(), "event": e.GetName()}}
	if n, ok := e.Object["count"].(int64); ok {
		ev.Attributes["count"] = strconv.FormatInt(n, 10)
	}
	if src, ok := e.Object["source"].(map[string]any); ok && str(src, "component") != "" {
		ev.Attributes["source"] = str(src, "component")
	}
	return ev
}

// followKube writes the events of the cluster: those since --since (as
// the API keeps them, an hour by default), then each as it is recorded
// or repeated, until ctx ends or --until. When the API server goes
// away it says so, and its informer resumes where it was once it is
// back. It says whether it read to the end.
func followKube(ctx context.Context, c *kube.Cluster, namespace string, o ctr.EventOptions, w *writer, errOut io.Writer) bool {
	r, err := c.Resolve(ctx, "events")
	if err != nil {
		fmt.Fprintf(errOut, "monctl: %v\n", err)
		return false
	}
	wake := make(chan struct{}, 1)
	watcher, err := c.WatchWith(ctx, r, kube.Selector{Namespace: namespace, AllNamespaces: namespace == ""}, kube.Hooks{Changed: func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}})
	if err != nil {
		fmt.Fprintf(errOut, "monctl: %v\n", err)
		return false
	}
	defer watcher.Close()
	host := "k8s/" + c.Context
	var since, until time.Time
	for _, b := range []struct {
		arg string
		t   *time.Time
	}{{o.Since, &since}, {o.Until, &until}} {
		if b.arg == "" {
			continue
		}
		v, err := timetypes.GetTimestamp(b.arg, time.Now())
		if err != nil {
			fmt.Fprintf(errOut, "monctl: %v\n", err)
			return false
		}
		sec, nsec, _ := timetypes.ParseTimestamps(v, 0)
		*b.t = time.Unix(sec, nsec)
	}
	// The window's events from the list, oldest first; without
	// --since, only what happens from now on, as docker events.
	watcher.Changes()
	if !since.IsZero() {
		var past []*ctr.Event
		for _, e := range watcher.Objects() {
			ev := kubeEvent(e, host)
			if !ev.Time.Before(since) && (until.IsZero() || !ev.Time.After(until)) {
				past = append(past, ev)
			}
		}
		slices.SortStableFunc(past, func(a, b *ctr.Event) int { return a.Time.Compare(b.Time) })
		for _, ev := range past {
			if w.event(ev) != nil {
				return false
			}
		}
	}
	if !until.IsZero() && !until.After(time.Now()) {
		return true
	}
	down := ""
	var stop <-chan time.Time
	if !until.IsZero() {
		stop = time.After(time.Until(until))
	}
	poll := time.NewTicker(time.Second) // to say an outage, which brings no change
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return true
		case <-stop:
			return true
		case <-wake:
		case <-poll.C:
			// An informer rides out a refused watch without a word: the
			// API server says whether it is away.
			switch err := c.Ping(ctx); {
			case err != nil && down == "":
				fmt.Fprintf(errOut, "monctl: %v (retrying)\n", err)
				down = err.Error()
			case err == nil && down != "":
				fmt.Fprintf(errOut, "monctl: %s is back\n", c.Where())
				down = ""
			}
		}
		changes, _ := watcher.Changes()
		for _, ch := range changes {
			if ch.Type == "DELETED" {
				continue // an event expired (--event-ttl): nothing happened
			}
			if w.event(kubeEvent(ch.Object, host)) != nil {
				return false
			}
		}
	}
}
