package cmdutil

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/monctl/monctl/pkg/kube"
)

// KubeConnect connects to the cluster o names, for a verb that watches
// Kubernetes, with klog silenced first.
func KubeConnect(o kube.Options) (*kube.Cluster, error) {
	SilenceKlog()
	c, err := kube.Connect(o)
	if err != nil {
		return nil, Failure(err)
	}
	return c, nil
}

// SilenceKlog keeps client-go's logs (klog) off stderr: what matters of
// them a verb says itself.
func SilenceKlog() {
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
}

// KubeFlags are --kube, the Kubernetes types whose objects a verb serves
// or pushes as kube-state-metrics' series, and the flags naming their
// cluster.
type KubeFlags struct {
	Kube        []string
	KubeOptions kube.Options
}

// AddKubeFlags registers the flags on cmd; what says what the verb does
// with the series ("serve"), and more what else --kube means to it.
func (k *KubeFlags) AddKubeFlags(cmd *cobra.Command, what, more string) {
	fl := cmd.Flags()
	fl.StringSliceVar(&k.Kube, "kube", nil, what+" the series kube-state-metrics would for these Kubernetes types (pods,deployments,statefulsets,daemonsets,nodes,jobs), each watched by an informer"+more)
	fl.StringVar(&k.KubeOptions.Kubeconfig, "kubeconfig", "", "with --kube, the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)")
	fl.StringVar(&k.KubeOptions.Context, "kube-context", "", "with --kube, the kubeconfig context (default: its current one)")
	fl.StringVar(&k.KubeOptions.Namespace, "kube-namespace", "", "with --kube, only this namespace (default: all)")
}

// WatchKube starts an informer for each type of --kube (nil: none). A
// type the server does not have or will not list is in errs, and the
// others are watched; none at all is a failure.
func (k *KubeFlags) WatchKube(ctx context.Context) (src *kube.Source, errs []error, err error) {
	if len(k.Kube) == 0 {
		return nil, nil, nil
	}
	cluster, err := KubeConnect(k.KubeOptions)
	if err != nil {
		return nil, nil, err
	}
	sel := kube.Selector{Namespace: k.KubeOptions.Namespace, AllNamespaces: k.KubeOptions.Namespace == ""}
	src = &kube.Source{Cluster: cluster}
	for _, name := range k.Kube {
		r, err := cluster.Resolve(ctx, name)
		if err == nil {
			var w *kube.Watcher
			if w, err = cluster.Watch(ctx, r, sel); err == nil {
				src.Watchers = append(src.Watchers, w)
				continue
			}
		}
		errs = append(errs, err)
	}
	if len(src.Watchers) == 0 {
		return nil, nil, Failure(errors.Join(errs...))
	}
	return src, errs, nil
}
