package kube

import (
	"slices"
	"testing"

	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"kind": kind, "metadata": map[string]any{"namespace": ns, "name": name}}}
	for k, v := range fields {
		u.Object[k] = v
	}
	return u
}

func pod(name, ip string, ports ...int64) *unstructured.Unstructured {
	var ps []any
	for _, p := range ports {
		ps = append(ps, map[string]any{"containerPort": p, "protocol": "TCP"})
	}
	c := map[string]any{"name": "main", "image": "img"}
	if ps != nil {
		c["ports"] = ps
	}
	return obj("Pod", "shop", name, map[string]any{
		"spec":   map[string]any{"containers": []any{c}},
		"status": map[string]any{"podIP": ip, "phase": "Running"},
	})
}

// A pod without an IP has a group with no targets (it goes, as in
// Prometheus); a container without ports is one target at the IP alone.
func TestPodGroup(t *testing.T) {
	if g := podGroup(pod("starting", "")); g.Source != "pod/shop/starting" || len(g.Targets) != 0 {
		t.Errorf("a pod without an IP: %+v", g)
	}
	g := podGroup(pod("web", "10.0.0.1"))
	if len(g.Targets) != 1 || g.Targets[0][model.AddressLabel] != "10.0.0.1" || g.Labels[namespaceLabel] != "shop" || g.Labels[meta+"pod_ready"] != "unknown" {
		t.Errorf("a pod without ports: %+v", g)
	}
	g = podGroup(pod("web", "10.0.0.1", 8080, 9090))
	if len(g.Targets) != 2 || g.Targets[1][model.AddressLabel] != "10.0.0.1:9090" || g.Targets[1][meta+"pod_container_port_number"] != "9090" {
		t.Errorf("a pod with two ports: %+v", g.Targets)
	}
}

// An endpoints object takes its service's labels and its pods'; a change
// of either rebuilds it, and a deleted one is sent without targets.
func TestGroupsFollowServicesAndPods(t *testing.T) {
	web := pod("web", "10.0.0.1", 8080, 9090)
	svc := obj("Service", "shop", "web", nil)
	svc.SetLabels(map[string]string{"tier": "front"})
	eps := obj("Endpoints", "shop", "web", map[string]any{"subsets": []any{map[string]any{
		"addresses": []any{map[string]any{"ip": "10.0.0.1", "targetRef": map[string]any{"kind": "Pod", "name": "web"}}},
		"ports":     []any{map[string]any{"name": "http", "port": int64(8080), "protocol": "TCP"}},
	}}})
	store := map[string]*unstructured.Unstructured{"shop/web": eps}
	pods := map[string]*unstructured.Unstructured{"shop/web": web}
	services := map[string]*unstructured.Unstructured{"shop/web": svc}
	g := &groups{role: RoleEndpoints, refs: map[string]map[string]bool{},
		get:     func(k string) *unstructured.Unstructured { return store[k] },
		objects: func() []*unstructured.Unstructured { return []*unstructured.Unstructured{eps} },
		lookup: related{Pod: func(k string) *unstructured.Unstructured { return pods[k] },
			Service: func(k string) *unstructured.Unstructured { return services[k] }}}
	tg := g.build(eps)
	// The endpoint's port, and the pod's other port, which no endpoint
	// covers.
	var addrs []string
	for _, t := range tg.Targets {
		addrs = append(addrs, string(t[model.AddressLabel]))
	}
	if !slices.Equal(addrs, []string{"10.0.0.1:8080", "10.0.0.1:9090"}) || tg.Labels[meta+"service_label_tier"] != "front" ||
		tg.Targets[0][meta+"pod_name"] != "web" || tg.Targets[0][meta+"pod_container_port_number"] != "8080" {
		t.Fatalf("the endpoints' group: %v %+v", addrs, tg)
	}

	svc2 := svc.DeepCopy()
	svc2.SetLabels(map[string]string{"tier": "back"})
	services["shop/web"] = svc2
	if out := g.changed(nil, []Change{{Type: "MODIFIED", Object: svc2}}, nil); len(out) != 1 || out[0].Labels[meta+"service_label_tier"] != "back" {
		t.Errorf("after the service changed: %+v", out)
	}
	web2 := web.DeepCopy()
	web2.SetLabels(map[string]string{"version": "2"})
	pods["shop/web"] = web2
	if out := g.changed(nil, nil, []Change{{Type: "MODIFIED", Object: web2}}); len(out) != 1 || out[0].Targets[0][meta+"pod_label_version"] != "2" {
		t.Errorf("after the pod changed: %+v", out)
	}
	if out := g.changed(nil, nil, []Change{{Type: "MODIFIED", Object: pod("other", "10.0.0.2")}}); len(out) != 0 {
		t.Errorf("a pod no endpoint refers to rebuilt %d groups", len(out))
	}
	delete(store, "shop/web")
	if out := g.changed([]Change{{Type: "DELETED", Object: eps}}, nil, nil); len(out) != 1 || out[0].Source != "endpoints/shop/web" || len(out[0].Targets) != 0 {
		t.Errorf("after the endpoints were deleted: %+v", out)
	}
}
