package kube

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// discover lists the resource types the server serves, as kubectl's
// discovery does: the core group first, then every group at its
// preferred version, in the server's order. Only the types that can be
// listed and watched are kept; subresources are left out.
func (c *Cluster) discover(ctx context.Context) ([]Resource, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var groups metav1.APIGroupList
	if err := c.getJSON(ctx, "/apis", &groups); err != nil {
		return nil, err
	}
	paths := []string{"/api/v1"}
	gvs := []schema.GroupVersion{{Version: "v1"}}
	for _, g := range groups.Groups {
		paths = append(paths, "/apis/"+g.PreferredVersion.GroupVersion)
		gvs = append(gvs, schema.GroupVersion{Group: g.Name, Version: g.PreferredVersion.Version})
	}
	lists := make([]metav1.APIResourceList, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Go(func() { errs[i] = c.getJSON(ctx, p, &lists[i]) })
	}
	wg.Wait()
	if errs[0] != nil {
		return nil, errs[0] // without the core group, nothing works
	}
	var out []Resource
	for i, l := range lists {
		if errs[i] != nil {
			continue // an aggregated API that is down: its types only
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "watch") {
				continue
			}
			out = append(out, Resource{GVR: gvs[i].WithResource(r.Name), Kind: r.Kind, Namespaced: r.Namespaced,
				singular: r.SingularName, short: r.ShortNames})
		}
	}
	return out, nil
}

// getJSON decodes the answer to GET path into v.
func (c *Cluster) getJSON(ctx context.Context, path string, v any) error {
	res := c.raw.Get().AbsPath(path).SetHeader("Accept", "application/json").Do(ctx)
	body, err := res.Raw()
	if err != nil {
		return c.Explain(res.Error(), "discover", path) // the server's Status, which says why
	}
	return json.Unmarshal(body, v)
}

// Resolve finds the resource type arg names as kubectl does: its plural,
// singular or short name or its kind, in any case, optionally with its
// group (deployments.apps); the core group's first when two groups have
// it (events).
func (c *Cluster) Resolve(ctx context.Context, arg string) (Resource, error) {
	c.once.Do(func() { c.resources, c.discoverErr = c.discover(ctx) })
	if c.discoverErr != nil {
		return Resource{}, c.discoverErr
	}
	name, group, _ := strings.Cut(strings.ToLower(arg), ".")
	for _, r := range c.resources {
		if group != "" && r.GVR.Group != group {
			continue
		}
		if r.GVR.Resource == name || r.singular == name || strings.ToLower(r.Kind) == name || slices.Contains(r.short, name) {
			return r, nil
		}
	}
	return Resource{}, &NoSuchResourceError{Name: arg, Where: c.Where()}
}
