package cmdutil

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/prometheus/common/config"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"

	"github.com/monctl/monctl/pkg/discovery"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/notify"
)

// EnvPrefix starts every environment variable monctl reads.
const EnvPrefix = "MONCTL"

// Config is what the configuration file and environment hold for one run.
type Config struct {
	// File is the file that was loaded, or "" when there was none.
	File string
	// Targets are the scrape targets listed in the file.
	Targets []exposition.Target
	// Sinks are the push sinks of the file's push section, each with its
	// http_config.
	Sinks []SinkConfig
	// Jobs are the file's scrape_configs, as in Prometheus's file.
	Jobs []discovery.Job
	// Alertmanagers are the file's alerting.alertmanagers, as in
	// Prometheus's file.
	Alertmanagers []notify.Alertmanager

	file *viper.Viper // the file's settings
	env  *viper.Viper // MONCTL_* variables, looked up by key
}

// envKeys turns a key into the rest of its variable's name:
// scrape.body-size-limit is MONCTL_SCRAPE_BODY_SIZE_LIMIT.
var envKeys = strings.NewReplacer("-", "_", ".", "_")

// ConfigPath picks the configuration file: --config, else $MONCTL_CONFIG,
// else $XDG_CONFIG_HOME/monctl/config.yaml (~/.config when unset). The second
// result says whether the user named the file, so that a missing one is an
// error rather than the normal case.
func ConfigPath(flag string) (string, bool) {
	if flag != "" {
		return flag, true
	}
	if p := os.Getenv(EnvPrefix + "_CONFIG"); p != "" {
		return p, true
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "monctl", "config.yaml"), false
}

// SinkAnnotation marks a flag whose values are sink URLs: under its name,
// the config file's push section lists sinks (URLs, or mappings of url
// and http_config) rather than a flag's value.
const SinkAnnotation = "monctl_sink"

// ConfigKeys are the keys a config file may use.
type ConfigKeys struct {
	// Flags are, per section (the top level: ""; a verb's: "scrape",
	// "watch.containers"), the flag names it may set.
	Flags map[string]map[string]bool
	// Sinks are the push section's keys that list sinks: the flags
	// marked with SinkAnnotation.
	Sinks map[string]bool
}

// LoadConfig reads the configuration file (if any) and prepares the
// environment lookups. keys lists what a file may use.
func LoadConfig(path string, named bool, keys ConfigKeys) (*Config, error) {
	known := keys.Flags
	env := viper.New()
	env.SetEnvPrefix(EnvPrefix)
	env.SetEnvKeyReplacer(envKeys)
	env.AutomaticEnv()
	c := &Config{file: viper.New(), env: env}
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !named:
		return c, nil
	case err != nil:
		return nil, ConfigError("cannot read config file %s: %v", path, errors.Unwrap(err))
	}
	c.File = path
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, ConfigError("config file %s: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return c, nil // empty file
	}
	root, err := resolveAliases(doc.Content[0])
	if err != nil {
		return nil, ConfigError("config file %s: %v", path, err)
	}
	if root.Kind != yaml.MappingNode {
		return nil, ConfigError("config file %s: line %d: want a mapping of settings, got a %s", path, root.Line, kindName(root))
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, val := root.Content[i], root.Content[i+1]
		if k.Value == "targets" {
			if c.Targets, err = decodeTargets(path, val); err != nil {
				return nil, err
			}
			continue
		}
		if k.Value == "alerting" {
			if c.Alertmanagers, err = notify.ParseAlerting(data, filepath.Dir(path)); err != nil {
				return nil, ConfigError("config file %s: %v", path, err)
			}
			continue
		}
		if k.Value == "scrape_configs" {
			// Prometheus's own types read them, with its YAML library
			// and the file's line numbers.
			if c.Jobs, err = discovery.ParseJobs(data); err != nil {
				return nil, ConfigError("config file %s: %v", path, err)
			}
			for i := range c.Jobs {
				c.Jobs[i].SetDirectory(filepath.Dir(path))
			}
			continue
		}
		if k.Value == "push" && val.Kind == yaml.MappingNode {
			if c.Sinks, err = decodeSinks(path, val, keys.Sinks); err != nil {
				return nil, err
			}
		}
		if err := checkSetting(path, "", k, val, known); err != nil {
			return nil, err
		}
	}
	// viper reads the file as checked: aliases expanded, the push
	// section's sinks taken out.
	c.file.SetConfigType("yaml")
	if err := c.file.ReadConfig(bytes.NewReader(mustMarshal(root))); err != nil {
		return nil, ConfigError("config file %s: %v", path, err)
	}
	return c, nil
}

// checkSetting validates key k of section (the top level: ""): a flag name,
// or a verb's section ("scrape", "watch" holding "containers"), checked
// recursively.
func checkSetting(path, section string, k, val *yaml.Node, known map[string]map[string]bool) error {
	if known[section][k.Value] {
		return nil
	}
	sub := k.Value
	if section != "" {
		sub = section + "." + k.Value
	}
	isSection := false
	for s := range known {
		isSection = isSection || s == sub || strings.HasPrefix(s, sub+".")
	}
	switch {
	case !isSection && section == "":
		return ConfigError("config file %s: line %d: unknown setting %q (%s)", path, k.Line, k.Value, hint(known[""]))
	case !isSection:
		return ConfigError("config file %s: line %d: %s has no setting %q (%s)", path, k.Line, section, k.Value, hint(known[section]))
	case val.Kind != yaml.MappingNode:
		return ConfigError("config file %s: line %d: %s: want a mapping of %s settings", path, val.Line, sub, sub)
	}
	for j := 0; j+1 < len(val.Content); j += 2 {
		if err := checkSetting(path, sub, val.Content[j], val.Content[j+1], known); err != nil {
			return err
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	}
	return "document"
}

func hint(keys map[string]bool) string {
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if len(ks) > 12 {
		ks = append(ks[:12], "...")
	}
	return "known: " + strings.Join(ks, ", ")
}

func decodeTargets(path string, n *yaml.Node) ([]exposition.Target, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, ConfigError("config file %s: line %d: targets: want a list", path, n.Line)
	}
	var out []exposition.Target
	for i, item := range n.Content {
		var t exposition.Target
		if item.Kind == yaml.ScalarNode { // a bare URL, host:port or file
			parsed, err := exposition.ParseConfigTarget(item.Value)
			if err != nil {
				return nil, ConfigError("config file %s: line %d: targets[%d]: %v", path, item.Line, i, err)
			}
			out = append(out, parsed)
			continue
		}
		dec := yaml.NewDecoder(bytes.NewReader(mustMarshal(item)))
		dec.KnownFields(true)
		if err := dec.Decode(&t); err != nil {
			return nil, ConfigError("config file %s: line %d: targets[%d]: %v", path, item.Line, i, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		if t.URL == "" {
			return nil, ConfigError("config file %s: line %d: targets[%d]: url is missing", path, item.Line, i)
		}
		if !t.IsHTTP() {
			parsed, err := exposition.ParseConfigTarget(t.URL)
			if err != nil {
				return nil, ConfigError("config file %s: line %d: targets[%d]: %v", path, item.Line, i, err)
			}
			t.URL = parsed.URL
		}
		t.HTTP.SetDirectory(filepath.Dir(path))
		if err := t.HTTP.Validate(); err != nil {
			return nil, ConfigError("config file %s: line %d: targets[%d] (%s): http_config: %v", path, item.Line, i, t.DisplayName(), err)
		}
		out = append(out, t)
	}
	return out, nil
}

// SinkConfig is one sink of the push section: its kind (the flag that
// names it: pushgateway, remote-write, influx), URL and http_config.
type SinkConfig struct {
	Kind string
	URL  string                  `yaml:"url"`
	HTTP config.HTTPClientConfig `yaml:"http_config"`
}

// decodeSinks reads the sinks of the push section: each item a URL or a
// mapping with url and http_config (files in it are relative to the
// config file). The items are taken out of the section, so that the
// flags of the same names are not set from them as well.
func decodeSinks(path string, push *yaml.Node, kinds map[string]bool) ([]SinkConfig, error) {
	var out []SinkConfig
	kept := push.Content[:0:0]
	for i := 0; i+1 < len(push.Content); i += 2 {
		k, val := push.Content[i], push.Content[i+1]
		if !kinds[k.Value] {
			kept = append(kept, k, val)
			continue
		}
		items := []*yaml.Node{val}
		if val.Kind == yaml.SequenceNode {
			items = val.Content
		}
		for j, item := range items {
			sc := SinkConfig{Kind: k.Value, HTTP: config.DefaultHTTPClientConfig}
			if item.Kind == yaml.ScalarNode {
				sc.URL = item.Value
			} else {
				dec := yaml.NewDecoder(bytes.NewReader(mustMarshal(item)))
				dec.KnownFields(true)
				if err := dec.Decode(&sc); err != nil {
					return nil, ConfigError("config file %s: line %d: push.%s[%d]: %v", path, item.Line, k.Value, j, strings.TrimPrefix(err.Error(), "yaml: "))
				}
			}
			if sc.URL == "" {
				return nil, ConfigError("config file %s: line %d: push.%s[%d]: url is missing", path, item.Line, k.Value, j)
			}
			sc.HTTP.SetDirectory(filepath.Dir(path))
			if err := sc.HTTP.Validate(); err != nil {
				return nil, ConfigError("config file %s: line %d: push.%s[%d]: http_config: %v", path, item.Line, k.Value, j, err)
			}
			out = append(out, sc)
		}
	}
	push.Content = kept
	return out, nil
}

// maxConfigNodes bounds a config file with its aliases expanded, so that
// nested aliases (a "billion laughs") cannot blow up.
const maxConfigNodes = 100000

// resolveAliases returns n with every alias replaced by a copy of what it
// names, so that each part of the file can be checked and decoded on its
// own (yaml.Marshal of an alias whose anchor is elsewhere fails).
func resolveAliases(n *yaml.Node) (*yaml.Node, error) {
	count := 0
	var walk func(n *yaml.Node, depth int) (*yaml.Node, error)
	walk = func(n *yaml.Node, depth int) (*yaml.Node, error) {
		count++
		if count > maxConfigNodes || depth > 100 {
			return nil, fmt.Errorf("line %d: the file is too large or too deeply nested with its aliases expanded", n.Line)
		}
		if n.Kind == yaml.AliasNode {
			return walk(n.Alias, depth+1)
		}
		c := *n
		c.Anchor = ""
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, child := range n.Content {
			var err error
			if c.Content[i], err = walk(child, depth+1); err != nil {
				return nil, err
			}
		}
		return &c, nil
	}
	return walk(n, 0)
}

func mustMarshal(n *yaml.Node) []byte {
	b, err := yaml.Marshal(n)
	if err != nil {
		panic(err) // a node that was just parsed always marshals
	}
	return b
}

// EnvName is the environment variable for a key (a flag name, or
// section.flag).
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(envKeys.Replace(key))
}

// ApplyToFlags fills every flag of cmd the user did not set from the
// environment, then from the file; per-verb keys (scrape.timeout,
// MONCTL_SCRAPE_TIMEOUT) win over global ones (timeout, MONCTL_TIMEOUT).
// The flags stay the single source of truth for the command's options.
func (c *Config) ApplyToFlags(cmd *cobra.Command, section string) error {
	var firstErr error
	apply := func(fl *pflag.Flag) {
		if firstErr != nil || fl.Changed || fl.Name == "config" || fl.Name == "help" {
			return
		}
		keys := []string{fl.Name}
		if section != "" {
			keys = []string{section + "." + fl.Name, fl.Name}
		}
		for _, k := range keys {
			if c.env.IsSet(k) { // set and not empty
				if err := setFlag(fl, c.env.GetString(k)); err != nil {
					firstErr = ConfigError("environment variable %s: %v", EnvName(k), err)
				}
				return
			}
		}
		for _, k := range keys {
			if c.File != "" && c.file.InConfig(k) {
				if err := setFlag(fl, c.file.Get(k)); err != nil {
					firstErr = ConfigError("config file %s: %s: %v", c.File, k, err)
				}
				return
			}
		}
	}
	cmd.Flags().VisitAll(apply)
	cmd.InheritedFlags().VisitAll(apply)
	return firstErr
}

// setFlag sets fl from the environment or the file. A list in the file
// gives several values. A single value is split only for comma-separated
// flags (stringSlice, as on the command line): values of repeatable flags
// (--match, --header, --filter...) may hold commas themselves, so in the
// environment several are given one per line.
func setFlag(fl *pflag.Flag, val any) error {
	if sv, ok := fl.Value.(pflag.SliceValue); ok {
		var items []string
		switch x := val.(type) {
		case []any:
			for i, it := range x {
				if what := compound(it); what != "" {
					return fmt.Errorf("item %d: want a single value, got %s", i, what)
				}
				items = append(items, fmt.Sprint(it))
			}
		case string:
			if fl.Value.Type() == "stringArray" {
				items = strings.Split(strings.TrimRight(x, "\n"), "\n")
			} else {
				items = strings.Split(x, ",")
			}
		default:
			items = []string{fmt.Sprint(x)}
		}
		return sv.Replace(items)
	}
	if what := compound(val); what != "" {
		return fmt.Errorf("want a single value, got %s", what)
	}
	return fl.Value.Set(fmt.Sprint(val))
}

// compound names what a config value is when it is not a single value:
// its contents are not quoted, for they may be anybody's credentials.
func compound(val any) string {
	switch val.(type) {
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "a mapping"
	}
	return ""
}
