package notify

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"
)

// alertmanagerConfig is one entry of a Prometheus config's
// alerting.alertmanagers, as far as monctl honours it: static targets,
// scheme, path prefix, timeout, API v2 and the http_config keys.
type alertmanagerConfig struct {
	HTTP          config.HTTPClientConfig `yaml:",inline"`
	StaticConfigs []struct {
		Targets []string `yaml:"targets"`
	} `yaml:"static_configs"`
	Scheme     string         `yaml:"scheme"`
	PathPrefix string         `yaml:"path_prefix"`
	Timeout    model.Duration `yaml:"timeout"`
	APIVersion string         `yaml:"api_version"`
}

// UnmarshalYAML reads an entry on top of Prometheus's defaults.
func (c *alertmanagerConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = alertmanagerConfig{HTTP: config.DefaultHTTPClientConfig, Scheme: "http", PathPrefix: "/", Timeout: model.Duration(10 * time.Second), APIVersion: "v2"}
	type plain alertmanagerConfig
	return unmarshal((*plain)(c))
}

// ParseAlerting reads the alertmanagers of a YAML document's alerting
// section, with Prometheus's keys (other top-level keys are left to the
// caller); relative file names in their http_config are relative to dir.
// Errors carry the document's line numbers.
func ParseAlerting(doc []byte, dir string) ([]Alertmanager, error) {
	var file struct {
		Alerting struct {
			Alertmanagers []alertmanagerConfig `yaml:"alertmanagers"`
		} `yaml:"alerting"`
		Rest map[string]any `yaml:",inline"`
	}
	if err := yaml.UnmarshalStrict(doc, &file); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var out []Alertmanager
	for i, c := range file.Alerting.Alertmanagers {
		where := fmt.Sprintf("alerting.alertmanagers[%d]", i)
		switch {
		case c.Scheme != "http" && c.Scheme != "https":
			return nil, fmt.Errorf("%s: scheme must be http or https, got %q", where, c.Scheme)
		case c.APIVersion != "v2":
			return nil, fmt.Errorf("%s: api_version %q: monctl speaks Alertmanager's API v2 only", where, c.APIVersion)
		case c.Timeout <= 0:
			return nil, fmt.Errorf("%s: timeout must be positive", where)
		case len(c.StaticConfigs) == 0:
			return nil, fmt.Errorf("%s: no static_configs: list the Alertmanagers' host:port", where)
		}
		c.HTTP.SetDirectory(dir)
		if err := c.HTTP.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		for _, sc := range c.StaticConfigs {
			for _, t := range sc.Targets {
				if _, _, err := net.SplitHostPort(t); err != nil {
					return nil, fmt.Errorf("%s: target %q: want host:port", where, t)
				}
				u := url.URL{Scheme: c.Scheme, Host: t, Path: strings.TrimSuffix(c.PathPrefix, "/")}
				out = append(out, Alertmanager{URL: u.String(), HTTP: c.HTTP, Timeout: time.Duration(c.Timeout)})
			}
		}
	}
	return out, nil
}
