package logs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/cli/ask"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	ctr "github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/query"
)

func TestParsePatterns(t *testing.T) {
	ps, err := parsePatterns([]string{"errors=(?i)error|panic", "slow=took [0-9]{4,}ms"})
	if err != nil || len(ps) != 2 || ps[0].name != "errors" || !ps[0].re.MatchString("PANIC: x") || ps[1].re.MatchString("took 12ms") {
		t.Fatalf("%v %v", ps, err)
	}
	for _, bad := range [][]string{{"errors"}, {"=x"}, {"a-b=x"}, {"e=("}, {"e=x", "e=y"}, {"e=(\\w+\\s?){1000}"}} {
		if _, err := parsePatterns(bad); cmdutil.CodeOf(err) != cmdutil.ExitUsage {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
}

// TestCountersAndRules: each container's counters start at 0 when its
// reading starts and count the lines each pattern matched; an alert over
// their increase fires and resolves, a check fails and passes again,
// each said once on stderr.
func TestCountersAndRules(t *testing.T) {
	ps, err := parsePatterns([]string{"errors=error"})
	if err != nil {
		t.Fatal(err)
	}
	c := &counters{patterns: ps, n: map[counter]float64{}}
	web := ctr.Container{ID: "aaa", Name: "web"}
	c.start("h", web)
	c.start("h", ctr.Container{ID: "bbb", Name: "db"})
	rules := filepath.Join(t.TempDir(), "rules.yml")
	os.WriteFile(rules, []byte(`groups:
- name: logs
  rules:
  - alert: Errors
    expr: increase(monctl_log_lines_total{pattern="errors"}[1m]) > 0
    annotations: {summary: "{{ $labels.name }} logged errors"}
`), 0o644)
	var errOut bytes.Buffer
	a := ask.Flags{RuleFiles: []string{rules}, FailIf: []string{`monctl_log_lines_total > 1`}, QueryTimeout: time.Minute, MaxSamples: 1000}
	if err := a.CheckRules(&errOut); err != nil {
		t.Fatal(err)
	}
	ev := &evaluator{ask: &a, counters: c, errOut: &errOut, store: query.NewStore()}
	t0 := time.Unix(1000, 0)
	if err := ev.evaluate(t.Context(), t0); err != nil || ev.fired || errOut.Len() > 0 {
		t.Fatalf("nothing matched yet: fired %v, %v, %q", ev.fired, err, errOut.String())
	}
	for _, msg := range []string{"an error", "fine", "error again"} {
		c.line(&ctr.LogLine{Host: "h", ID: web.ID, Name: web.Name, Message: msg})
	}
	if err := ev.evaluate(t.Context(), t0.Add(10*time.Second)); err != nil || !ev.fired {
		t.Fatalf("fired %v, %v", ev.fired, err)
	}
	said := errOut.String()
	for _, want := range []string{`monctl: alert firing: Errors{host="h", id="aaa", name="web", pattern="errors"}`, "monctl: check failed: monctl_log_lines_total > 1 (1 series)"} {
		if !strings.Contains(said, want) {
			t.Errorf("stderr lacks %q:\n%s", want, said)
		}
	}
	if strings.Contains(said, `name="db"`) {
		t.Errorf("db matched nothing:\n%s", said)
	}
	errOut.Reset()
	if err := ev.evaluate(t.Context(), t0.Add(20*time.Second)); err != nil || !ev.fired || errOut.Len() > 0 {
		t.Errorf("no change is said again: fired %v, %v, %q", ev.fired, err, errOut.String())
	}
	if err := ev.evaluate(t.Context(), t0.Add(2*time.Minute)); err != nil || !ev.fired ||
		!strings.Contains(errOut.String(), "monctl: alert resolved: Errors{") {
		t.Errorf("no increase in the last minute: resolved; the check still fails: fired %v, %v, %q", ev.fired, err, errOut.String())
	}
}
