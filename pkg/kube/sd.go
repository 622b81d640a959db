package kube

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/discovery/targetgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// SDConfig is what one entry of kubernetes_sd_configs asks for.
type SDConfig struct {
	Role string
	// Namespaces are those watched (empty: all); OwnNamespace adds the
	// cluster's default one (the context's, or the service account's).
	Namespaces   []string
	OwnNamespace bool
	// Selectors are the label and field selectors by role (pod,
	// service, endpoints, endpointslice, node).
	Selectors map[string]Selector
}

// SD is Prometheus's Kubernetes service discovery over monctl's
// informers: the same groups, as Run sends them to Prometheus's
// discovery manager.
type SD struct {
	connect func() (*Cluster, error)
	conf    SDConfig
	logger  *slog.Logger
}

// NewSD is the discovery conf asks for, on the cluster connect reaches.
// Errors go to logger at level Error, as Prometheus's mechanisms say
// theirs.
func NewSD(connect func() (*Cluster, error), conf SDConfig, logger *slog.Logger) *SD {
	return &SD{connect: connect, conf: conf, logger: logger}
}

// builtin is the resource type of a role.
func builtin(role string) Resource {
	switch role {
	case RolePod:
		return Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, Kind: "Pod", Namespaced: true}
	case RoleService:
		return Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: "services"}, Kind: "Service", Namespaced: true}
	case RoleEndpoints:
		return Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}, Kind: "Endpoints", Namespaced: true}
	case RoleEndpointSlice:
		return Resource{GVR: schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}, Kind: "EndpointSlice", Namespaced: true}
	default:
		return Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, Kind: "Node"}
	}
}

// watchSet is one resource type watched in every namespace asked for.
type watchSet []*Watcher

func (ws watchSet) get(key string) *unstructured.Unstructured {
	for _, w := range ws {
		if u := w.Get(key); u != nil {
			return u
		}
	}
	return nil
}

func (ws watchSet) synced() bool {
	for _, w := range ws {
		select {
		case <-w.Synced():
		default:
			return false
		}
	}
	return true
}

func (ws watchSet) objects() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, w := range ws {
		out = append(out, w.Objects()...)
	}
	return out
}

func (ws watchSet) changes() []Change {
	var out []Change
	for _, w := range ws {
		c, _ := w.Changes()
		out = append(out, c...)
	}
	return out
}

// retryEvery is how often a failing discovery asks whether the API
// server is back: its informers resume by themselves, but one whose
// objects did not change in the meantime has nothing to say so.
const retryEvery = 5 * time.Second

// Run sends the groups of every object of the role once all are listed,
// then those of each object that changed (a deleted one's without
// targets), until ctx ends.
func (d *SD) Run(ctx context.Context, up chan<- []*targetgroup.Group) {
	c, err := d.connect()
	if err != nil {
		d.logger.Error("Cannot reach the Kubernetes API server", "err", err.Error())
		return
	}
	namespaces := d.conf.Namespaces
	if d.conf.OwnNamespace {
		namespaces = append(namespaces, c.Namespace)
	}
	if len(namespaces) == 0 {
		namespaces = []string{""}
	}
	wake := make(chan struct{}, 1)
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	var failing atomic.Bool
	hooks := Hooks{Changed: signal, Failed: func(err error) {
		failing.Store(true)
		d.logger.Error("Cannot list and watch", "err", err.Error())
	}}
	// The role's own resource, then those its targets take labels from.
	roles := map[string][]string{RoleEndpoints: {RoleEndpoints, RoleService, RolePod}, RoleEndpointSlice: {RoleEndpointSlice, RoleService, RolePod}}[d.conf.Role]
	if roles == nil {
		roles = []string{d.conf.Role}
	}
	sets := map[string]watchSet{}
	for _, role := range roles {
		r := builtin(role)
		for _, ns := range namespaces {
			sel := d.conf.Selectors[role]
			sel.Namespace, sel.AllNamespaces = ns, ns == ""
			w := c.Start(r, sel, hooks)
			defer w.Close()
			sets[role] = append(sets[role], w)
			if !r.Namespaced {
				break
			}
		}
	}
	primary := sets[d.conf.Role]
	g := &groups{role: d.conf.Role, get: primary.get, objects: primary.objects, refs: map[string]map[string]bool{}}
	if len(roles) > 1 {
		g.lookup = related{Pod: sets[RolePod].get, Service: sets[RoleService].get}
	}
	retry := time.NewTicker(retryEvery)
	defer retry.Stop()
	sent := false
	for {
		all := false
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-retry.C:
			if !failing.Load() || c.Ping(ctx) != nil {
				continue
			}
			failing.Store(false)
			all = true
		}
		ready := true
		for _, role := range roles {
			ready = ready && sets[role].synced()
		}
		if !ready {
			continue
		}
		own := sets[d.conf.Role].changes()
		var services, pods []Change
		if len(roles) > 1 {
			services, pods = sets[RoleService].changes(), sets[RolePod].changes()
		}
		var tgs []*targetgroup.Group
		if sent {
			// Back from an outage (all), this has the objects deleted
			// meanwhile, which the informer's relist told.
			tgs = g.changed(own, services, pods)
		}
		if !sent || all {
			for _, u := range g.objects() {
				tgs = append(tgs, g.build(u))
			}
		}
		if sent && len(tgs) == 0 {
			continue
		}
		sent = true
		select {
		case up <- tgs:
		case <-ctx.Done():
			return
		}
	}
}

// groups builds the groups of one role, whose objects get and objects
// give.
type groups struct {
	role    string
	get     func(key string) *unstructured.Unstructured
	objects func() []*unstructured.Unstructured
	lookup  related
	// refs are, by pod, the endpoints objects or slices referring to it.
	refs map[string]map[string]bool
}

func (g *groups) build(u *unstructured.Unstructured) *targetgroup.Group {
	var tg *targetgroup.Group
	var pods []string
	switch g.role {
	case RolePod:
		tg = podGroup(u)
	case RoleService:
		tg = serviceGroup(u)
	case RoleNode:
		tg = nodeGroup(u)
	case RoleEndpoints:
		tg, pods = endpointsGroup(u, g.lookup)
	case RoleEndpointSlice:
		tg, pods = endpointSliceGroup(u, g.lookup)
	}
	for _, p := range pods {
		if g.refs[p] == nil {
			g.refs[p] = map[string]bool{}
		}
		g.refs[p][key(u.GetNamespace(), u.GetName())] = true
	}
	return tg
}

// changed are the groups to send after changes of the role's own
// objects, and of the services and pods its targets take labels from.
func (g *groups) changed(own, services, pods []Change) []*targetgroup.Group {
	var tgs []*targetgroup.Group
	dirty := map[string]bool{}
	for _, ch := range own {
		k := key(ch.Object.GetNamespace(), ch.Object.GetName())
		if ch.Type == "DELETED" {
			gone := g.build(ch.Object)
			gone.Labels, gone.Targets = nil, nil
			tgs = append(tgs, gone)
			continue
		}
		dirty[k] = true
	}
	for _, ch := range services {
		svc := key(ch.Object.GetNamespace(), ch.Object.GetName())
		if g.role == RoleEndpoints {
			dirty[svc] = true
			continue
		}
		for _, s := range g.objects() {
			if serviceOfSlice(s) == svc {
				dirty[key(s.GetNamespace(), s.GetName())] = true
			}
		}
	}
	for _, ch := range pods {
		p := key(ch.Object.GetNamespace(), ch.Object.GetName())
		for k := range g.refs[p] {
			dirty[k] = true
		}
		if ch.Type == "DELETED" {
			delete(g.refs, p) // rebuilt now, it is no longer referred to
		}
	}
	for k := range dirty {
		if u := g.get(k); u != nil {
			tgs = append(tgs, g.build(u))
		}
	}
	return tgs
}
