//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/monctl/monctl/internal/testkube"
)

// startKube runs the real API server for a test and returns it with an
// admin client.
func startKube(t *testing.T) (*testkube.Cluster, *kubernetes.Clientset, dynamic.Interface) {
	t.Helper()
	c, err := testkube.Start(t.TempDir(), tool(t, "etcd"), tool(t, "kube-apiserver"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, cs, dyn
}

// makePod makes a pod and sets its status as a kubelet would: phase,
// node, IP, each container's readiness and restarts.
func makePod(t *testing.T, cs *kubernetes.Clientset, ns, name, node string, phase corev1.PodPhase, ready bool, restarts int32) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "main", Image: "monctl-workload:e2e"}}}}
	made, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	made.Status = corev1.PodStatus{Phase: phase, PodIP: "127.0.0.1", HostIP: "127.0.0.1",
		ContainerStatuses: []corev1.ContainerStatus{{Name: "main", Ready: ready, RestartCount: restarts, Image: "monctl-workload:e2e"}}}
	if phase == corev1.PodRunning {
		made.Status.ContainerStatuses[0].State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Now()}
	}
	if ready {
		made.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, made, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestWatchKubernetes: watch k8s against a real kube-apiserver. Pods of
// two namespaces come as the API gives them (-o json) and with the
// columns kubectl prints (the server's table, NAMESPACE first under -A);
// a custom resource made during the test is watched with no code for it,
// its printer columns included; a token that may list pods in one
// namespace only gets them, and is told what it may not (exit 3); an
// unknown type exits 1.
func TestWatchKubernetes(t *testing.T) {
	kc, cs, dyn := startKube(t)
	ctx := context.Background()
	for _, ns := range []string{"team-a", "team-b"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	makePod(t, cs, "team-a", "web", "node-1", corev1.PodRunning, true, 0)
	makePod(t, cs, "team-a", "flaky", "node-1", corev1.PodRunning, false, 7)
	makePod(t, cs, "team-b", "db", "node-2", corev1.PodPending, false, 0)
	env := []string{"KUBECONFIG=" + kc.Kubeconfig}

	out, errOut, code := monctlEnv(t, env, "watch", "k8s", "pods", "-A", "--once", "-o", "json")
	var pods []corev1.Pod
	if err := json.Unmarshal([]byte(out), &pods); code != 0 || err != nil || len(pods) != 3 {
		t.Fatalf("pods -A -o json: exit %d, %v, %d pods: %s", code, err, len(pods), errOut)
	}
	// kubectl of the server's release is the reference.
	kubectl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(tool(t, "kubectl"), append([]string{"--kubeconfig", kc.Kubeconfig}, args...)...)
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl %v: %v", args, err)
		}
		return string(b)
	}
	var want corev1.PodList
	if err := json.Unmarshal([]byte(kubectl("get", "pods", "-A", "-o", "json")), &want); err != nil || len(want.Items) != 3 {
		t.Fatalf("kubectl get pods -A -o json: %v, %d pods", err, len(want.Items))
	}
	for _, w := range want.Items {
		i := slices.IndexFunc(pods, func(p corev1.Pod) bool { return p.Namespace == w.Namespace && p.Name == w.Name })
		if i < 0 {
			t.Errorf("%s/%s is missing", w.Namespace, w.Name)
			continue
		}
		p := pods[i]
		if p.Status.Phase != w.Status.Phase || p.Spec.NodeName != w.Spec.NodeName || p.UID != w.UID ||
			p.Status.ContainerStatuses[0].RestartCount != w.Status.ContainerStatuses[0].RestartCount ||
			p.Status.ContainerStatuses[0].Ready != w.Status.ContainerStatuses[0].Ready {
			t.Errorf("%s/%s: monctl says %+v, kubectl %+v", w.Namespace, w.Name, p.Status, w.Status)
		}
	}

	// The table: kubectl's columns and rows, but for AGE, which each
	// renders at its own moment.
	withoutAge := func(table string) []string {
		var out []string
		for _, l := range lines(table) {
			f := strings.Fields(l)
			out = append(out, strings.Join(f[:len(f)-1], " "))
		}
		return out
	}
	out, errOut, code = monctlEnv(t, env, "watch", "k8s", "po", "-A", "--once")
	if code != 0 || !strings.Contains(out, "team-a") {
		t.Fatalf("po -A: exit %d: %s%s", code, out, errOut)
	}
	ours, theirs := withoutAge(out)[1:], withoutAge(kubectl("get", "pods", "-A")) // ours has a time line first
	if !slices.Equal(ours, theirs) {
		t.Errorf("watch k8s po -A:\n%s\nkubectl get pods -A:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
	}
	if len(theirs) != 4 || theirs[0] != "NAMESPACE NAME READY STATUS RESTARTS" || theirs[1] != "team-a flaky 0/1 Running 7" {
		t.Errorf("kubectl's table is not what this test expects:\n%s", strings.Join(theirs, "\n"))
	}
	out, _, _ = monctlEnv(t, env, "watch", "k8s", "po", "-A", "--once", "--no-headers")
	if rows := lines(out); len(rows) != 3 { // no header, no time line
		t.Errorf("po -A --no-headers:\n%s", out)
	}
	out, _, _ = monctlEnv(t, env, "watch", "k8s", "pods", "-n", "team-a", "--once")
	if h := strings.Fields(lines(out)[1]); !slices.Equal(h, []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}) {
		t.Errorf("kubectl's columns for pods in a namespace: %q", h)
	}

	// Events: warnings first, then the newest.
	for i, ev := range []struct{ name, typ, reason string }{{"web.1", "Normal", "Started"}, {"flaky.1", "Warning", "BackOff"}, {"web.2", "Normal", "Pulled"}} {
		at := metav1.NewTime(time.Now().Add(time.Duration(i) * time.Second))
		if _, err := cs.CoreV1().Events("team-a").Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: ev.name},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "team-a", Name: strings.Split(ev.name, ".")[0]},
			Type:           ev.typ, Reason: ev.reason, Message: ev.reason + " <b>x</b>", FirstTimestamp: at, LastTimestamp: at, Count: 1}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code = monctlEnv(t, env, "watch", "k8s", "events", "-n", "team-a", "--once", "--no-headers")
	var reasons []string
	for _, l := range lines(out) {
		if f := strings.Fields(l); len(f) > 2 {
			reasons = append(reasons, f[2]) // LAST SEEN, TYPE, REASON, ...
		}
	}
	if code != 0 || !slices.Equal(reasons, []string{"BackOff", "Pulled", "Started"}) {
		t.Errorf("events, warnings first then the newest: exit %d, %q:\n%s%s", code, reasons, out, errOut)
	}

	// Questions and checks over kube-state-metrics' series.
	out, errOut, code = monctlEnv(t, env, "watch", "k8s", "pods", "-A", "--once", "-o", "json", "--query", `sum by (namespace) (kube_pod_status_phase{phase="Running"})`)
	if code != 0 || !regexp.MustCompile(`\{"metric":\{"namespace":"team-a"\},"value":\[[0-9.]+,"2"\]\}`).MatchString(out) {
		t.Errorf("--query over kube_pod_status_phase: exit %d: %s%s", code, out, errOut)
	}
	if out, errOut, code := monctlEnv(t, env, "watch", "k8s", "pods", "-A", "--once", "--fail-if", "kube_pod_container_status_restarts_total > 5"); code != 4 || !strings.Contains(out+errOut, "flaky") {
		t.Errorf("--fail-if over the restarts: exit %d: %s%s", code, out, errOut)
	}

	// A custom resource, made now, with printer columns of its own.
	col := func(name, typ, path string) map[string]any {
		return map[string]any{"name": name, "type": typ, "jsonPath": path}
	}
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "crontabs.stable.example.com"},
		"spec": map[string]any{"group": "stable.example.com", "scope": "Namespaced",
			"names": map[string]any{"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "shortNames": []any{"ct"}},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "properties": map[string]any{
					"spec": map[string]any{"type": "object", "properties": map[string]any{
						"cronSpec": map[string]any{"type": "string"}, "replicas": map[string]any{"type": "integer"}}}}}},
				"additionalPrinterColumns": []any{col("Spec", "string", ".spec.cronSpec"), col("Replicas", "integer", ".spec.replicas")}}}}}}
	crdRes := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(crdRes).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctRes := schema.GroupVersionResource{Group: "stable.example.com", Version: "v1", Resource: "crontabs"}
	waitFor(t, "the custom resource to be served", 30*time.Second, func() bool {
		_, err := dyn.Resource(ctRes).Namespace("team-a").Create(ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": map[string]any{"name": "nightly"},
			"spec": map[string]any{"cronSpec": "0 3 * * *", "replicas": int64(2)}}}, metav1.CreateOptions{})
		return err == nil
	})
	out, errOut, code = monctlEnv(t, env, "watch", "k8s", "ct", "-n", "team-a", "--once")
	// The server renders a type's own columns alone, as kubectl shows
	// them (no AGE unless the definition has one).
	if rs := lines(out); code != 0 || len(rs) != 3 || !slices.Equal(strings.Fields(rs[1]), []string{"NAME", "SPEC", "REPLICAS"}) ||
		strings.Join(strings.Fields(rs[2]), " ") != "nightly 0 3 * * * 2" {
		t.Errorf("a custom resource: exit %d:\n%s%s", code, out, errOut)
	}

	// A token that may list and watch pods in team-a only.
	if _, err := cs.RbacV1().Roles("team-a").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings("team-a").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-reader"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "limited", APIGroup: "rbac.authorization.k8s.io"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = monctlEnv(t, env, "watch", "k8s", "pods,configmaps", "--kube-context", "limited", "--once", "-o", "json")
	pods = nil
	json.Unmarshal([]byte(out), &pods)
	if code != 3 || len(pods) != 2 || !strings.Contains(errOut, "context limited ("+kc.Server+"): forbidden to list and watch configmaps in namespace team-a (403)") {
		t.Errorf("a token for team-a's pods: exit %d, %d pods: %s", code, len(pods), errOut)
	}
	if _, errOut, code := monctlEnv(t, env, "watch", "k8s", "pods", "-A", "--kube-context", "limited", "--once"); code != 1 || !strings.Contains(errOut, `forbidden to list pods (403): pods is forbidden: User "limited" cannot list resource "pods"`) {
		t.Errorf("a token for team-a's pods, across namespaces: exit %d: %s", code, errOut)
	}
	if _, errOut, code := monctlEnv(t, env, "watch", "k8s", "gizmos", "--once"); code != 1 || !strings.Contains(errOut, `the server has no resource type "gizmos"`) {
		t.Errorf("an unknown type: exit %d: %s", code, errOut)
	}
}

// TestWatchKubernetesAcrossRestart: watch k8s --changes follows pods
// made, changed and deleted while the API server stops and starts again
// mid-watch: each change comes once, none is missed, and the outage is
// said and so is its end.
func TestWatchKubernetesAcrossRestart(t *testing.T) {
	kc, cs, _ := startKube(t)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-c"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	create := func(from, to int) {
		for i := from; i < to; i++ {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i)},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "monctl-workload:e2e"}}}}
			if _, err := cs.CoreV1().Pods("team-c").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	create(0, 2)
	cmd := exec.Command(monctlBin, "watch", "k8s", "pods", "-n", "team-c", "--changes", "-o", "jsonl", "--interval", "500ms")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc.Kubeconfig, "XDG_CONFIG_HOME="+t.TempDir(), "MONCTL_CONFIG=")
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	waitFor(t, "the first pods", 30*time.Second, func() bool { return strings.Count(out.String(), `"ADDED"`) == 2 })
	create(2, 5)
	waitFor(t, "the pods made while watching", 30*time.Second, func() bool { return strings.Count(out.String(), `"ADDED"`) == 5 })

	kc.StopAPIServer()
	waitFor(t, "the outage to be said", 30*time.Second, func() bool { return strings.Contains(errOut.String(), "(retrying)") })
	if err := kc.StartAPIServer(tool(t, "kube-apiserver")); err != nil {
		t.Fatal(err)
	}
	create(5, 8)
	p0, err := cs.CoreV1().Pods("team-c").Get(ctx, "p0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p0.Labels = map[string]string{"changed": "yes"}
	if _, err := cs.CoreV1().Pods("team-c").Update(ctx, p0, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Pods("team-c").Delete(ctx, "p1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the changes after the restart", 60*time.Second, func() bool {
		return strings.Count(out.String(), `"ADDED"`) >= 8 && strings.Contains(out.String(), `"DELETED"`) && strings.Contains(out.String(), `"MODIFIED"`)
	})
	time.Sleep(2 * time.Second) // anything doubled would come now
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	seen := map[string]int{}
	for line := range strings.Lines(out.String()) {
		var rec struct {
			Type   string
			Object struct{ Metadata struct{ Name string } }
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		seen[rec.Type+" "+rec.Object.Metadata.Name]++
	}
	want := map[string]int{"MODIFIED p0": 1, "DELETED p1": 1}
	for i := range 8 {
		want[fmt.Sprintf("ADDED p%d", i)] = 1
	}
	if !maps.Equal(seen, want) {
		t.Errorf("the changes seen: %v\nwant: %v", seen, want)
	}
	if !strings.Contains(errOut.String(), "answers again") {
		t.Errorf("the end of the outage is not said:\n%s", errOut.String())
	}
	t.Logf("monctl said:\n%s", errOut.String())
}

// TestServeKubeStateMetrics: serve --kube exposes kube-state-metrics'
// series of a real API server's objects; a real Prometheus scrapes it
// under the job name kube-state-metrics, and the kubernetes-mixin's
// rules, unchanged but for their for:, fire for a pod whose container
// is raised into CrashLoopBackOff through its status, a deployment short
// of replicas, and a node not ready. push --kube remote-writes the
// same series to another real Prometheus.
func TestServeKubeStateMetrics(t *testing.T) {
	kc, cs, _ := startKube(t)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	makePod(t, cs, "shop", "web", "node-1", corev1.PodRunning, true, 0)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}
	made, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	made.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady"}}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, made, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicas := int32(3)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "monctl-workload:e2e"}}}}}}
	madeDep, err := cs.AppsV1().Deployments("shop").Create(ctx, dep, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	madeDep.Status = appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 2, ObservedGeneration: madeDep.Generation}
	if _, err := cs.AppsV1().Deployments("shop").UpdateStatus(ctx, madeDep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	p := startServe(t, []string{"KUBECONFIG=" + kc.Kubeconfig}, "--kube", "pods,deployments,nodes", "--web.ui=false")
	fams := metricsOf(t, http.DefaultClient, "http://"+p.addr+"/metrics")
	if v, ok := sample(fams, "kube_deployment_status_replicas_available", "namespace", "shop", "deployment", "web"); !ok || v != 1 {
		t.Errorf("kube_deployment_status_replicas_available: %v %v\n%s", v, ok, p.log())
	}
	if v, ok := sample(fams, "kube_pod_status_phase", "namespace", "shop", "pod", "web", "phase", "Running"); !ok || v != 1 {
		t.Errorf("kube_pod_status_phase: %v %v", v, ok)
	}
	// The kubernetes-mixin's rules, as it writes them.
	rules := writeTemp(t, "kube.rules.yml", `groups:
  - name: kubernetes-apps
    rules:
      - alert: KubePodCrashLooping
        expr: max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff", job="kube-state-metrics"}[5m]) >= 1
        for: 1s
      - alert: KubeDeploymentReplicasMismatch
        expr: (kube_deployment_spec_replicas{job="kube-state-metrics"} > kube_deployment_status_replicas_available{job="kube-state-metrics"})
        for: 1s
      - alert: KubeNodeNotReady
        expr: kube_node_status_condition{job="kube-state-metrics",condition="Ready",status="true"} == 0
        for: 1s
`)
	prom := startPrometheusJob(t, "kube-state-metrics", p.addr, rules)
	firing := func() map[string]bool {
		var r struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string
					State  string
				}
			}
		}
		getJSON(t, prom+"/api/v1/alerts", &r)
		out := map[string]bool{}
		for _, a := range r.Data.Alerts {
			if a.State == "firing" {
				out[a.Labels["alertname"]+" "+a.Labels["pod"]+a.Labels["deployment"]+a.Labels["node"]] = true
			}
		}
		return out
	}
	waitFor(t, "the deployment and node alerts", 60*time.Second, func() bool {
		f := firing()
		return f["KubeDeploymentReplicasMismatch web"] && f["KubeNodeNotReady node-1"]
	})
	if f := firing(); f["KubePodCrashLooping web"] {
		t.Fatal("the crash loop fired before the pod was in one")
	}
	// The pod's container crashes and is waiting to start again.
	pod, err := cs.CoreV1().Pods("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.ContainerStatuses[0].RestartCount = 6
	pod.Status.ContainerStatuses[0].Ready = false
	pod.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	if _, err := cs.CoreV1().Pods("shop").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the crash-loop alert", 60*time.Second, func() bool { return firing()["KubePodCrashLooping web"] })
	if v := promQuery(t, prom, `kube_pod_container_status_restarts_total{pod="web",job="kube-state-metrics"}`); len(v) != 1 || v[0] != 6 {
		t.Errorf("the restarts Prometheus has: %v", v)
	}

	// push --kube: the same series, remote-written to a real Prometheus,
	// where the mixin's expression finds the crash loop.
	rw := startPrometheusReceiver(t)
	out, errOut, code := monctlEnv(t, []string{"KUBECONFIG=" + kc.Kubeconfig}, "push", "--kube", "pods,deployments",
		"--job", "kube-state-metrics", "--queue-dir", "", "--remote-write", "http://"+rw+"/api/v1/write", "-o", "json")
	if code != 0 {
		t.Fatalf("push --kube: exit %d: %s\n%s", code, errOut, out)
	}
	if v := promQuery(t, "http://"+rw, `kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff", job="kube-state-metrics", pod="web"}`); len(v) != 1 || v[0] != 1 {
		t.Errorf("the pushed crash loop: %v (push said %s)", v, out)
	}
	if v := promQuery(t, "http://"+rw, `kube_deployment_status_replicas_available{deployment="web"}`); len(v) != 1 || v[0] != 1 {
		t.Errorf("the pushed deployment: %v", v)
	}
}

// TestWatchKubernetesLive: watch k8s in a real terminal, as a person
// uses it: the server's columns with NAMESPACE first under -A, the
// deployments beside the pods (kind/name), a mark on what changed, a
// pod deleted gone, the sort keys, the columns that give way on a
// narrow terminal, a banner while the API server is down and the view
// going on when it is back.
func TestWatchKubernetesLive(t *testing.T) {
	kc, cs, _ := startKube(t)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	makePod(t, cs, "shop", "web", "node-1", corev1.PodRunning, true, 0)
	makePod(t, cs, "default", "db", "node-1", corev1.PodPending, false, 0)
	x := newTerminal(t, 140, 30, []string{"KUBECONFIG=" + kc.Kubeconfig}, "watch", "k8s", "pods,deploy", "-A", "--interval", "0.5")
	scr := x.waitScreen("both pods with the server's columns", func(s string) bool {
		return strings.Contains(s, "pod/web") && strings.Contains(s, "pod/db") && strings.Contains(s, "READY")
	})
	x.fitsWidth(scr, 140)
	header := ""
	for _, l := range lines(scr) {
		if strings.Contains(l, "NAMESPACE") {
			header = l
		}
	}
	for _, col := range []string{"NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"} {
		if !strings.Contains(header, col) {
			t.Errorf("the header lacks %s: %q\n%s", col, header, scr)
		}
	}
	if !regexp.MustCompile(`(?m)^\s*shop\s+pod/web\s+1/1\s+Running`).MatchString(scr) || !strings.Contains(scr, "sort: name") {
		t.Errorf("web's row or the sort line:\n%s", scr)
	}

	// A deployment made now is marked as added; a pod deleted leaves.
	replicas := int32(2)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "monctl-workload:e2e"}}}}}}
	if _, err := cs.AppsV1().Deployments("shop").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	x.waitScreen("the new deployment, marked", func(s string) bool {
		return regexp.MustCompile(`(?m)^\s*\+\s+shop\s+deployment/api\s`).MatchString(s)
	})
	if err := cs.CoreV1().Pods("default").Delete(ctx, "db", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	x.waitScreen("db gone", func(s string) bool { return !strings.Contains(s, "pod/db") && strings.Contains(s, "pod/web") })

	// a: oldest first: web, then the deployment.
	x.keys("a")
	scr = x.waitScreen("the sort by age", func(s string) bool { return strings.Contains(s, "sort: age") })
	if strings.Index(scr, "pod/web") > strings.Index(scr, "deployment/api") {
		t.Errorf("sorted by age, web (the oldest) is not first:\n%s", scr)
	}

	// Narrow: the last columns give way, NAME stays.
	x.resize(60, 30)
	scr = x.waitScreen("the narrow table", func(s string) bool {
		return strings.Contains(s, "pod/web") && !strings.Contains(s, "AGE")
	})
	x.fitsWidth(scr, 60)
	x.resize(140, 30)

	// The API server goes away: a banner says so; back, it goes.
	kc.StopAPIServer()
	x.waitScreen("the banner", func(s string) bool { return strings.Contains(s, "is not answering") })
	if err := kc.StartAPIServer(tool(t, "kube-apiserver")); err != nil {
		t.Fatal(err)
	}
	x.waitScreen("the banner gone", func(s string) bool { return !strings.Contains(s, "is not answering") && strings.Contains(s, "pod/web") })
	x.keys("q")
	if code := x.exitCode(); code != 0 {
		t.Errorf("q: exit %d", code)
	}
}

// TestEventsKubernetes: monctl events --kube gives the cluster's events
// in the record every event has: those of a window oldest first, then
// each as it is recorded, while the process runs, across an outage of
// the API server, which is said, and so is its end.
func TestEventsKubernetes(t *testing.T) {
	kc, cs, _ := startKube(t)
	ctx := context.Background()
	makePod(t, cs, "default", "web", "node-1", corev1.PodRunning, false, 3)
	event := func(name, typ, reason, msg string, ago time.Duration) {
		t.Helper()
		at := metav1.NewTime(time.Now().Add(-ago).Truncate(time.Second))
		e := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
			Type:           typ, Reason: reason, Message: msg, Count: 1, FirstTimestamp: at, LastTimestamp: at,
			Source: corev1.EventSource{Component: "kubelet"}}
		if _, err := cs.CoreV1().Events("default").Create(ctx, e, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	event("web.pulled", "Normal", "Pulled", "Container image pulled", 2*time.Minute)
	event("web.backoff", "Warning", "BackOff", "Back-off restarting failed container", time.Minute)
	event("web.old", "Normal", "Scheduled", "Assigned to node-1", 30*time.Minute)
	env := []string{"KUBECONFIG=" + kc.Kubeconfig}

	type record struct {
		Time    time.Time `json:"time"`
		Host    string    `json:"host"`
		Name    string    `json:"name"`
		Action  string    `json:"action"`
		Type    string    `json:"type"`
		Message string    `json:"message"`
	}
	out, errOut, code := monctlEnv(t, env, "events", "--kube", "--since", "10m", "--until", "0s", "-o", "jsonl")
	if code != 0 {
		t.Fatalf("events --kube: exit %d: %s", code, errOut)
	}
	var got []record
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		got = append(got, r)
	}
	if len(got) != 2 || got[0].Action != "Pulled" || got[1].Action != "BackOff" || got[1].Type != "Warning" ||
		got[1].Name != "default/pod/web" || got[1].Message != "Back-off restarting failed container" || got[1].Host != "k8s/admin" {
		t.Errorf("the last 10 minutes' events, oldest first (not the one of 30 minutes ago):\n%s", out)
	}

	// Followed: an event recorded now is printed as it comes.
	cmd := exec.Command(monctlBin, "events", "--kube")
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(time.Second) // its informer lists first; what is listed is not news
	event("web.killing", "Warning", "Unhealthy", "Liveness probe failed", 0)
	waitFor(t, "the new event", 15*time.Second, func() bool {
		return strings.Contains(stdout.String(), "default/pod/web") && strings.Contains(stdout.String(), "Unhealthy  Warning: Liveness probe failed")
	})
	if strings.Contains(stdout.String(), "BackOff") {
		t.Errorf("without --since, the past events were printed:\n%s", stdout.String())
	}

	// The API server goes away and comes back: both are said, and an
	// event recorded after is printed.
	kc.StopAPIServer()
	waitFor(t, "the outage to be said", 15*time.Second, func() bool { return strings.Contains(stderr.String(), "is not answering") })
	if err := kc.StartAPIServer(tool(t, "kube-apiserver")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "its return to be said", 30*time.Second, func() bool { return strings.Contains(stderr.String(), "is back") })
	event("web.after", "Warning", "Evicted", "The node was low on memory", 0)
	waitFor(t, "the event after the outage", 30*time.Second, func() bool { return strings.Contains(stdout.String(), "Evicted") })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if s := stderr.String(); strings.Count(s, "\n") != 3 || !strings.HasSuffix(s, "monctl: terminated (SIGTERM)\n") {
		t.Errorf("stderr: the outage, its end and the signal, once each:\n%s", s)
	}
}
