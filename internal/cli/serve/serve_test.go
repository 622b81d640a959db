package serve

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/cli/cmdtest"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/discovery"
	"github.com/monctl/monctl/pkg/exposition"
)

// TestFlags runs serve from its flags to the engines it would ask, with
// a Factory whose engines are a fake that fails: nothing listens.
func TestFlags(t *testing.T) {
	for _, c := range []struct {
		args  []string
		code  int
		want  string
		hosts []string
	}{
		{[]string{"--web.telemetry-path", "metrics"}, cmdutil.ExitUsage, `must start with /`, nil},
		{[]string{"--web.write-timeout", "5", "--scrape-timeout", "10"}, cmdutil.ExitUsage, "must be longer than --scrape-timeout", nil},
		{[]string{"--once-timeout", "5"}, cmdutil.ExitUsage, "--once-timeout goes with --once", nil},
		{[]string{"--log.level", "loud"}, cmdutil.ExitUsage, `--log.level "loud"`, nil},
		{[]string{"--filter", "colour=red"}, cmdutil.ExitUsage, "unknown key", nil},
		{[]string{"--target", "ftp://x"}, cmdutil.ExitUsage, "--target", nil},
		{[]string{"--match", "node_load1{"}, cmdutil.ExitUsage, "node_load1{", nil},
		// -H is --host, as in docker; an engine that cannot be reached at
		// start is a mistake to report before listening.
		{[]string{"-H", "tcp://a:2375", "-H", "unix:///b.sock"}, cmdutil.ExitFailure, "engine down", []string{"tcp://a:2375", "unix:///b.sock"}},
	} {
		var asked []string
		var out, errOut bytes.Buffer
		f := cmdutil.NewFactory(cmdutil.IOStreams{Out: &out, ErrOut: &errOut})
		f.Engines = func(_ context.Context, hosts []string, _ string, _ int) ([]*containers.Engine, []error) {
			asked = append([]string{}, hosts...)
			return nil, []error{errors.New("engine down")}
		}
		err := cmdtest.Execute(NewCmd(f), append(c.args, "--web.listen-address", "127.0.0.1:0")...)
		if code := cmdutil.CodeOf(err); code != c.code || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: exit %d, %v; want exit %d about %s", c.args, code, err, c.code, c.want)
		}
		if c.hosts != nil && !slices.Equal(asked, c.hosts) {
			t.Errorf("%v: asked engines %q, want %q", c.args, asked, c.hosts)
		}
	}
}

// A discovered target named as a static one is told apart by its job,
// so that the two never serve series with the same target label.
func TestDiscoveredNamesApart(t *testing.T) {
	jobs, err := discovery.ParseJobs([]byte("scrape_configs:\n- job_name: found\n  static_configs: [{targets: ['a:1', 'b:2']}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.Start(t.Context(), jobs, discovery.Options{Scrape: discovery.Scrape{Interval: time.Second, Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	<-disc.Settled()
	static := exposition.NewTarget("http://a:1/metrics")
	static.Name = "a:1"
	o := &Options{targets: []exposition.Target{static}}
	var names []string
	for _, tg := range o.discovered(disc)() {
		names = append(names, tg.DisplayName())
	}
	if !slices.Equal(names, []string{"found/a:1", "b:2"}) {
		t.Errorf("discovered names %v, want [found/a:1 b:2]", names)
	}
	if disc.Targets()[0].Name != "a:1" {
		t.Errorf("the discovery's own targets were renamed: %v", disc.Targets()[0].Name)
	}
}

// TestRulesFlags: the rules' mistakes are refused before serving.
func TestRulesFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--fail-if", "rate(x[5m]"}, "unclosed left parenthesis"},
		{[]string{"--rules", "/nonexistent/rules.yml"}, "/nonexistent/rules.yml"},
		{[]string{"--alertmanager", "http://127.0.0.1:9093"}, "give a rule file"},
		{[]string{"--web.external-url", "localhost:19100"}, "--web.external-url"},
	} {
		var out, errOut bytes.Buffer
		f := cmdutil.NewFactory(cmdutil.IOStreams{Out: &out, ErrOut: &errOut})
		err := cmdtest.Execute(NewCmd(f), append(c.args, "--containers=false", "--target", "127.0.0.1:1", "--web.listen-address", "127.0.0.1:0")...)
		if code := cmdutil.CodeOf(err); code != cmdutil.ExitUsage || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: exit %d, %v; want exit %d about %s", c.args, code, err, cmdutil.ExitUsage, c.want)
		}
	}
}
