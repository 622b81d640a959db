package kube

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/monctl/monctl/pkg/exposition"
)

// Objects are objects of one kind.
type Objects struct {
	Kind  string // Pod, Deployment...
	Items []*unstructured.Unstructured
}

// Families are the series kube-state-metrics (v2) would expose for the
// objects of the kinds it knows among sets — pods, deployments,
// statefulsets, daemonsets, nodes and jobs — under its names and
// labels, so that the alert rules written for it (crash-looping pods,
// unavailable replicas, nodes not ready) run unchanged. Objects of other
// kinds give nothing.
func Families(sets ...Objects) []exposition.Family {
	b := &builder{fams: map[string]*exposition.Family{}}
	for _, set := range sets {
		add := map[string]func(*unstructured.Unstructured){"Pod": b.pod, "Deployment": b.deployment, "StatefulSet": b.statefulSet,
			"DaemonSet": b.daemonSet, "Node": b.node, "Job": b.job}[set.Kind]
		if add == nil {
			continue
		}
		for _, o := range set.Items {
			add(o)
		}
	}
	out := make([]exposition.Family, 0, len(b.order))
	for _, name := range b.order {
		out = append(out, *b.fams[name])
	}
	return out
}

// builder gathers the series of a sample by family, in the order each
// family first came.
type builder struct {
	fams  map[string]*exposition.Family
	order []string
}

// add adds a series; labels are name, value pairs.
func (b *builder) add(name string, typ exposition.Type, help string, value float64, labels ...string) {
	f := b.fams[name]
	if f == nil {
		f = &exposition.Family{Name: name, Type: typ, Help: help}
		b.fams[name] = f
		b.order = append(b.order, name)
	}
	ls := make(exposition.Labels, 0, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		ls = append(ls, exposition.Label{Name: labels[i], Value: labels[i+1]})
	}
	slices.SortFunc(ls, func(a, b exposition.Label) int { return strings.Compare(a.Name, b.Name) })
	f.Metrics = append(f.Metrics, exposition.Metric{Labels: ls, Value: value})
}

func gauge(b *builder, name, help string, v float64, labels ...string) {
	b.add(name, exposition.Gauge, help, v, labels...)
}

func boolean(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// str, num and list read a field of an object, "" or 0 or nil when it
// has none.
func str(o map[string]any, path ...string) string {
	v, _, _ := unstructured.NestedFieldNoCopy(o, path...)
	s, _ := v.(string)
	return s
}

func num(o map[string]any, path ...string) float64 {
	v, _, _ := unstructured.NestedFieldNoCopy(o, path...)
	switch v := v.(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	case int:
		return float64(v)
	}
	return 0
}

func list(o map[string]any, path ...string) []map[string]any {
	v, _, _ := unstructured.NestedFieldNoCopy(o, path...)
	items, _ := v.([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// conditionStatus writes a condition's status as kube-state-metrics'
// condition label does: true, false or unknown, one series each.
func (b *builder) condition(name, help, status string, labels ...string) {
	for _, s := range []string{"true", "false", "unknown"} {
		gauge(b, name, help, boolean(strings.EqualFold(status, s)), append(slices.Clone(labels), "condition", s)...)
	}
}

func (b *builder) pod(p *unstructured.Unstructured) {
	o := p.Object
	id := []string{"namespace", p.GetNamespace(), "pod", p.GetName(), "uid", string(p.GetUID())}
	createdKind, createdName := "<none>", "<none>"
	for _, ref := range p.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			createdKind, createdName = ref.Kind, ref.Name
		}
	}
	gauge(b, "kube_pod_info", "Information about pod.", 1, append(slices.Clone(id), "node", str(o, "spec", "nodeName"),
		"host_ip", str(o, "status", "hostIP"), "pod_ip", str(o, "status", "podIP"), "created_by_kind", createdKind, "created_by_name", createdName,
		"priority_class", str(o, "spec", "priorityClassName"))...)
	phase := str(o, "status", "phase")
	for _, ph := range []string{"Pending", "Succeeded", "Failed", "Unknown", "Running"} {
		gauge(b, "kube_pod_status_phase", "The pods current phase.", boolean(phase == ph), append(slices.Clone(id), "phase", ph)...)
	}
	for _, c := range list(o, "status", "conditions") {
		if str(c, "type") == "Ready" {
			b.condition("kube_pod_status_ready", "Describes whether the pod is ready to serve requests.", str(c, "status"), id...)
		}
	}
	if t := p.GetCreationTimestamp(); !t.IsZero() {
		gauge(b, "kube_pod_created", "Unix creation timestamp", float64(t.Unix()), id...)
	}
	for _, cs := range list(o, "status", "containerStatuses") {
		cid := append(slices.Clone(id), "container", str(cs, "name"))
		gauge(b, "kube_pod_container_info", "Information about a container in a pod.", 1, append(slices.Clone(cid),
			"image", str(cs, "image"), "image_id", str(cs, "imageID"), "container_id", str(cs, "containerID"))...)
		b.add("kube_pod_container_status_restarts_total", exposition.Counter, "The number of container restarts per container.", num(cs, "restartCount"), cid...)
		ready, _, _ := unstructured.NestedBool(cs, "ready")
		gauge(b, "kube_pod_container_status_ready", "Describes whether the containers readiness check succeeded.", boolean(ready), cid...)
		state, _ := cs["state"].(map[string]any)
		_, waiting := state["waiting"]
		_, running := state["running"]
		_, terminated := state["terminated"]
		gauge(b, "kube_pod_container_status_waiting", "Describes whether the container is currently in waiting state.", boolean(waiting), cid...)
		gauge(b, "kube_pod_container_status_running", "Describes whether the container is currently in running state.", boolean(running), cid...)
		gauge(b, "kube_pod_container_status_terminated", "Describes whether the container is currently in terminated state.", boolean(terminated), cid...)
		if reason := str(cs, "state", "waiting", "reason"); waiting && reason != "" {
			gauge(b, "kube_pod_container_status_waiting_reason", "Describes the reason the container is currently in waiting state.", 1, append(slices.Clone(cid), "reason", reason)...)
		}
		if reason := str(cs, "state", "terminated", "reason"); terminated && reason != "" {
			gauge(b, "kube_pod_container_status_terminated_reason", "Describes the reason the container is currently in terminated state.", 1, append(slices.Clone(cid), "reason", reason)...)
		}
		if reason := str(cs, "lastState", "terminated", "reason"); reason != "" {
			gauge(b, "kube_pod_container_status_last_terminated_reason", "Describes the last reason the container was in terminated state.", 1, append(slices.Clone(cid), "reason", reason)...)
		}
	}
}

// field is a gauge read from one numeric field of an object.
type field struct {
	name, help string
	path       []string
}

// fields adds a series per field of o, each labelled id.
func (b *builder) fields(o map[string]any, id []string, fs ...field) {
	for _, f := range fs {
		gauge(b, f.name, f.help, num(o, f.path...), id...)
	}
}

func (b *builder) deployment(d *unstructured.Unstructured) {
	b.fields(d.Object, []string{"namespace", d.GetNamespace(), "deployment", d.GetName()},
		field{"kube_deployment_spec_replicas", "Number of desired pods for a deployment.", []string{"spec", "replicas"}},
		field{"kube_deployment_status_replicas", "The number of replicas per deployment.", []string{"status", "replicas"}},
		field{"kube_deployment_status_replicas_available", "The number of available replicas per deployment.", []string{"status", "availableReplicas"}},
		field{"kube_deployment_status_replicas_unavailable", "The number of unavailable replicas per deployment.", []string{"status", "unavailableReplicas"}},
		field{"kube_deployment_status_replicas_updated", "The number of updated replicas per deployment.", []string{"status", "updatedReplicas"}},
		field{"kube_deployment_status_replicas_ready", "The number of ready replicas per deployment.", []string{"status", "readyReplicas"}},
		field{"kube_deployment_status_observed_generation", "The generation observed by the deployment controller.", []string{"status", "observedGeneration"}},
		field{"kube_deployment_metadata_generation", "Sequence number representing a specific generation of the desired state.", []string{"metadata", "generation"}})
}

func (b *builder) statefulSet(s *unstructured.Unstructured) {
	b.fields(s.Object, []string{"namespace", s.GetNamespace(), "statefulset", s.GetName()},
		field{"kube_statefulset_replicas", "Number of desired pods for a StatefulSet.", []string{"spec", "replicas"}},
		field{"kube_statefulset_status_replicas", "The number of replicas per StatefulSet.", []string{"status", "replicas"}},
		field{"kube_statefulset_status_replicas_ready", "The number of ready replicas per StatefulSet.", []string{"status", "readyReplicas"}},
		field{"kube_statefulset_status_replicas_current", "The number of current replicas per StatefulSet.", []string{"status", "currentReplicas"}},
		field{"kube_statefulset_status_replicas_updated", "The number of updated replicas per StatefulSet.", []string{"status", "updatedReplicas"}},
		field{"kube_statefulset_status_observed_generation", "The generation observed by the StatefulSet controller.", []string{"status", "observedGeneration"}},
		field{"kube_statefulset_metadata_generation", "Sequence number representing a specific generation of the desired state for the StatefulSet.", []string{"metadata", "generation"}})
}

func (b *builder) daemonSet(d *unstructured.Unstructured) {
	var fs []field
	for _, f := range [][2]string{
		{"kube_daemonset_status_desired_number_scheduled", "desiredNumberScheduled"},
		{"kube_daemonset_status_current_number_scheduled", "currentNumberScheduled"},
		{"kube_daemonset_status_number_ready", "numberReady"},
		{"kube_daemonset_status_number_available", "numberAvailable"},
		{"kube_daemonset_status_number_unavailable", "numberUnavailable"},
		{"kube_daemonset_status_number_misscheduled", "numberMisscheduled"},
		{"kube_daemonset_status_updated_number_scheduled", "updatedNumberScheduled"},
	} {
		fs = append(fs, field{f[0], "The daemonset's status." + f[1] + ".", []string{"status", f[1]}})
	}
	b.fields(d.Object, []string{"namespace", d.GetNamespace(), "daemonset", d.GetName()}, fs...)
}

func (b *builder) node(n *unstructured.Unstructured) {
	o, id := n.Object, []string{"node", n.GetName()}
	internalIP := ""
	for _, a := range list(o, "status", "addresses") {
		if str(a, "type") == "InternalIP" {
			internalIP = str(a, "address")
		}
	}
	gauge(b, "kube_node_info", "Information about a cluster node.", 1, append(slices.Clone(id),
		"kernel_version", str(o, "status", "nodeInfo", "kernelVersion"), "os_image", str(o, "status", "nodeInfo", "osImage"),
		"container_runtime_version", str(o, "status", "nodeInfo", "containerRuntimeVersion"), "kubelet_version", str(o, "status", "nodeInfo", "kubeletVersion"),
		"provider_id", str(o, "spec", "providerID"), "internal_ip", internalIP)...)
	unschedulable, _, _ := unstructured.NestedBool(o, "spec", "unschedulable")
	gauge(b, "kube_node_spec_unschedulable", "Whether a node can schedule new pods.", boolean(unschedulable), id...)
	for _, c := range list(o, "status", "conditions") {
		for _, s := range []string{"true", "false", "unknown"} {
			gauge(b, "kube_node_status_condition", "The condition of a cluster node.", boolean(strings.EqualFold(str(c, "status"), s)),
				append(slices.Clone(id), "condition", str(c, "type"), "status", s)...)
		}
	}
}

func (b *builder) job(j *unstructured.Unstructured) {
	o, id := j.Object, []string{"namespace", j.GetNamespace(), "job_name", j.GetName()}
	gauge(b, "kube_job_status_succeeded", "The number of pods which reached Phase Succeeded.", num(o, "status", "succeeded"), id...)
	gauge(b, "kube_job_status_failed", "The number of pods which reached Phase Failed.", num(o, "status", "failed"), id...)
	gauge(b, "kube_job_status_active", "The number of actively running pods.", num(o, "status", "active"), id...)
	if _, ok, _ := unstructured.NestedFieldNoCopy(o, "spec", "completions"); ok {
		gauge(b, "kube_job_spec_completions", "The desired number of successfully finished pods the job should be run with.", num(o, "spec", "completions"), id...)
	}
	for _, c := range list(o, "status", "conditions") {
		switch str(c, "type") {
		case "Complete":
			b.condition("kube_job_complete", "The job has completed its execution.", str(c, "status"), id...)
		case "Failed":
			b.condition("kube_job_failed", "The job has failed its execution.", str(c, "status"), id...)
		}
	}
}
