package cmdutil

import (
	"io"

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
