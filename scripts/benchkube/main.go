// Command benchkube measures watch k8s on a real API server holding
// -pods pods across -namespaces namespaces (make bench), next to kubectl
// of the server's release:
//
//  1. the time to the first table: 'monctl watch k8s pods -A --once' and
//     'kubectl get pods -A', wall and peak RSS (median of -runs,
//     interleaved);
//  2. the memory of a watch: 'monctl watch k8s pods -A --changes' and
//     'kubectl get pods -A -w' side by side, each's RSS once both have
//     printed every pod;
//  3. the CPU of that watch while -rate pods change a second, for
//     -duration: both processes' CPU over exactly the same window.
//
// kube-apiserver and etcd are those of make tools, on 127.0.0.1. Run
// from the repository root:
//
//	go run ./scripts/benchkube -monctl bin/monctl -tools .tools/bin
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/monctl/monctl/internal/benchproc"
	"github.com/monctl/monctl/internal/testkube"
)

func main() {
	monctl := flag.String("monctl", "bin/monctl", "the monctl binary")
	tools := flag.String("tools", ".tools/bin", "where make tools put etcd, kube-apiserver and kubectl")
	pods := flag.Int("pods", 5000, "pods in all")
	namespaces := flag.Int("namespaces", 50, "namespaces they are spread over")
	runs := flag.Int("runs", 3, "runs of each first table (interleaved)")
	rate := flag.Int("rate", 50, "pods changed a second while watching")
	duration := flag.Duration("duration", 30*time.Second, "how long the pods change")
	flag.Parse()
	klog.LogToStderr(false) // client-go's notes on its own throttling
	klog.SetOutput(io.Discard)
	if err := run(*monctl, *tools, *pods, *namespaces, *runs, *rate, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "benchkube:", err)
		os.Exit(1)
	}
}

func run(monctl, tools string, pods, namespaces, runs, rate int, duration time.Duration) error {
	dir, err := os.MkdirTemp("", "monctl-benchkube-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, err := testkube.Start(dir, filepath.Join(tools, "etcd"), filepath.Join(tools, "kube-apiserver"))
	if err != nil {
		return err
	}
	defer c.Stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 2000, 4000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := makePods(cs, pods, namespaces); err != nil {
		return err
	}
	fmt.Printf("%d pods across %d namespaces made in %.1f s (kube-apiserver v1.34.4, etcd v3.6.17, on loopback)\n\n",
		pods, namespaces, time.Since(start).Seconds())

	env := append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "MONCTL_CONFIG=")
	kubectl := filepath.Join(tools, "kubectl")
	first := []struct {
		name string
		argv []string
	}{
		{"monctl watch k8s pods -A --once", []string{monctl, "watch", "k8s", "pods", "-A", "--once"}},
		{"kubectl get pods -A", []string{kubectl, "get", "pods", "-A"}},
	}
	walls := make([][]float64, len(first))
	rss := make([][]float64, len(first))
	for r := 0; r < runs; r++ {
		for i, f := range first {
			w, m, err := once(env, f.argv, pods)
			if err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			walls[i], rss[i] = append(walls[i], w), append(rss[i], m)
		}
	}
	fmt.Printf("### The first table (median of %d, interleaved)\n\n", runs)
	fmt.Println("| command | wall | peak RSS | wall vs kubectl | RSS vs kubectl |")
	fmt.Println("|---|---|---|---|---|")
	base := len(first) - 1
	for i, f := range first {
		fmt.Printf("| `%s` | %.2f s | %.1f MiB | %.2f× | %.2f× |\n", f.name, median(walls[i]), median(rss[i]),
			median(walls[i])/median(walls[base]), median(rss[i])/median(rss[base]))
	}
	return watching(env, monctl, kubectl, cs, pods, namespaces, rate, duration)
}

// makePods makes the namespaces and the pods, 32 requests at a time.
func makePods(cs *kubernetes.Clientset, pods, namespaces int) error {
	ctx := context.Background()
	for n := range namespaces {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns(n)}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < pods; i = int(next.Add(1)) - 1 {
				p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Namespace: ns(i % namespaces), Labels: map[string]string{"app": "bench"}},
					Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "main", Image: "monctl-workload:e2e"}}}}
				if _, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func ns(n int) string { return fmt.Sprintf("team-%02d", n) }

// once runs argv to its end: its wall seconds and peak RSS in MiB; it
// must have printed a line per pod.
func once(env, argv []string, pods int) (float64, float64, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%w: %s", err, errOut.Bytes())
	}
	wall := time.Since(start).Seconds()
	if n := bytes.Count(out.Bytes(), []byte("\n")); n < pods {
		return 0, 0, fmt.Errorf("printed %d lines for %d pods", n, pods)
	}
	return wall, float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024, nil
}

// lineCounter counts the lines written to it.
type lineCounter struct{ n atomic.Int64 }

func (l *lineCounter) Write(p []byte) (int, error) {
	l.n.Add(int64(bytes.Count(p, []byte("\n"))))
	return len(p), nil
}

// watching runs both watches side by side: their memory once both have
// printed every pod, then their CPU while rate pods change a second.
func watching(env []string, monctl, kubectl string, cs *kubernetes.Clientset, pods, namespaces, rate int, duration time.Duration) error {
	procs := []struct {
		name string
		argv []string
		cmd  *exec.Cmd
		out  lineCounter
	}{
		{name: "monctl watch k8s pods -A --changes", argv: []string{monctl, "watch", "k8s", "pods", "-A", "--changes"}},
		{name: "kubectl get pods -A -w", argv: []string{kubectl, "get", "pods", "-A", "-w"}},
	}
	for i := range procs {
		p := &procs[i]
		p.cmd = exec.Command(p.argv[0], p.argv[1:]...)
		p.cmd.Env, p.cmd.Stdout = env, &p.out
		if err := p.cmd.Start(); err != nil {
			return err
		}
		defer func() {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.cmd.Wait()
		}()
	}
	deadline := time.Now().Add(2 * time.Minute)
	for i := range procs {
		for procs[i].out.n.Load() < int64(pods) {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s printed %d lines of %d pods", procs[i].name, procs[i].out.n.Load(), pods)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	time.Sleep(3 * time.Second) // both settle
	mem := make([]float64, len(procs))
	for i := range procs {
		mem[i] = rssMiB(procs[i].cmd.Process.Pid)
	}

	// rate pods a second get a new label value, each a MODIFIED event.
	cpu0 := make([]float64, len(procs))
	lines0 := make([]int64, len(procs))
	for i := range procs {
		cpu0[i], _ = benchproc.ProcessCPU(procs[i].cmd.Process.Pid)
		lines0[i] = procs[i].out.n.Load()
	}
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	changed := 0
	for time.Since(start) < duration {
		<-tick.C
		i := changed % pods
		patch := fmt.Sprintf(`{"metadata":{"labels":{"tick":"%d"}}}`, changed)
		if _, err := cs.CoreV1().Pods(ns(i%namespaces)).Patch(context.Background(), fmt.Sprintf("pod-%05d", i), types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return err
		}
		changed++
	}
	tick.Stop()
	time.Sleep(2 * time.Second) // the last changes are printed
	window := time.Since(start).Seconds()
	cpu := make([]float64, len(procs))
	for i := range procs {
		c, _ := benchproc.ProcessCPU(procs[i].cmd.Process.Pid)
		cpu[i] = c - cpu0[i]
	}
	fmt.Printf("\n### Watching, with the informer's cache (RSS once both printed all %d pods; CPU while %d pods changed a second for %s, %d changes, over the same %.0f s)\n\n",
		pods, rate, duration, changed, window)
	fmt.Println("| command | RSS | CPU | CPU share | lines printed while changing | RSS vs kubectl | CPU vs kubectl |")
	fmt.Println("|---|---|---|---|---|---|---|")
	base := len(procs) - 1
	for i := range procs {
		fmt.Printf("| `%s` | %.1f MiB | %.2f s | %.1f%% | %d | %.2f× | %.2f× |\n", procs[i].name, mem[i], cpu[i], 100*cpu[i]/window,
			procs[i].out.n.Load()-lines0[i], mem[i]/mem[base], cpu[i]/cpu[base])
	}
	return nil
}

// rssMiB is a process's resident memory now.
func rssMiB(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[len(s)/2]
}
