package kube

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/monctl/monctl/pkg/exposition"
)

func object(t *testing.T, j string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal([]byte(j), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// value is the value of the series of family name whose labels include
// the pairs given, and whether there is one.
func value(fams []exposition.Family, name string, labels ...string) (float64, bool) {
	for _, f := range fams {
		if f.Name != name {
			continue
		}
		for _, m := range f.Metrics {
			ok := true
			for i := 0; i+1 < len(labels); i += 2 {
				ok = ok && m.Labels.Get(labels[i]) == labels[i+1]
			}
			if ok {
				return m.Value, true
			}
		}
	}
	return 0, false
}

// TestFamilies: the series of kube-state-metrics for a crash-looping pod,
// a deployment short of replicas, a node not ready and a finished job,
// with its names and labels, so its alert rules read them unchanged.
func TestFamilies(t *testing.T) {
	fams := Families(Objects{Kind: "Pod", Items: []*unstructured.Unstructured{object(t, `{"kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1",
			"ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d", "controller": true}]},
			"spec": {"nodeName": "n1"},
			"status": {"phase": "Running", "podIP": "10.0.0.5", "conditions": [{"type": "Ready", "status": "False"}],
				"containerStatuses": [{"name": "app", "image": "web:1", "restartCount": 5, "ready": false,
					"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"reason": "Error"}}}]}}`)}},
		Objects{Kind: "Deployment", Items: []*unstructured.Unstructured{object(t, `{"kind": "Deployment", "metadata": {"name": "web", "namespace": "shop", "generation": 3},
			"spec": {"replicas": 3}, "status": {"replicas": 3, "availableReplicas": 2, "unavailableReplicas": 1, "observedGeneration": 3}}`)}},
		Objects{Kind: "Node", Items: []*unstructured.Unstructured{object(t, `{"kind": "Node", "metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "False"}],
			"nodeInfo": {"kubeletVersion": "v1.34.4"}}}`)}},
		Objects{Kind: "Job", Items: []*unstructured.Unstructured{object(t, `{"kind": "Job", "metadata": {"name": "backup", "namespace": "ops"}, "spec": {"completions": 1},
			"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}}`)}},
		Objects{Kind: "ConfigMap", Items: []*unstructured.Unstructured{object(t, `{"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "shop"}}`)}},
	)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"kube_pod_status_phase", []string{"namespace", "shop", "pod", "web-1", "uid", "u1", "phase", "Running"}, 1},
		{"kube_pod_status_phase", []string{"pod", "web-1", "phase", "Pending"}, 0},
		{"kube_pod_info", []string{"pod", "web-1", "node", "n1", "pod_ip", "10.0.0.5", "created_by_kind", "ReplicaSet", "created_by_name", "web-7d"}, 1},
		{"kube_pod_status_ready", []string{"pod", "web-1", "condition", "false"}, 1},
		{"kube_pod_container_status_restarts_total", []string{"namespace", "shop", "pod", "web-1", "container", "app"}, 5},
		{"kube_pod_container_status_waiting_reason", []string{"pod", "web-1", "container", "app", "reason", "CrashLoopBackOff"}, 1},
		{"kube_pod_container_status_waiting", []string{"container", "app"}, 1},
		{"kube_pod_container_status_running", []string{"container", "app"}, 0},
		{"kube_pod_container_status_last_terminated_reason", []string{"container", "app", "reason", "Error"}, 1},
		{"kube_deployment_spec_replicas", []string{"namespace", "shop", "deployment", "web"}, 3},
		{"kube_deployment_status_replicas_available", []string{"deployment", "web"}, 2},
		{"kube_deployment_status_replicas_unavailable", []string{"deployment", "web"}, 1},
		{"kube_deployment_metadata_generation", []string{"deployment", "web"}, 3},
		{"kube_node_status_condition", []string{"node", "n1", "condition", "Ready", "status", "true"}, 0},
		{"kube_node_status_condition", []string{"node", "n1", "condition", "Ready", "status", "false"}, 1},
		{"kube_node_info", []string{"node", "n1", "kubelet_version", "v1.34.4"}, 1},
		{"kube_job_status_succeeded", []string{"namespace", "ops", "job_name", "backup"}, 1},
		{"kube_job_complete", []string{"job_name", "backup", "condition", "true"}, 1},
	} {
		if v, ok := value(fams, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("%s%v: %v (found %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	for _, f := range fams {
		if f.Name == "kube_pod_container_status_restarts_total" && f.Type != exposition.Counter {
			t.Errorf("%s is a %s", f.Name, f.Type)
		}
		for _, m := range f.Metrics {
			for i := 1; i < len(m.Labels); i++ {
				if m.Labels[i-1].Name >= m.Labels[i].Name {
					t.Errorf("%s: labels not sorted: %v", f.Name, m.Labels)
				}
			}
		}
	}
	if _, ok := value(fams, "kube_configmap_info"); ok {
		t.Error("a kind kube-state-metrics is not asked for gave series")
	}
}
