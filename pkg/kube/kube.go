// Package kube reaches a Kubernetes API server as kubectl does
// (kubeconfig, context, namespace, in-cluster) and watches any resource
// type through client-go's dynamic informer: built-in or custom, named as
// kubectl names it (plural, singular, short name, kind), resolved through
// the server's discovery. Only the verbs that watch Kubernetes import it.
package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options say which cluster, as kubectl's flags do.
type Options struct {
	// Kubeconfig is --kubeconfig; empty: $KUBECONFIG, then
	// ~/.kube/config, then the in-cluster service account.
	Kubeconfig string
	// Context is --kube-context (monctl's --context is the docker one).
	Context string
	// Namespace is -n; empty: the context's, else "default".
	Namespace string
}

// Cluster is a connection to one API server.
type Cluster struct {
	// Context and Server name it in messages (the server's URL has no
	// credentials); Namespace is the one chosen.
	Context, Server, Namespace string

	config  *rest.Config
	dynamic dynamic.Interface
	raw     *rest.RESTClient // for discovery and tables, decoded here

	// The resource types served, discovered once, at the first Resolve.
	once        sync.Once
	resources   []Resource
	discoverErr error
}

// Connect reads the configuration as kubectl does. It sends nothing:
// Resolve is the first request.
func Connect(o Options) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	overrides.Context.Namespace = o.Namespace
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	config, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	c := &Cluster{Context: o.Context, Server: config.Host, Namespace: ns}
	if c.Context == "" {
		if raw, err := cc.RawConfig(); err == nil {
			c.Context = raw.CurrentContext
		}
	}
	if c.Context == "" {
		c.Context = "in-cluster"
	}
	return c, c.clients(config)
}

// ConnectTo reaches the API server config gives, with namespace as its
// default one: for a Prometheus job's api_server and its http_config.
func ConnectTo(config *rest.Config, namespace string) (*Cluster, error) {
	c := &Cluster{Server: config.Host, Namespace: namespace}
	return c, c.clients(config)
}

// clients makes the clients of c for config.
func (c *Cluster) clients(config *rest.Config) error {
	c.config = config
	config.UserAgent = "monctl"
	// Discovery asks for every group at once, as kubectl does with these
	// limits: client-go's default (5 a second) would make it wait.
	config.QPS, config.Burst = 50, 300
	var err error
	if c.dynamic, err = dynamic.NewForConfig(config); err != nil {
		return err
	}
	// The requests whose answers monctl decodes itself: discovery and
	// the server's tables. (client-go's discovery package would bring
	// every typed API into the binary, doubling its size.)
	raw := rest.CopyConfig(config)
	raw.GroupVersion = &schema.GroupVersion{}
	// Its scheme knows metav1.Status alone, so that a refusal says why.
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	raw.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	c.raw, err = rest.UnversionedRESTClientFor(raw)
	return err
}

// Resource is a resource type resolved through discovery.
type Resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool

	singular string
	short    []string
}

// Name is how kubectl names it: pods, deployments.apps.
func (r Resource) Name() string {
	if r.GVR.Group == "" {
		return r.GVR.Resource
	}
	return r.GVR.Resource + "." + r.GVR.Group
}

// Ping asks whether the API server answers (/readyz, open to every
// user): an informer rides out an outage without a word, and the view
// should say there is one.
func (c *Cluster) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.raw.Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return fmt.Errorf("%s is not answering: %w", c.Where(), err)
	}
	return nil
}

// Where names the cluster for messages.
func (c *Cluster) Where() string {
	if c.Context == "" {
		return c.Server
	}
	return "context " + c.Context + " (" + c.Server + ")"
}

// NoSuchResourceError is a resource type the server does not serve.
type NoSuchResourceError struct{ Name, Where string }

func (e *NoSuchResourceError) Error() string {
	return fmt.Sprintf("%s: the server has no resource type %q (try kubectl api-resources)", e.Where, e.Name)
}

// RefusedError is the server refusing a request: who we are (401) or
// what we may do (403, with the verb and the resource).
type RefusedError struct {
	Where, Verb, What string
	Status            int
	Message           string
}

func (e *RefusedError) Error() string {
	if e.Status == http.StatusUnauthorized {
		return fmt.Sprintf("%s: the credentials were refused (401 Unauthorized): check the kubeconfig's user", e.Where)
	}
	return fmt.Sprintf("%s: forbidden to %s %s (403): %s", e.Where, e.Verb, e.What, e.Message)
}

// Explain says what a failed request was, to which cluster: a refusal
// as a RefusedError, anything else with the cluster named.
func (c *Cluster) Explain(err error, verb, what string) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		switch s.Code {
		case http.StatusUnauthorized, http.StatusForbidden:
			return &RefusedError{Where: c.Where(), Verb: verb, What: what, Status: int(s.Code), Message: s.Message}
		}
	}
	return fmt.Errorf("%s: %s %s: %w", c.Where(), verb, what, err)
}
