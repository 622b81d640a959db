package kube

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// discoveryServer answers discovery as an API server does: the core
// group, apps, and events.k8s.io, whose events shadow nothing.
func discoveryServer(t *testing.T) *httptest.Server {
	answers := map[string]string{
		"/apis": `{"groups": [
			{"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
			{"name": "events.k8s.io", "versions": [{"groupVersion": "events.k8s.io/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "events.k8s.io/v1", "version": "v1"}}]}`,
		"/api/v1": `{"groupVersion": "v1", "resources": [
			{"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": ["get", "list", "watch"], "shortNames": ["po"]},
			{"name": "pods/status", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get", "patch"]},
			{"name": "bindings", "singularName": "binding", "namespaced": true, "kind": "Binding", "verbs": ["create"]},
			{"name": "nodes", "singularName": "node", "namespaced": false, "kind": "Node", "verbs": ["list", "watch"], "shortNames": ["no"]},
			{"name": "events", "singularName": "event", "namespaced": true, "kind": "Event", "verbs": ["list", "watch"], "shortNames": ["ev"]}]}`,
		"/apis/apps/v1": `{"groupVersion": "apps/v1", "resources": [
			{"name": "deployments", "singularName": "deployment", "namespaced": true, "kind": "Deployment", "verbs": ["list", "watch"], "shortNames": ["deploy"]}]}`,
		"/apis/events.k8s.io/v1": `{"groupVersion": "events.k8s.io/v1", "resources": [
			{"name": "events", "singularName": "event", "namespaced": true, "kind": "Event", "verbs": ["list", "watch"], "shortNames": ["ev"]}]}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := answers[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestResolve: a type is found by any of its names, in any case, with
// its group or without (the core group's first), and only types that
// can be listed and watched are.
func TestResolve(t *testing.T) {
	srv := discoveryServer(t)
	kubeconfig := filepath.Join(t.TempDir(), "config")
	os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "+srv.URL+"}}]\n"+
		"users: [{name: u, user: {token: t}}]\ncontexts: [{name: lab, context: {cluster: c, user: u, namespace: shop}}]\ncurrent-context: lab\n"), 0o600)
	c, err := Connect(Options{Kubeconfig: kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	if c.Context != "lab" || c.Namespace != "shop" || c.Server != srv.URL {
		t.Errorf("connected to %+v", c)
	}
	for arg, want := range map[string]string{
		"pods": "pods", "po": "pods", "Pod": "pods", "pod": "pods", "deploy": "deployments.apps", "deployments.apps": "deployments.apps",
		"Deployment": "deployments.apps", "no": "nodes", "events": "events", "events.events.k8s.io": "events.events.k8s.io", "ev": "events",
	} {
		r, err := c.Resolve(context.Background(), arg)
		if err != nil || r.Name() != want {
			t.Errorf("%s: %s, %v; want %s", arg, r.Name(), err, want)
		}
	}
	if r, _ := c.Resolve(context.Background(), "no"); r.Namespaced {
		t.Error("nodes are not namespaced")
	}
	for _, bad := range []string{"bindings", "pods/status", "gizmos", "pods.apps"} {
		var nse *NoSuchResourceError
		if _, err := c.Resolve(context.Background(), bad); !errors.As(err, &nse) {
			t.Errorf("%s: %v, want no such resource", bad, err)
		}
	}
}
