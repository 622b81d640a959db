package query

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExpressionBounds: what would take the parser or the evaluator
// past any timeout is refused before it runs, saying why.
func TestExpressionBounds(t *testing.T) {
	for expr, want := range map[string]string{
		strings.Repeat("(", 2000) + "a" + strings.Repeat(")", 2000): "nests brackets 2000 deep",
		strings.Repeat("a+", 65000) + "a":                           "130001 bytes long",
		strings.Repeat("-", 5000) + "a":                             "5000 operators",
		"foo[100y:1ms]":                                             "takes 3153600000000 steps",
		"foo[10d:1ms]":                                              "takes 864000000 steps",
		"max_over_time((max_over_time(foo[1h:1s]))[1h:1s])":         "takes 12960000 steps",
		"max_over_time(foo[200d])[200d:]":                           "takes 288000 steps",
	} {
		err := Parse(expr)
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40s: %v, want a ParseError saying %q", expr, err, want)
		}
	}
	for _, ok := range []string{
		"max_over_time(foo[1h:1s])",
		"rate(x[5m])[30d:1m]",
		`sum by (a) (rate(x{y="(((((((("}[5m]))`, // brackets in a string do not nest
		strings.Repeat("a+", 400) + "a",
	} {
		if err := Parse(ok); err != nil {
			t.Errorf("%.40s: %v", ok, err)
		}
	}
}

// TestInstantEndsWithItsContext: an evaluation answers when its
// context ends (a signal), not when the evaluator next looks.
func TestInstantEndsWithItsContext(t *testing.T) {
	s := NewStore()
	s.Add(time.Now(), exposed(t, 1))
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("interrupted")
	cancel(cause)
	_, err := NewEngine(Options{}).Instant(ctx, s, "max_over_time(temp[60d:1m])", time.Now())
	if !errors.Is(err, cause) {
		t.Errorf("%v, want the context's cause", err)
	}
}

// TestTemplateBounds: a rule whose templates could run or grow without
// bound is refused when the rules are loaded, naming the rule.
func TestTemplateBounds(t *testing.T) {
	rule := func(annotation string) string {
		return "groups:\n  - name: g\n    rules:\n      - alert: Big\n        expr: up == 0\n        annotations:\n          summary: '" + annotation + "'\n"
	}
	for annotation, want := range map[string]string{
		`{{ range 200000000 }}{{ end }}`:                                            "a range of 200000000 iterations",
		`{{ range 3000 }}{{ range 3000 }}x{{ end }}{{ end }}`:                       "a range of 9000000 iterations",
		`{{ $x := "a" }}{{ range $labels }}{{ $x = printf "%s%s" $x $x }}{{ end }}`: "assigned inside a range",
		`{{ printf "%0100000000d" 1 }}`:                                             "width over 10000",
		`{{ printf "%*d" 100000000 1 }}`:                                            "width from an argument",
		`{{ define "a" }}{{ template "a" }}{{ end }}{{ template "a" }}`:             "{{template",
	} {
		file := filepath.Join(t.TempDir(), "rules.yml")
		os.WriteFile(file, []byte(rule(annotation)), 0o600)
		_, err := LoadRules(file)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `group "g", rule 1 (Big): summary`) {
			t.Errorf("%s: %v, want an error naming the rule and saying %q", annotation, err, want)
		}
	}
	file := filepath.Join(t.TempDir(), "rules.yml")
	os.WriteFile(file, []byte(rule(`{{ $labels.job }} is down ({{ $value | humanize }}); {{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}{{ range 10 }}.{{ end }}`)), 0o600)
	if _, err := LoadRules(file); err != nil {
		t.Errorf("an ordinary template: %v", err)
	}
}

// TestTemplateOutputBound: an expansion that writes more than the bound
// fails its rule instead of growing the alert.
func TestTemplateOutputBound(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.yml")
	os.WriteFile(file, []byte("groups:\n  - name: g\n    rules:\n      - alert: Wide\n        expr: temp > 0\n        annotations:\n          summary: '{{ range 9000 }}0123456789{{ end }}'\n"), 0o600)
	rs, err := LoadRules(file)
	if err != nil {
		t.Fatal(err)
	}
	s, now := NewStore(), time.Now()
	s.Add(now, exposed(t, 1))
	if _, err := rs.Eval(context.Background(), NewEngine(Options{}), s, now); err == nil || !strings.Contains(err.Error(), `rule "Wide"`) || !strings.Contains(err.Error(), "90000 bytes") {
		t.Errorf("%v, want the rule named and the size said", err)
	}
}
