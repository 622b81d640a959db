package push

import (
	"fmt"
	"strings"

	"github.com/prometheus/common/config"
	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/buildinfo"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/pkg/push"
)

// sinkKind is one kind of sink. Its flag, its key in the config file's
// push section, its lines in the help and the "push where?" message all
// come from here: a new kind is a new entry.
type sinkKind struct {
	// flag names the sink's URLs on the command line and in the push
	// section of the config file.
	flag string
	// usage is the flag's one-line help; help is its paragraph in push's
	// long help (the lines after "--flag URL", indented).
	usage, help string
	// build makes a sink of this kind from its endpoint, with the kind's
	// own options of o.
	build func(o *Options, ep push.Endpoint) (push.Sink, error)
}

// sinkKinds are the kinds of sink push delivers to, in the order they are
// listed and delivered.
func sinkKinds() []sinkKind {
	return []sinkKind{{
		flag:  "pushgateway",
		usage: "Pushgateway base URL (repeatable)",
		help:  "a Pushgateway (its base URL), group --job and\n--grouping KEY=VALUE, --method put|post|delete",
		build: func(o *Options, ep push.Endpoint) (push.Sink, error) {
			grouping := map[string]string{}
			for _, g := range o.Grouping {
				k, v, ok := strings.Cut(g, "=")
				if !ok || k == "" {
					return nil, fmt.Errorf("--grouping %q: want KEY=VALUE", g)
				}
				grouping[k] = v
			}
			return push.NewPushgateway(ep, o.Job, grouping, strings.ToUpper(o.Method))
		},
	}, {
		flag:  "remote-write",
		usage: "remote-write URL, e.g. http://host:9090/api/v1/write (repeatable)",
		help:  "a Prometheus remote-write 1.0 receiver, the full\nwrite URL (Prometheus, VictoriaMetrics, Mimir, ...)",
		build: func(_ *Options, ep push.Endpoint) (push.Sink, error) { return push.NewRemoteWrite(ep) },
	}, {
		flag:  "influx",
		usage: "InfluxDB write URL with its query, e.g. http://host:8086/write?db=x, or file:///path to append the lines to (repeatable)",
		help:  "InfluxDB's full write URL with its query\n(/write?db=x, or /api/v2/write?org=o&bucket=b with\n--influx-token-file); file:///path appends the lines\nto a file (Telegraf's tail input reads it)",
		build: func(o *Options, ep push.Endpoint) (push.Sink, error) {
			if o.InfluxTokenFile != "" {
				ep.HTTP.Authorization = &config.Authorization{Type: "Token", CredentialsFile: o.InfluxTokenFile}
			}
			return push.NewInflux(ep)
		},
	}, {
		flag:  "graphite",
		usage: "Graphite plaintext listener (Carbon, VictoriaMetrics' -graphiteListenAddr), tcp://host:2003, or file:///path (repeatable)",
		help:  "a Graphite plaintext listener, tcp://host:2003:\nname;label=value value seconds, a line per sample",
		build: func(_ *Options, ep push.Endpoint) (push.Sink, error) { return push.NewGraphite(ep) },
	}}
}

// addSinkFlags adds a repeatable URL flag per kind, marked as a sink so
// that the config file's push section lists sinks under the same key.
func (o *Options) addSinkFlags(cmd *cobra.Command) {
	o.SinkURLs = map[string]*[]string{}
	for _, k := range sinkKinds() {
		urls := new([]string)
		o.SinkURLs[k.flag] = urls
		cmd.Flags().StringArrayVar(urls, k.flag, nil, k.usage)
		_ = cmd.Flags().SetAnnotation(k.flag, cmdutil.SinkAnnotation, []string{"true"})
	}
}

// sinksHelp is the paragraph of push's long help that lists the kinds.
func sinksHelp() string {
	var b strings.Builder
	for _, k := range sinkKinds() {
		lines := strings.Split(k.help, "\n")
		fmt.Fprintf(&b, "  %-20s%s\n", "--"+k.flag+" URL", lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "  %-20s%s\n", "", l)
		}
	}
	return b.String()
}

// sinkFlagList is "--a, --b or --c": the flags that name sinks.
func sinkFlagList() string {
	kinds := sinkKinds()
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = "--" + k.flag
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// sinks builds every sink of the config file and the flags, kind by kind.
func (o *Options) sinks() ([]push.Sink, error) {
	ua := "monctl/" + buildinfo.Get().Version
	var out []push.Sink
	built := map[string]int{}
	for _, k := range sinkKinds() {
		configs := []cmdutil.SinkConfig{}
		for _, sc := range o.ConfigSinks {
			if sc.Kind == k.flag {
				configs = append(configs, sc)
			}
		}
		for _, u := range *o.SinkURLs[k.flag] {
			configs = append(configs, cmdutil.SinkConfig{Kind: k.flag, URL: u, HTTP: config.DefaultHTTPClientConfig})
		}
		for _, sc := range configs {
			ep := push.Endpoint{URL: sc.URL, Timeout: o.PushTimeout, UserAgent: ua, HTTP: sc.HTTP,
				Warn: func(msg string) { fmt.Fprintf(o.IO.ErrOut, "monctl: warning: %s\n", msg) }}
			s, err := k.build(o, ep)
			if err != nil {
				return nil, cmdutil.UsageError("--%s: %v", k.flag, err)
			}
			out = append(out, s)
			built[k.flag]++
		}
	}
	if len(out) == 0 {
		return nil, cmdutil.UsageError("push where? give %s", sinkFlagList())
	}
	if len(o.Grouping) > 0 && built["pushgateway"] == 0 {
		return nil, cmdutil.UsageError("--grouping goes with --pushgateway")
	}
	return out, nil
}
