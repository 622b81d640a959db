package ask

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/promql"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/query"
)

// The Nagios plugin states, which are its exit codes
// (https://nagios-plugins.org/doc/guidelines.html).
const (
	nagiosOK = iota
	nagiosWarning
	nagiosCritical
	nagiosUnknown
)

var nagiosStates = []string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// nagiosState is what a firing alert means: its severity label's
// warning is WARNING, anything else CRITICAL (a --fail-if check has no
// severity: CRITICAL).
func nagiosState(severity string) int {
	if strings.EqualFold(severity, "warning") {
		return nagiosWarning
	}
	return nagiosCritical
}

// writeNagios writes the answers as a Nagios/Icinga plugin does: one
// status line with performance data, then a line per problem, and
// returns the state as the exit code.
func writeNagios(w io.Writer, as *Answers) error {
	state := nagiosOK
	var problems, details []string
	for i := range as.list {
		if a := &as.list[i]; a.fired() {
			state = max(state, nagiosCritical)
			problems = append(problems, a.Expr)
			_, rows := a.rows(false)
			for _, r := range rows {
				details = append(details, "CRITICAL: "+a.Expr+": "+r[0]+" "+r[1])
			}
		}
	}
	firing := 0
	for _, a := range as.alerts {
		if a.State != query.Firing {
			continue
		}
		firing++
		s := nagiosState(a.Labels["severity"])
		state = max(state, s)
		problems = append(problems, a.Labels["alertname"])
		line := nagiosStates[s] + ": " + a.Labels["alertname"]
		if summary := a.Annotations["summary"]; summary != "" {
			line += ": " + summary
		}
		details = append(details, line)
	}
	if as.nothingGathered && state == nagiosOK {
		state = nagiosUnknown
		problems = append(problems, "nothing could be gathered")
	}
	text := "all checks pass"
	if len(problems) > 0 {
		text = strings.Join(problems, ", ")
	}
	perf := []string{perfData("checks_failed", float64(countFired(as.list))), perfData("alerts_firing", float64(firing))}
	for i := range as.list {
		a := &as.list[i]
		if a.check {
			continue
		}
		switch v := a.Value.(type) {
		case promql.Scalar:
			perf = append(perf, perfData(a.Expr, v.V))
		case promql.Vector:
			for _, s := range v {
				label := metricText(s.Metric)
				if label == "{}" {
					label = a.Expr
				}
				if s.H == nil {
					perf = append(perf, perfData(label, s.F))
				}
			}
		}
	}
	fmt.Fprintf(w, "MONCTL %s - %s | %s\n", nagiosStates[state], nagiosText(text), strings.Join(perf, " "))
	for _, d := range details {
		fmt.Fprintln(w, nagiosText(d))
	}
	return &cmdutil.ExitError{Code: state}
}

func countFired(answers []Answer) int {
	n := 0
	for i := range answers {
		if answers[i].fired() {
			n++
		}
	}
	return n
}

// perfData is one performance datum: 'label'=value, the label quoted
// without the characters the format gives a meaning to.
func perfData(label string, v float64) string {
	label = strings.NewReplacer("'", "", "=", ":", "|", "/").Replace(label)
	return "'" + label + "'=" + strconv.FormatFloat(v, 'g', -1, 64)
}

// nagiosText keeps a line a line: no '|' (it starts performance data),
// no control characters.
func nagiosText(s string) string {
	return strings.ReplaceAll(output.Escape(s), "|", "/")
}

// NagiosError turns an error of a run with --nagios into the plugin's
// UNKNOWN: a status line on w and exit 3, the error still said on
// stderr. Other errors, and the states writeNagios returned, pass.
func (f *Flags) NagiosError(w io.Writer, err error) error {
	var ee *cmdutil.ExitError
	if !f.Nagios || err == nil || errors.As(err, &ee) && ee.Err == nil && ee.Code <= nagiosUnknown {
		return err
	}
	msg := err.Error()
	if errors.As(err, &ee) && ee.Err != nil {
		msg = ee.Err.Error()
	}
	msg, _, _ = strings.Cut(msg, "\n")
	fmt.Fprintf(w, "MONCTL UNKNOWN - %s\n", nagiosText(msg))
	return &cmdutil.ExitError{Code: nagiosUnknown, Err: err}
}
