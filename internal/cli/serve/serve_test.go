package serve

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/monctl/monctl/internal/cli/cmdtest"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/pkg/containers"
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
