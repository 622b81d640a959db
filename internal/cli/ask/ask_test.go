package ask

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/query"
)

// at is when the store's one gathering was taken.
var at = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// store holds one gathering: two disks, one of them nearly full.
func store() *query.Store {
	s := query.NewStore()
	s.Add(at, []exposition.Family{{Name: "disk_used_ratio", Type: exposition.Gauge, Metrics: []exposition.Metric{
		{Labels: exposition.Labels{{Name: "dev", Value: "sda"}}, Value: 0.5},
		{Labels: exposition.Labels{{Name: "dev", Value: "sdb"}}, Value: 0.97},
	}}})
	return s
}

func ruleFile(t *testing.T, severity string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.yml")
	rules := "groups:\n- name: disks\n  rules:\n  - alert: DiskFull\n    expr: disk_used_ratio > 0.9\n    labels: {severity: " + severity + "}\n    annotations: {summary: '{{ $labels.dev }} is full'}\n"
	if err := os.WriteFile(p, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func printer(format output.Format, out *bytes.Buffer) *output.Printer {
	return &output.Printer{Out: out, ErrOut: out, Format: format}
}

// TestCheck: a bad question, bound or format is a usage error before
// anything is gathered.
func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name  string
		flags Flags
		p     *output.Printer
		want  string
	}{
		{"a syntax error", Flags{Queries: []string{"rate(x[5m]"}}, printer(output.Table, nil), "unclosed"},
		{"a check's syntax error", Flags{FailIf: []string{"up >"}}, printer(output.Table, nil), "parse"},
		{"no timeout", Flags{Queries: []string{"up"}, MaxSamples: 1}, printer(output.Table, nil), "--query-timeout"},
		{"a rule file that is not there", Flags{RuleFiles: []string{"/nonexistent/rules.yml"}, QueryTimeout: time.Second, MaxSamples: 1}, printer(output.Table, nil), "rules.yml"},
		{"a format answers lack", Flags{Queries: []string{"up"}, QueryTimeout: time.Second, MaxSamples: 1}, printer(output.Prom, nil), `"prom" is not available here (want one of ` + strings.Join(output.FormatsOf(Shapes), ", ")},
		{"a template", Flags{Queries: []string{"up"}, QueryTimeout: time.Second, MaxSamples: 1}, &output.Printer{Template: &output.Template{}}, "--format cannot print query results"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.flags.Check(c.p)
			if cmdutil.CodeOf(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v, want a usage error about %s", err, c.want)
			}
		})
	}
}

// answer checks flags with format, evaluates them over the store and
// prints the answers; it returns stdout, stderr and Print's error.
func answer(t *testing.T, flags Flags, format output.Format, nagios bool) (string, string, error) {
	t.Helper()
	flags.QueryTimeout, flags.MaxSamples, flags.Nagios = time.Minute, 1e6, nagios
	var out, errOut bytes.Buffer
	p := printer(format, &out)
	if err := flags.Check(p); err != nil {
		t.Fatal(err)
	}
	s := store()
	if err := flags.Round(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	as, err := flags.Evaluate(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	err = Print(p, &errOut, as, nagios)
	return out.String(), errOut.String(), err
}

// TestPrint: each format prints the answers as documented, a check that
// fires is exit 4 and is said on stderr for people.
func TestPrint(t *testing.T) {
	for _, c := range []struct {
		name           string
		flags          Flags
		format         output.Format
		out, errOut    []string // each in stdout, stderr
		notOut, notErr string   // never in it ("" to skip)
		code           int
	}{
		{name: "a table per question", flags: Flags{Queries: []string{"disk_used_ratio", "count(disk_used_ratio)"}}, format: output.Table,
			out: []string{"# disk_used_ratio\n", `disk_used_ratio{dev="sdb"}`, "0.97", "# count(disk_used_ratio)\n"}, code: cmdutil.ExitOK},
		{name: "json is Prometheus's data objects", flags: Flags{Queries: []string{"disk_used_ratio > 0.9"}}, format: output.JSON,
			out: []string{`[{"resultType":"vector","result":[{"metric":{"__name__":"disk_used_ratio","dev":"sdb"},"value":[`}, code: cmdutil.ExitOK},
		{name: "a check that fires", flags: Flags{FailIf: []string{"disk_used_ratio > 0.9"}}, format: output.Table,
			errOut: []string{"monctl: check failed: disk_used_ratio > 0.9\n", `dev="sdb"`}, notErr: `dev="sda"`, code: cmdutil.ExitCheck},
		{name: "a check that holds", flags: Flags{FailIf: []string{"disk_used_ratio > 0.99"}}, format: output.Table,
			notErr: "check failed", code: cmdutil.ExitOK},
		{name: "json with checks lists what fired", flags: Flags{Queries: []string{"up"}, FailIf: []string{"disk_used_ratio > 0.9"}}, format: output.JSON,
			out: []string{`"queries":[{"resultType":"vector","result":[]}]`, `"firing":[{"expr":"disk_used_ratio > 0.9"`}, notErr: "check failed", code: cmdutil.ExitCheck},
		{name: "csv is exact, the time in Unix seconds", flags: Flags{Queries: []string{"disk_used_ratio / 3"}}, format: output.CSV,
			out: []string{"expr,check,metric,value,time\n", `0.3233333333333333,1796637600` + "\n"}, code: cmdutil.ExitOK},
		{name: "markdown is for people", flags: Flags{Queries: []string{"disk_used_ratio / 3"}}, format: output.Markdown,
			out: []string{"| EXPR | CHECK | METRIC | VALUE | TIME |\n", "| 0.323333 | 2026-12-07T10:00:00Z |"}, code: cmdutil.ExitOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, err := answer(t, c.flags, c.format, false)
			if code := cmdutil.CodeOf(err); code != c.code {
				t.Errorf("exit %d (%v), want %d", code, err, c.code)
			}
			for _, want := range c.out {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, want := range c.errOut {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			if c.notErr != "" && strings.Contains(errOut, c.notErr) {
				t.Errorf("stderr has %q:\n%s", c.notErr, errOut)
			}
			if c.format == output.JSON && !json.Valid([]byte(out)) {
				t.Errorf("not JSON:\n%s", out)
			}
		})
	}
}

// TestRulesAndNagios: an alerting rule fires with its labels and
// annotations; as a Nagios plugin its severity picks the state.
func TestRulesAndNagios(t *testing.T) {
	t.Run("an alert on stderr", func(t *testing.T) {
		_, errOut, err := answer(t, Flags{RuleFiles: []string{ruleFile(t, "critical")}}, output.Table, false)
		if cmdutil.CodeOf(err) != cmdutil.ExitCheck || !strings.Contains(errOut, `monctl: alert firing: DiskFull{dev="sdb", severity="critical"}`) ||
			!strings.Contains(errOut, "summary: sdb is full") {
			t.Errorf("%v:\n%s", err, errOut)
		}
	})
	for _, c := range []struct {
		name, severity string
		flags          Flags
		code           int
		line           string
	}{
		{"ok", "", Flags{FailIf: []string{"disk_used_ratio > 0.99"}, Queries: []string{"max(disk_used_ratio)"}}, 0, "MONCTL OK - all checks pass | 'checks_failed'=0 'alerts_firing'=0 'max(disk_used_ratio)'=0.97\n"},
		{"a warning", "warning", Flags{}, 1, "MONCTL WARNING - DiskFull | 'checks_failed'=0 'alerts_firing'=1\nWARNING: DiskFull: sdb is full\n"},
		{"critical", "critical", Flags{}, 2, "MONCTL CRITICAL - DiskFull | 'checks_failed'=0 'alerts_firing'=1\nCRITICAL: DiskFull: sdb is full\n"},
	} {
		t.Run("nagios "+c.name, func(t *testing.T) {
			if c.severity != "" {
				c.flags.RuleFiles = []string{ruleFile(t, c.severity)}
			}
			out, _, err := answer(t, c.flags, output.Table, true)
			if cmdutil.CodeOf(err) != c.code || out != c.line {
				t.Errorf("exit %d (%v):\n%q\nwant exit %d:\n%q", cmdutil.CodeOf(err), err, out, c.code, c.line)
			}
		})
	}
}
