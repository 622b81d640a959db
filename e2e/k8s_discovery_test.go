//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// exporterOn serves an exposition whose one series names the server, on
// 127.0.0.1, for the test; it returns the port.
func exporterOn(t *testing.T, name string) int32 {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# TYPE kubeapp_up gauge\nkubeapp_up{app=%q} 1\n", name)
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	n, _ := strconv.Atoi(port)
	return int32(n)
}

// makeServingPod makes a pod of one container serving on port, at IP
// 127.0.0.1 (set through its status, as a kubelet would), with an init
// container that has no port.
func makeServingPod(t *testing.T, cs *kubernetes.Clientset, ns, name string, port int32, annotations map[string]string) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}, Annotations: annotations},
		Spec: corev1.PodSpec{NodeName: "node-1",
			InitContainers: []corev1.Container{{Name: "setup", Image: "monctl-workload:e2e"}},
			Containers: []corev1.Container{{Name: "main", Image: "monctl-workload:e2e",
				Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: port}}}}}}
	made, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	made.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1", HostIP: "127.0.0.1",
		Conditions:            []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses:     []corev1.ContainerStatus{{Name: "main", Ready: true, ContainerID: "containerd://" + name + "-main", Image: "monctl-workload:e2e"}},
		InitContainerStatuses: []corev1.ContainerStatus{{Name: "setup", ContainerID: "containerd://" + name + "-setup", Image: "monctl-workload:e2e"}}}
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, made, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestDiscoverKubernetes: kubernetes_sd_configs against the real API
// server. For each role (pod, service, endpoints, endpointslice, node)
// monctl finds the same targets with the same discovered labels as a
// real Prometheus given the same configuration; --discover
// kubernetes:pod keeps the pods annotated prometheus.io/scrape=true and
// scrapes them on loopback; serve follows pods as they are annotated
// and deleted.
func TestDiscoverKubernetes(t *testing.T) {
	kc, cs, _ := startKube(t)
	ctx := context.Background()
	webPort, workerPort, kubeletPort := exporterOn(t, "web"), exporterOn(t, "worker"), exporterOn(t, "kubelet")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	makeServingPod(t, cs, "shop", "web", webPort, map[string]string{"prometheus.io/scrape": "true"})
	makeServingPod(t, cs, "shop", "worker", workerPort, nil)
	node, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"zone": "a"}},
		Spec: corev1.NodeSpec{ProviderID: "monctl://node-1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "node-1"}, {Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = kubeletPort
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(webPort)}}}}
	if _, err := cs.CoreV1().Services("shop").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// No controller runs: the endpoints and the slice are made as the
	// endpoints controllers would make them, at an address of
	// TEST-NET-1 (the API takes no loopback one there), which nothing
	// scrapes: the jobs below drop every target.
	nodeName := "node-1"
	podRef := &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web"}
	eps := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.0.2.10", NodeName: &nodeName, TargetRef: podRef}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "192.0.2.11", Hostname: "spare"}},
			Ports:             []corev1.EndpointPort{{Name: "http", Port: webPort, Protocol: corev1.ProtocolTCP}}}}}
	if _, err := cs.CoreV1().Endpoints("shop").Create(ctx, eps, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ready, portName, proto := true, "http", corev1.ProtocolTCP
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", Labels: map[string]string{"kubernetes.io/service-name": "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.10"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}, NodeName: &nodeName, TargetRef: podRef}},
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &webPort, Protocol: &proto}}}
	if _, err := cs.DiscoveryV1().EndpointSlices("shop").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The same jobs for monctl and a real Prometheus: every role, every
	// target dropped (so that neither scrapes any), with all its
	// discovered labels shown.
	roles := []string{"pod", "service", "endpoints", "endpointslice", "node"}
	var jobs strings.Builder
	for _, r := range roles {
		fmt.Fprintf(&jobs, `  - job_name: %s
    kubernetes_sd_configs:
      - role: %s
        kubeconfig_file: %s
    relabel_configs:
      - source_labels: [__address__]
        regex: .+
        action: drop
`, r, r, kc.Kubeconfig)
	}
	cfg := writeTemp(t, "kube-sd.yml", "scrape_configs:\n"+jobs.String())
	// Prometheus scrapes with the interval and timeout of monctl
	// targets (its --timeout, 10s), which the discovered labels show.
	promCfg := writeTemp(t, "prometheus.yml", "global:\n  scrape_interval: 10s\n  scrape_timeout: 10s\nscrape_configs:\n"+jobs.String())
	out, errOut, code := monctl(t, "--config", cfg, "targets", "-o", "json")
	if code != 0 {
		t.Fatalf("monctl targets: exit %d: %s", code, errOut)
	}
	var recs []explained
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	dir := t.TempDir()
	promURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	start(t, promURL+"/-/ready", tool(t, "prometheus"), "--config.file", promCfg,
		"--storage.tsdb.path", filepath.Join(dir, "data"), "--web.listen-address", strings.TrimPrefix(promURL, "http://"))
	// A target's discovered labels, as one comparable line.
	line := func(m map[string]string) string {
		var ls []string
		for k, v := range m {
			ls = append(ls, k+"="+strconv.Quote(v))
		}
		slices.Sort(ls)
		return strings.Join(ls, ",")
	}
	byJob := func(recs []explained) map[string][]string {
		out := map[string][]string{}
		for _, r := range recs {
			j := r.DiscoveredLabels["job"]
			out[j] = append(out[j], line(r.DiscoveredLabels))
		}
		for _, ls := range out {
			slices.Sort(ls)
		}
		return out
	}
	ours := byJob(recs)
	// What each role must have found: the pods' two containers each
	// (web and worker), the ports of the services (web and the API
	// server's own), the endpoints' ready and not-ready address, the
	// slice's endpoint, the node's kubelet.
	for role, n := range map[string]int{"pod": 4, "service": 2, "endpoints": 2, "endpointslice": 1, "node": 1} {
		if len(ours[role]) != n {
			t.Errorf("role %s: monctl found %d targets, want %d:\n%s", role, len(ours[role]), n, strings.Join(ours[role], "\n"))
		}
	}
	var theirs map[string][]string
	waitFor(t, "Prometheus to discover every role", 30*time.Second, func() bool {
		theirs = byJob(promTargetsOf(promURL, "dropped").Data.Dropped)
		for _, r := range roles {
			if len(theirs[r]) < len(ours[r]) {
				return false
			}
		}
		return true
	})
	for _, r := range roles {
		if !slices.Equal(ours[r], theirs[r]) {
			t.Errorf("role %s: the discovered labels differ\nmonctl:\n%s\nPrometheus:\n%s", r, strings.Join(ours[r], "\n"), strings.Join(theirs[r], "\n"))
		}
	}

	// --discover kubernetes:pod, with the default rules: web (annotated)
	// is scraped, worker is not.
	env := []string{"KUBECONFIG=" + kc.Kubeconfig}
	out, errOut, code = monctlEnv(t, env, "scrape", "--discover", "kubernetes:pod", "-o", "prom")
	if code != 0 {
		t.Fatalf("monctl scrape: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `kubeapp_up{app="web",`) || !strings.Contains(out, `namespace="shop"`) || !strings.Contains(out, `pod="web"`) || strings.Contains(out, `app="worker"`) {
		t.Errorf("scrape --discover kubernetes:pod: want web's series (namespace, pod), not worker's:\n%s", out)
	}

	// serve follows the pods: worker annotated is scraped, web deleted
	// is gone, each within moments although discovery never polls.
	srv := startServe(t, env, "--containers=false", "--discover", "kubernetes:pod", "--discover-interval", "1h")
	metrics := srv.metricsText
	waitFor(t, "serve to serve web's series", 30*time.Second, func() bool { return strings.Contains(metrics(), `kubeapp_up{app="web"`) })
	worker, err := cs.CoreV1().Pods("shop").Get(ctx, "worker", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	worker.Annotations = map[string]string{"prometheus.io/scrape": "true"}
	if _, err := cs.CoreV1().Pods("shop").Update(ctx, worker, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "serve to serve worker's series once it is annotated", 15*time.Second, func() bool { return strings.Contains(metrics(), `kubeapp_up{app="worker"`) })
	if err := cs.CoreV1().Pods("shop").Delete(ctx, "web", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web's series to go once it is deleted", 15*time.Second, func() bool {
		m := metrics()
		return !strings.Contains(m, `kubeapp_up{app="web"`) && strings.Contains(m, `kubeapp_up{app="worker"`)
	})
	if logs := srv.log(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("monctl logged errors:\n%s", logs)
	}
}
