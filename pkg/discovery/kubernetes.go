package discovery

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/discovery"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"

	"github.com/monctl/monctl/pkg/kube"
)

// KubernetesSDConfig is an entry of kubernetes_sd_configs, with
// Prometheus's keys and checks; its discovery is monctl's own
// (kube.SD), which gives the same groups under the same labels without
// the typed clients of Prometheus's, which would double monctl's size.
//
// One thing differs, on purpose: with neither api_server nor
// kubeconfig_file, Prometheus runs only inside a cluster, while monctl
// finds the cluster as kubectl does ($KUBECONFIG, ~/.kube/config, then
// the service account), since its users are at a shell.
type KubernetesSDConfig struct {
	APIServer  config.URL              `yaml:"api_server,omitempty"`
	Role       string                  `yaml:"role"`
	KubeConfig string                  `yaml:"kubeconfig_file,omitempty"`
	HTTP       config.HTTPClientConfig `yaml:",inline"`
	Namespaces struct {
		Own   bool     `yaml:"own_namespace"`
		Names []string `yaml:"names"`
	} `yaml:"namespaces,omitempty"`
	Selectors []struct {
		Role  string `yaml:"role"`
		Label string `yaml:"label"`
		Field string `yaml:"field"`
	} `yaml:"selectors,omitempty"`
}

func init() {
	// As Prometheus's own mechanisms register their keys.
	discovery.RegisterConfig(&KubernetesSDConfig{})
}

// Name is the key's mechanism: kubernetes_sd_configs.
func (*KubernetesSDConfig) Name() string { return "kubernetes" }

// NewDiscovererMetrics: kube.SD keeps none (monctl reports discovery's
// health itself).
func (*KubernetesSDConfig) NewDiscovererMetrics(prometheus.Registerer, discovery.RefreshMetricsInstantiator) discovery.DiscovererMetrics {
	return &discovery.NoopDiscovererMetrics{}
}

// SetDirectory makes kubeconfig_file and the credential files relative
// to the config file's directory.
func (c *KubernetesSDConfig) SetDirectory(dir string) {
	c.KubeConfig = config.JoinDir(dir, c.KubeConfig)
	c.HTTP.SetDirectory(dir)
}

// allowedSelectors are the selector roles of each role, as Prometheus
// allows them.
func allowedSelectors(role string) []string {
	switch role {
	case kube.RoleEndpoints, kube.RoleEndpointSlice:
		return []string{kube.RolePod, kube.RoleService, role}
	case kube.RolePod, kube.RoleService, kube.RoleNode:
		return []string{role}
	}
	return nil
}

// UnmarshalYAML reads and checks an entry as Prometheus does.
func (c *KubernetesSDConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = KubernetesSDConfig{HTTP: config.DefaultHTTPClientConfig}
	type plain KubernetesSDConfig
	if err := unmarshal((*plain)(c)); err != nil {
		return err
	}
	switch {
	case c.Role == "":
		return errors.New("kubernetes_sd_configs: role missing (one of: pod, service, endpoints, endpointslice, node)")
	case c.Role == "ingress":
		return errors.New("kubernetes_sd_configs: role ingress is not offered by monctl (pod, service, endpoints, endpointslice or node)")
	case allowedSelectors(c.Role) == nil:
		return fmt.Errorf("kubernetes_sd_configs: invalid role %q, expecting one of: pod, service, endpoints, endpointslice, node", c.Role)
	}
	if err := c.HTTP.Validate(); err != nil {
		return err
	}
	custom := !reflect.DeepEqual(c.HTTP, config.DefaultHTTPClientConfig)
	switch {
	case c.APIServer.URL != nil && c.KubeConfig != "":
		return errors.New("kubernetes_sd_configs: cannot use 'kubeconfig_file' and 'api_server' simultaneously")
	case c.KubeConfig != "" && custom:
		return errors.New("kubernetes_sd_configs: cannot use a custom HTTP client configuration together with 'kubeconfig_file'")
	case c.APIServer.URL == nil && custom:
		return errors.New("kubernetes_sd_configs: to use custom HTTP client configuration please provide the 'api_server' URL explicitly")
	case c.APIServer.URL != nil && c.Namespaces.Own:
		return errors.New("kubernetes_sd_configs: cannot use 'api_server' and 'namespaces.own_namespace' simultaneously")
	}
	var seen []string
	for _, s := range c.Selectors {
		if slices.Contains(seen, s.Role) {
			return fmt.Errorf("kubernetes_sd_configs: duplicated selector role: %s", s.Role)
		}
		seen = append(seen, s.Role)
		if allowed := allowedSelectors(c.Role); !slices.Contains(allowed, s.Role) {
			return fmt.Errorf("kubernetes_sd_configs: %s role supports only %s selectors", c.Role, strings.Join(allowed, ", "))
		}
		if _, err := fields.ParseSelector(s.Field); err != nil {
			return fmt.Errorf("kubernetes_sd_configs: %s selector field: %w", s.Role, err)
		}
		if _, err := labels.Parse(s.Label); err != nil {
			return fmt.Errorf("kubernetes_sd_configs: %s selector label: %w", s.Role, err)
		}
	}
	return nil
}

// NewDiscoverer makes the discovery; it reaches the cluster when run.
func (c *KubernetesSDConfig) NewDiscoverer(opts discovery.DiscovererOptions) (discovery.Discoverer, error) {
	conf := kube.SDConfig{Role: c.Role, Namespaces: c.Namespaces.Names, OwnNamespace: c.Namespaces.Own, Selectors: map[string]kube.Selector{}}
	for _, s := range c.Selectors {
		conf.Selectors[s.Role] = kube.Selector{Labels: s.Label, Fields: s.Field}
	}
	connect := func() (*kube.Cluster, error) { return kube.Connect(kube.Options{Kubeconfig: c.KubeConfig}) }
	if c.APIServer.URL != nil {
		server := c.APIServer.String()
		connect = func() (*kube.Cluster, error) {
			rt, err := config.NewRoundTripperFromConfig(c.HTTP, "kubernetes_sd", opts.HTTPClientOptions...)
			if err != nil {
				return nil, err
			}
			return kube.ConnectTo(&rest.Config{Host: server, Transport: rt}, "default")
		}
	}
	return kube.NewSD(connect, conf, opts.Logger), nil
}
