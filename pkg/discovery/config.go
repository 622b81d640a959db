// Package discovery finds scrape targets as Prometheus does: its own
// service discovery (Docker, files, HTTP, static lists) gives target
// groups of __meta_* labels, and a job's relabel_configs turn each into a
// target or drop it. Jobs are written with the keys of a Prometheus
// scrape_config, so that a user can paste one.
//
// Only the mechanisms monctl offers are imported (never
// discovery/install): each registers its *_sd_configs key by importing
// it.
package discovery

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/discovery"
	"go.yaml.in/yaml/v2"

	// The mechanisms monctl offers; importing one registers its key
	// (discovery/http and discovery/moby are imported where used).
	_ "github.com/prometheus/prometheus/discovery/file"
	"github.com/prometheus/prometheus/discovery/moby"
	"github.com/prometheus/prometheus/model/relabel"
)

// Job is one Prometheus scrape_config, as far as monctl honours it: how
// targets are found and relabelled, and how they are reached. (How often
// they are scraped is the verb's --interval or --every.)
type Job struct {
	Name        string     `yaml:"job_name"`
	Scheme      string     `yaml:"scheme,omitempty"`
	MetricsPath string     `yaml:"metrics_path,omitempty"`
	Params      url.Values `yaml:"params,omitempty"`

	HTTP config.HTTPClientConfig `yaml:",inline"`

	// SD holds static_configs and every *_sd_configs block.
	SD discovery.Configs `yaml:"-"`

	RelabelConfigs       []*relabel.Config `yaml:"relabel_configs,omitempty"`
	MetricRelabelConfigs []*relabel.Config `yaml:"metric_relabel_configs,omitempty"`

	// DefaultRules says RelabelConfigs are the label convention
	// (DockerRules), given because the job had none of its own.
	DefaultRules bool `yaml:"-"`
}

// UnmarshalYAML reads a job on top of Prometheus's defaults.
func (j *Job) UnmarshalYAML(unmarshal func(any) error) error {
	*j = Job{Scheme: "http", MetricsPath: "/metrics", HTTP: config.DefaultHTTPClientConfig}
	type plain Job
	if err := discovery.UnmarshalYAMLWithInlineConfigs((*plain)(j), unmarshal); err != nil {
		return err
	}
	return j.validate()
}

func (j *Job) validate() error {
	if j.Name == "" {
		return errors.New("job_name is missing")
	}
	if j.Scheme != "http" && j.Scheme != "https" {
		return fmt.Errorf("job %s: scheme must be http or https, got %q", j.Name, j.Scheme)
	}
	if !strings.HasPrefix(j.MetricsPath, "/") {
		return fmt.Errorf("job %s: metrics_path must start with '/', got %q", j.Name, j.MetricsPath)
	}
	if len(j.SD) == 0 {
		return fmt.Errorf("job %s: no targets: give static_configs, docker_sd_configs, file_sd_configs, http_sd_configs or kubernetes_sd_configs", j.Name)
	}
	if err := j.HTTP.Validate(); err != nil {
		return fmt.Errorf("job %s: %w", j.Name, err)
	}
	for kind, rules := range map[string][]*relabel.Config{"relabel_configs": j.RelabelConfigs, "metric_relabel_configs": j.MetricRelabelConfigs} {
		for i, r := range rules {
			if r == nil {
				return fmt.Errorf("job %s: %s rule %d is empty", j.Name, kind, i+1)
			}
			if err := r.Validate(model.UTF8Validation); err != nil {
				return fmt.Errorf("job %s: %s rule %d: %w", j.Name, kind, i+1, err)
			}
		}
	}
	if len(j.RelabelConfigs) == 0 {
		switch {
		case j.hasDocker():
			j.RelabelConfigs, j.DefaultRules = DockerRules(), true
		case j.onlyPods():
			j.RelabelConfigs, j.DefaultRules = KubernetesPodRules(), true
		}
	}
	return nil
}

// onlyPods says the job finds only pods, through kubernetes_sd_configs
// with role pod.
func (j *Job) onlyPods() bool {
	for _, c := range j.SD {
		if k, ok := c.(*KubernetesSDConfig); !ok || k.Role != "pod" {
			return false
		}
	}
	return true
}

// SetDirectory makes the job's relative file names (file_sd files,
// credential files) relative to dir, the config file's, as Prometheus
// does.
func (j *Job) SetDirectory(dir string) {
	j.HTTP.SetDirectory(dir)
	j.SD.SetDirectory(dir)
}

func (j *Job) hasDocker() bool {
	for _, c := range j.SD {
		if c.Name() == "docker" {
			return true
		}
	}
	return false
}

// ParseJobs reads the scrape_configs list of a YAML document (other
// top-level keys are left to the caller). Errors carry the document's
// line numbers.
func ParseJobs(doc []byte) ([]Job, error) {
	var file struct {
		Jobs []Job          `yaml:"scrape_configs"`
		Rest map[string]any `yaml:",inline"`
	}
	if err := yaml.UnmarshalStrict(doc, &file); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	seen := map[string]bool{}
	for _, j := range file.Jobs {
		if seen[j.Name] {
			return nil, fmt.Errorf("scrape_configs: job_name %q is used twice", j.Name)
		}
		seen[j.Name] = true
	}
	return file.Jobs, nil
}

// dockerRulesYAML is the label convention of Prometheus users' Docker
// and Kubernetes setups, in Prometheus's own syntax (the README shows
// it, for copying): scrape only the containers labelled
// prometheus.io/scrape=true, at the port, path and scheme their labels
// give; name the target by its container, and its compose project and
// service where there are.
const dockerRulesYAML = `
- source_labels: [__meta_docker_container_label_prometheus_io_scrape]
  regex: "true"
  action: keep
- source_labels: [__address__, __meta_docker_container_label_prometheus_io_port]
  regex: '(.+?)(?::\d+)?;(\d+)'
  replacement: $1:$2
  target_label: __address__
- source_labels: [__meta_docker_container_label_prometheus_io_path]
  regex: (/.*)
  target_label: __metrics_path__
- source_labels: [__meta_docker_container_label_prometheus_io_scheme]
  regex: (https?)
  target_label: __scheme__
- source_labels: [__meta_docker_container_name]
  regex: /?(.+)
  target_label: container
- source_labels: [__meta_docker_container_label_com_docker_compose_project]
  target_label: compose_project
- source_labels: [__meta_docker_container_label_com_docker_compose_service]
  target_label: compose_service
`

// DockerRulesYAML is the default relabel_configs of a job with
// docker_sd_configs and no rules of its own.
func DockerRulesYAML() string { return strings.TrimPrefix(dockerRulesYAML, "\n") }

// DockerRules are DockerRulesYAML's rules.
func DockerRules() []*relabel.Config { return mustRules(dockerRulesYAML) }

// kubernetesPodRulesYAML is the same convention for pods, with
// annotations (as Prometheus's example configuration for Kubernetes
// has it): scrape only the pods annotated prometheus.io/scrape=true, at
// the port, path and scheme their annotations give; not their init
// containers, nor pods that are not running or about to (as the
// Prometheus community's Helm chart does); name the target by its
// namespace and pod.
const kubernetesPodRulesYAML = `
- source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
  regex: "true"
  action: keep
- source_labels: [__meta_kubernetes_pod_container_init]
  regex: "true"
  action: drop
- source_labels: [__meta_kubernetes_pod_phase]
  regex: Pending|Succeeded|Failed|Completed
  action: drop
- source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
  regex: '(.+?)(?::\d+)?;(\d+)'
  replacement: $1:$2
  target_label: __address__
- source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
  regex: (/.*)
  target_label: __metrics_path__
- source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scheme]
  regex: (https?)
  target_label: __scheme__
- source_labels: [__meta_kubernetes_namespace]
  target_label: namespace
- source_labels: [__meta_kubernetes_pod_name]
  target_label: pod
`

// KubernetesPodRulesYAML is the default relabel_configs of a job with
// only kubernetes_sd_configs of role pod and no rules of its own.
func KubernetesPodRulesYAML() string { return strings.TrimPrefix(kubernetesPodRulesYAML, "\n") }

// KubernetesPodRules are KubernetesPodRulesYAML's rules.
func KubernetesPodRules() []*relabel.Config { return mustRules(kubernetesPodRulesYAML) }

// mustRules are the rules of doc, one of the defaults above.
func mustRules(doc string) []*relabel.Config {
	var rules []*relabel.Config
	if err := yaml.UnmarshalStrict([]byte(doc), &rules); err != nil {
		panic("default rules do not parse: " + err.Error())
	}
	for _, r := range rules {
		if err := r.Validate(model.UTF8Validation); err != nil {
			panic("default rules are not valid: " + err.Error())
		}
	}
	return rules
}

// DockerConfig is the docker_sd_configs block monctl uses for an engine
// at host: Prometheus's defaults, refreshed every refresh.
func DockerConfig(host, hostNetworkingHost string, refresh model.Duration) *moby.DockerSDConfig {
	c := moby.DefaultDockerSDConfig
	c.Host, c.RefreshInterval = host, refresh
	if hostNetworkingHost != "" {
		c.HostNetworkingHost = hostNetworkingHost
	}
	return &c
}
