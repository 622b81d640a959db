package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/monctl/monctl/internal/cli/cmdtest"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	ctr "github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/containers/containerstest"
)

func execute(args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	err := cmdtest.Execute(NewCmd(cmdutil.NewFactory(cmdutil.IOStreams{Out: &out, ErrOut: &errOut})), args...)
	return out.String(), errOut.String() + fmt.Sprint(err), cmdutil.CodeOf(err)
}

func TestEventsFromAnEngine(t *testing.T) {
	eng := containerstest.NewEngine()
	defer eng.Close()
	at := time.Date(2026, 12, 7, 4, 30, 0, 123456789, time.UTC)
	msg := func(action string, attrs map[string]string) events.Message {
		at = at.Add(time.Second)
		return events.Message{Type: events.ContainerEventType, Action: events.Action(action), TimeNano: at.UnixNano(), Time: at.Unix(),
			Actor: events.Actor{ID: strings.Repeat("a", 64), Attributes: attrs}}
	}
	eng.AddEvents(
		msg("die", map[string]string{"name": "web", "image": "nginx", "exitCode": "137"}),
		msg("kill", map[string]string{"name": "web", "image": "nginx", "signal": "9"}),
		msg("health_status: unhealthy", map[string]string{"name": "evil\x1b[31mname", "image": "img"}),
	)
	out, errOut, code := execute("-H", eng.Host, "--since", "1h", "--until", "0s", "--filter", "event=die")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{
		"2026-12-07T04:30:01.123456789Z  web (aaaaaaaaaaaa)  die  exit code 137, image nginx",
		"2026-12-07T04:30:02.123456789Z  web (aaaaaaaaaaaa)  kill  signal 9, image nginx",
		`2026-12-07T04:30:03.123456789Z  evil\x1b[31mname (aaaaaaaaaaaa)  health_status: unhealthy  image img`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	if f := eng.EventFilters(); len(f) != 1 || !strings.Contains(f[0], `"event":{"die":true}`) || !strings.Contains(f[0], `"type":{"container":true}`) {
		t.Errorf("filters sent to the engine: %q", f)
	}

	out, errOut, code = execute("-H", eng.Host, "--since", "1h", "--until", "0s", "-o", "jsonl")
	if code != 0 {
		t.Fatalf("jsonl: exit %d: %s", code, errOut)
	}
	var first ctr.Event
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Action != "die" || first.ExitCode == nil || *first.ExitCode != 137 || first.Name != "web" || first.Host != eng.Host || !first.Time.Equal(at.Add(-2*time.Second)) {
		t.Errorf("the first record: %+v", first)
	}
	if !strings.Contains(out, `"health":"unhealthy"`) || !strings.Contains(out, `"signal":"9"`) {
		t.Errorf("records lack the health or the signal:\n%s", out)
	}
}

func TestEventsFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--filter", "network=x"}, cmdutil.ExitUsage, `--filter "network=x": want KEY=VALUE with KEY one of container, event, image, label`},
		{[]string{"--since", "yesterday"}, cmdutil.ExitUsage, `--since "yesterday"`},
		{[]string{"-o", "csv"}, cmdutil.ExitUsage, "csv"},
		{[]string{"-H", "tcp://127.0.0.1:1"}, cmdutil.ExitFailure, "127.0.0.1:1"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, errOut, code := execute(c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, %s; want exit %d saying %q", code, errOut, c.code, c.want)
			}
		})
	}
}
