package kube

import (
	"net"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/util/strutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The target groups of Prometheus's kubernetes_sd_configs, one per
// object, under the labels and with the addresses its
// discovery/kubernetes gives them. They are built here from the
// informers' unstructured objects: that package's typed clients would
// double monctl's size and the memory of every verb at start.

const (
	meta           = model.MetaLabelPrefix + "kubernetes_"
	namespaceLabel = meta + "namespace"
)

// SD roles, as Prometheus names them.
const (
	RolePod           = "pod"
	RoleService       = "service"
	RoleEndpoints     = "endpoints"
	RoleEndpointSlice = "endpointslice"
	RoleNode          = "node"
)

func lv(s string) model.LabelValue { return model.LabelValue(s) }

// objectLabels adds an object's name, labels and annotations under
// role's prefix, each label and annotation also as *present_*="true".
func objectLabels(ls model.LabelSet, u *unstructured.Unstructured, role string) {
	ls[model.LabelName(meta+role+"_name")] = lv(u.GetName())
	for kind, m := range map[string]map[string]string{"label": u.GetLabels(), "annotation": u.GetAnnotations()} {
		for k, v := range m {
			n := strutil.SanitizeLabelName(k)
			ls[model.LabelName(meta+role+"_"+kind+"_"+n)] = lv(v)
			ls[model.LabelName(meta+role+"_"+kind+"present_"+n)] = "true"
		}
	}
}

func key(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// podLabels are the labels every target of a pod has.
func podLabels(p *unstructured.Unstructured) model.LabelSet {
	ls := model.LabelSet{
		meta + "pod_ip":        lv(str(p.Object, "status", "podIP")),
		meta + "pod_ready":     lv(podReady(p)),
		meta + "pod_phase":     lv(str(p.Object, "status", "phase")),
		meta + "pod_node_name": lv(str(p.Object, "spec", "nodeName")),
		meta + "pod_host_ip":   lv(str(p.Object, "status", "hostIP")),
		meta + "pod_uid":       lv(string(p.GetUID())),
	}
	objectLabels(ls, p, RolePod)
	for _, ref := range p.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			if ref.Kind != "" {
				ls[meta+"pod_controller_kind"] = lv(ref.Kind)
			}
			if ref.Name != "" {
				ls[meta+"pod_controller_name"] = lv(ref.Name)
			}
			break
		}
	}
	return ls
}

// podReady is the pod's Ready condition: true, false or unknown.
func podReady(p *unstructured.Unstructured) string {
	for _, c := range list(p.Object, "status", "conditions") {
		if str(c, "type") == "Ready" {
			return strings.ToLower(str(c, "status"))
		}
	}
	return "unknown"
}

// container is one container of a pod's spec.
type container struct {
	spec map[string]any
	init bool
}

// containers are a pod's containers, then its init containers.
func containers(p *unstructured.Unstructured) []container {
	var out []container
	for _, c := range list(p.Object, "spec", "containers") {
		out = append(out, container{spec: c})
	}
	for _, c := range list(p.Object, "spec", "initContainers") {
		out = append(out, container{spec: c, init: true})
	}
	return out
}

// containerID is the ID the pod's status gives the container.
func containerID(p *unstructured.Unstructured, c container) string {
	field := "containerStatuses"
	if c.init {
		field = "initContainerStatuses"
	}
	for _, s := range list(p.Object, "status", field) {
		if str(s, "name") == str(c.spec, "name") {
			return str(s, "containerID")
		}
	}
	return ""
}

// portLabels are the labels of one container port of a pod.
func portLabels(ls model.LabelSet, c container, port map[string]any) {
	ls[meta+"pod_container_name"] = lv(str(c.spec, "name"))
	ls[meta+"pod_container_image"] = lv(str(c.spec, "image"))
	ls[meta+"pod_container_port_name"] = lv(str(port, "name"))
	ls[meta+"pod_container_port_number"] = lv(strconv.FormatInt(int64(num(port, "containerPort")), 10))
	ls[meta+"pod_container_port_protocol"] = lv(str(port, "protocol"))
	ls[meta+"pod_container_init"] = lv(strconv.FormatBool(c.init))
}

// podGroup is a pod's group (role pod): a target per container port,
// or per container that has none (its address is the pod's IP alone);
// none while the pod has no IP.
func podGroup(p *unstructured.Unstructured) *targetgroup.Group {
	tg := &targetgroup.Group{Source: "pod/" + key(p.GetNamespace(), p.GetName())}
	ip := str(p.Object, "status", "podIP")
	if ip == "" {
		return tg
	}
	tg.Labels = podLabels(p)
	tg.Labels[namespaceLabel] = lv(p.GetNamespace())
	for _, c := range containers(p) {
		id := containerID(p, c)
		ports := list(c.spec, "ports")
		if len(ports) == 0 {
			tg.Targets = append(tg.Targets, model.LabelSet{
				model.AddressLabel:           lv(ip),
				meta + "pod_container_name":  lv(str(c.spec, "name")),
				meta + "pod_container_id":    lv(id),
				meta + "pod_container_image": lv(str(c.spec, "image")),
				meta + "pod_container_init":  lv(strconv.FormatBool(c.init)),
			})
			continue
		}
		for _, port := range ports {
			t := model.LabelSet{
				model.AddressLabel:        lv(net.JoinHostPort(ip, strconv.FormatInt(int64(num(port, "containerPort")), 10))),
				meta + "pod_container_id": lv(id),
			}
			portLabels(t, c, port)
			tg.Targets = append(tg.Targets, t)
		}
	}
	return tg
}

// serviceLabels are the labels every target of a service has, and those
// an endpoints object or slice of it gets.
func serviceLabels(s *unstructured.Unstructured) model.LabelSet {
	ls := model.LabelSet{namespaceLabel: lv(s.GetNamespace())}
	objectLabels(ls, s, RoleService)
	return ls
}

// serviceGroup is a service's group (role service): a target per port,
// at the service's DNS name.
func serviceGroup(s *unstructured.Unstructured) *targetgroup.Group {
	tg := &targetgroup.Group{Source: "svc/" + key(s.GetNamespace(), s.GetName()), Labels: serviceLabels(s)}
	typ := str(s.Object, "spec", "type")
	for _, port := range list(s.Object, "spec", "ports") {
		n := strconv.FormatInt(int64(num(port, "port")), 10)
		t := model.LabelSet{
			model.AddressLabel:             lv(net.JoinHostPort(s.GetName()+"."+s.GetNamespace()+".svc", n)),
			meta + "service_port_name":     lv(str(port, "name")),
			meta + "service_port_number":   lv(n),
			meta + "service_port_protocol": lv(str(port, "protocol")),
			meta + "service_type":          lv(typ),
		}
		if typ == "ExternalName" {
			t[meta+"service_external_name"] = lv(str(s.Object, "spec", "externalName"))
		} else {
			t[meta+"service_cluster_ip"] = lv(str(s.Object, "spec", "clusterIP"))
		}
		if typ == "LoadBalancer" {
			t[meta+"service_loadbalancer_ip"] = lv(str(s.Object, "spec", "loadBalancerIP"))
		}
		tg.Targets = append(tg.Targets, t)
	}
	return tg
}

// nodeGroup is a node's group (role node): one target, its kubelet, at
// its first address of the first type of InternalIP, InternalDNS,
// ExternalIP, ExternalDNS, LegacyHostIP, Hostname; none when it has no
// address.
func nodeGroup(n *unstructured.Unstructured) *targetgroup.Group {
	tg := &targetgroup.Group{Source: "node/" + n.GetName(), Labels: model.LabelSet{meta + "node_provider_id": lv(str(n.Object, "spec", "providerID"))}}
	objectLabels(tg.Labels, n, RoleNode)
	first := map[string]string{}
	for _, a := range list(n.Object, "status", "addresses") {
		if _, ok := first[str(a, "type")]; !ok {
			first[str(a, "type")] = str(a, "address")
		}
	}
	for _, typ := range [...]string{"InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"} {
		addr, ok := first[typ]
		if !ok {
			continue
		}
		port := strconv.FormatInt(int64(num(n.Object, "status", "daemonEndpoints", "kubeletEndpoint", "Port")), 10)
		t := model.LabelSet{model.AddressLabel: lv(net.JoinHostPort(addr, port)), model.InstanceLabel: lv(n.GetName())}
		for ty, a := range first {
			t[model.LabelName(strutil.SanitizeLabelName(meta+"node_address_"+ty))] = lv(a)
		}
		tg.Targets = append(tg.Targets, t)
		break
	}
	return tg
}

// related finds the pods and services an endpoints object or slice
// refers to (nil: not watched, or gone).
type related struct {
	Pod, Service func(key string) *unstructured.Unstructured
}

// endpointTargets gathers the targets of an endpoints object or slice:
// each address and port, with the labels of the pod it is, and a target
// for each port of those pods that no endpoint port covers.
type endpointTargets struct {
	lookup  related
	targets []model.LabelSet
	pods    []*seenPod
	// Pods are the keys of the pods referred to, so that a change of one
	// rebuilds the group.
	Pods []string
}

type seenPod struct {
	pod   *unstructured.Unstructured
	ports []int64
}

// add adds the target t of an endpoint at port (0: none), which is the
// object ref refers to (nil: none).
func (e *endpointTargets) add(t model.LabelSet, ref map[string]any, namespace string, port int64) {
	if ref == nil || str(ref, "kind") != "Pod" || e.lookup.Pod == nil {
		e.targets = append(e.targets, t)
		return
	}
	k := key(ns(ref, namespace), str(ref, "name"))
	pod := e.lookup.Pod(k)
	e.Pods = append(e.Pods, k)
	if pod == nil {
		e.targets = append(e.targets, t)
		return
	}
	var sp *seenPod
	for _, s := range e.pods {
		if s.pod == pod {
			sp = s
		}
	}
	if sp == nil {
		sp = &seenPod{pod: pod}
		e.pods = append(e.pods, sp)
	}
	t = t.Merge(podLabels(pod))
	if port != 0 {
		if c, cport := containerPort(pod, port); cport != nil {
			portLabels(t, c, cport)
		}
		sp.ports = append(sp.ports, port)
	}
	e.targets = append(e.targets, t)
}

// ns is a reference's namespace, else the referrer's.
func ns(ref map[string]any, namespace string) string {
	if n := str(ref, "namespace"); n != "" {
		return n
	}
	return namespace
}

// containerPort is the container port of pod numbered port.
func containerPort(pod *unstructured.Unstructured, port int64) (container, map[string]any) {
	for _, c := range containers(pod) {
		for _, p := range list(c.spec, "ports") {
			if int64(num(p, "containerPort")) == port {
				return c, p
			}
		}
	}
	return container{}, nil
}

// done adds the container ports of the pods seen that no endpoint
// covered, and gives the targets.
func (e *endpointTargets) done() []model.LabelSet {
	for _, sp := range e.pods {
		ip := str(sp.pod.Object, "status", "podIP")
		if ip == "" {
			continue
		}
		for _, c := range containers(sp.pod) {
			for _, port := range list(c.spec, "ports") {
				n := int64(num(port, "containerPort"))
				covered := false
				for _, p := range sp.ports {
					covered = covered || p == n
				}
				if covered {
					continue
				}
				t := model.LabelSet{model.AddressLabel: lv(net.JoinHostPort(ip, strconv.FormatInt(n, 10)))}
				portLabels(t, c, port)
				e.targets = append(e.targets, t.Merge(podLabels(sp.pod)))
			}
		}
	}
	return e.targets
}

// endpointsGroup is an endpoints object's group (role endpoints), and
// the keys of the pods it refers to.
func endpointsGroup(ep *unstructured.Unstructured, l related) (*targetgroup.Group, []string) {
	tg := &targetgroup.Group{Source: "endpoints/" + key(ep.GetNamespace(), ep.GetName()), Labels: model.LabelSet{}}
	if l.Service != nil {
		if s := l.Service(key(ep.GetNamespace(), ep.GetName())); s != nil {
			tg.Labels = serviceLabels(s)
		}
	}
	tg.Labels[namespaceLabel] = lv(ep.GetNamespace())
	objectLabels(tg.Labels, ep, RoleEndpoints)
	e := &endpointTargets{lookup: l}
	for _, subset := range list(ep.Object, "subsets") {
		for _, port := range list(subset, "ports") {
			n := int64(num(port, "port"))
			for _, kind := range [...]struct{ ready, field string }{{"true", "addresses"}, {"false", "notReadyAddresses"}} {
				for _, addr := range list(subset, kind.field) {
					t := model.LabelSet{
						model.AddressLabel:              lv(net.JoinHostPort(str(addr, "ip"), strconv.FormatInt(n, 10))),
						meta + "endpoint_port_name":     lv(str(port, "name")),
						meta + "endpoint_port_protocol": lv(str(port, "protocol")),
						meta + "endpoint_ready":         lv(kind.ready),
					}
					ref, _ := addr["targetRef"].(map[string]any)
					if ref != nil {
						t[meta+"endpoint_address_target_kind"] = lv(str(ref, "kind"))
						t[meta+"endpoint_address_target_name"] = lv(str(ref, "name"))
					}
					if v := str(addr, "nodeName"); v != "" {
						t[meta+"endpoint_node_name"] = lv(v)
					}
					if v := str(addr, "hostname"); v != "" {
						t[meta+"endpoint_hostname"] = lv(v)
					}
					e.add(t, ref, ep.GetNamespace(), n)
				}
			}
		}
	}
	tg.Targets = e.done()
	return tg, e.Pods
}

// serviceOfSlice is the key of the service an endpoint slice belongs to
// ("" when its label does not say).
func serviceOfSlice(s *unstructured.Unstructured) string {
	if name := s.GetLabels()["kubernetes.io/service-name"]; name != "" {
		return key(s.GetNamespace(), name)
	}
	return ""
}

// endpointSliceGroup is an endpoint slice's group (role
// endpointslice), and the keys of the pods it refers to.
func endpointSliceGroup(s *unstructured.Unstructured, l related) (*targetgroup.Group, []string) {
	tg := &targetgroup.Group{Source: "endpointslice/" + key(s.GetNamespace(), s.GetName()), Labels: model.LabelSet{
		namespaceLabel:                      lv(s.GetNamespace()),
		meta + "endpointslice_address_type": lv(str(s.Object, "addressType")),
	}}
	objectLabels(tg.Labels, s, RoleEndpointSlice)
	if svc := serviceOfSlice(s); svc != "" && l.Service != nil {
		if svc := l.Service(svc); svc != nil {
			tg.Labels = tg.Labels.Merge(serviceLabels(svc))
		}
	}
	e := &endpointTargets{lookup: l}
	for _, ep := range list(s.Object, "endpoints") {
		for _, port := range list(s.Object, "ports") {
			_, hasPort := port["port"]
			n := int64(num(port, "port"))
			for _, a := range strs(ep, "addresses") {
				t := model.LabelSet{model.AddressLabel: lv(a)}
				if hasPort {
					t[model.AddressLabel] = lv(net.JoinHostPort(a, strconv.FormatInt(n, 10)))
					t[meta+"endpointslice_port"] = lv(strconv.FormatInt(n, 10))
				}
				for label, field := range map[string]string{"port_name": "name", "port_protocol": "protocol", "port_app_protocol": "appProtocol"} {
					if v, ok := port[field].(string); ok {
						t[model.LabelName(meta+"endpointslice_"+label)] = lv(v)
					}
				}
				for _, cond := range [...]string{"ready", "serving", "terminating"} {
					if v, ok := unstructuredBool(ep, "conditions", cond); ok {
						t[model.LabelName(meta+"endpointslice_endpoint_conditions_"+cond)] = lv(strconv.FormatBool(v))
					}
				}
				ref, _ := ep["targetRef"].(map[string]any)
				if ref != nil {
					t[meta+"endpointslice_address_target_kind"] = lv(str(ref, "kind"))
					t[meta+"endpointslice_address_target_name"] = lv(str(ref, "name"))
				}
				for label, field := range map[string]string{"endpoint_hostname": "hostname", "endpoint_node_name": "nodeName", "endpoint_zone": "zone"} {
					if v, ok := ep[field].(string); ok {
						t[model.LabelName(meta+"endpointslice_"+label)] = lv(v)
					}
				}
				topology, _ := ep["deprecatedTopology"].(map[string]any)
				for k, v := range topology {
					n := strutil.SanitizeLabelName(k)
					v, _ := v.(string)
					t[model.LabelName(meta+"endpointslice_endpoint_topology_"+n)] = lv(v)
					t[model.LabelName(meta+"endpointslice_endpoint_topology_present_"+n)] = "true"
				}
				port := n
				if !hasPort {
					port = 0
				}
				e.add(t, ref, s.GetNamespace(), port)
			}
		}
	}
	tg.Targets = e.done()
	return tg, e.Pods
}

func strs(o map[string]any, path ...string) []string {
	v, _, _ := unstructured.NestedFieldNoCopy(o, path...)
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func unstructuredBool(o map[string]any, path ...string) (bool, bool) {
	v, _, _ := unstructured.NestedFieldNoCopy(o, path...)
	b, ok := v.(bool)
	return b, ok
}
