package cmdutil

import (
	"io"

	"k8s.io/klog/v2"

	"github.com/monctl/monctl/pkg/kube"
)

// KubeConnect connects to the cluster o names, for a verb that watches
// Kubernetes. client-go logs through klog, on stderr as it likes: what
// matters of it the verb says itself, so klog is silenced first.
func KubeConnect(o kube.Options) (*kube.Cluster, error) {
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	c, err := kube.Connect(o)
	if err != nil {
		return nil, Failure(err)
	}
	return c, nil
}
