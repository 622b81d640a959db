package logs

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/monctl/monctl/internal/cli/ask"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	ctr "github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/query"
)

// pattern is one --pattern NAME=RE.
type pattern struct {
	name string
	re   *regexp.Regexp
}

// parsePatterns reads --pattern's NAME=RE, each RE within the bounds of
// the web view's search.
func parsePatterns(args []string) ([]pattern, error) {
	var out []pattern
	seen := map[string]bool{}
	for _, a := range args {
		name, expr, ok := strings.Cut(a, "=")
		if !ok || name == "" || !model.LabelName(name).IsValidLegacy() {
			return nil, cmdutil.UsageError("--pattern %q: want NAME=RE, NAME letters, digits and _ such as errors", a)
		}
		if seen[name] {
			return nil, cmdutil.UsageError("--pattern %s is given twice", name)
		}
		seen[name] = true
		re, _, err := ctr.CompileLogPattern(expr)
		if err != nil {
			return nil, cmdutil.UsageError("--pattern %s: %v", name, err)
		}
		out = append(out, pattern{name: name, re: re})
	}
	return out, nil
}

// counter is one container's count of the lines one pattern matched.
type counter struct {
	host, id, name, pattern string
}

// counters count the lines each --pattern matched, per container, for
// the rules: monctl_log_lines_total.
type counters struct {
	patterns []pattern
	mu       sync.Mutex
	n        map[counter]float64
}

// start makes a container's counters, at 0 from the first line read of
// it, so that its first match is an increase to rules.
func (c *counters) start(host string, ct ctr.Container) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.patterns {
		k := counter{host: host, id: ct.ID, name: ct.Name, pattern: p.name}
		if _, ok := c.n[k]; !ok {
			c.n[k] = 0
		}
	}
}

// line counts l for each pattern it matches.
func (c *counters) line(l *ctr.LogLine) {
	for _, p := range c.patterns {
		if p.re.MatchString(l.Message) {
			c.mu.Lock()
			c.n[counter{host: l.Host, id: l.ID, name: l.Name, pattern: p.name}]++
			c.mu.Unlock()
		}
	}
}

// family is the counters as series.
func (c *counters) family() exposition.Family {
	f := exposition.Family{Name: "monctl_log_lines_total", Type: exposition.Counter, Help: "Lines of the container that matched the --pattern of its label, since monctl began to read it."}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range slices.SortedFunc(maps.Keys(c.n), func(a, b counter) int {
		return cmp.Or(strings.Compare(a.host, b.host), strings.Compare(a.name, b.name), strings.Compare(a.id, b.id), strings.Compare(a.pattern, b.pattern))
	}) {
		f.Metrics = append(f.Metrics, exposition.Metric{Value: c.n[k], Labels: exposition.Labels{
			{Name: "host", Value: k.host}, {Name: "id", Value: k.id}, {Name: "name", Value: k.name}, {Name: "pattern", Value: k.pattern}}})
	}
	return f
}

// say writes the counts on w, a line per container and pattern: what
// --pattern without rules or checks tells.
func (c *counters) say(w io.Writer) {
	f := c.family()
	for _, m := range f.Metrics {
		fmt.Fprintf(w, "monctl: %s: %s matched %s\n", output.Escape(m.Labels.Get("name")), output.Count(int(m.Value), "line"), m.Labels.Get("pattern"))
	}
}

// evaluator asks --rules and --fail-if of the counters: every
// --evaluation-interval while following, and once at the end. What
// changed is said on stderr; stdout has the lines.
type evaluator struct {
	ask      *ask.Flags
	counters *counters
	errOut   io.Writer
	store    *query.Store
	said     ask.Said
	fired    bool // a check or an alert fired at the last evaluation
}

// evaluate takes the counters in at at and evaluates over them.
func (ev *evaluator) evaluate(ctx context.Context, at time.Time) error {
	ev.store.Add(at, []exposition.Family{ev.counters.family()})
	ch, err := ev.ask.Watch(ctx, ev.store, at, &ev.said)
	if err != nil {
		return err
	}
	for _, a := range ch.Alerts {
		fmt.Fprintf(ev.errOut, "monctl: %s\n", a)
	}
	for _, expr := range slices.Sorted(maps.Keys(ch.Failed)) {
		fmt.Fprintf(ev.errOut, "monctl: check failed: %s (%s)\n", output.Escape(expr), output.Count(ch.Failed[expr], "series"))
	}
	for _, expr := range ch.Passed {
		fmt.Fprintf(ev.errOut, "monctl: check passes again: %s\n", output.Escape(expr))
	}
	ev.fired = ch.Fired
	return nil
}

// every evaluates every interval until the returned func is called.
// An evaluation that fails is said, and the next one tried.
func (ev *evaluator) every(ctx context.Context, interval time.Duration) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				if err := ev.evaluate(ctx, now); err != nil && ctx.Err() == nil {
					fmt.Fprintf(ev.errOut, "monctl: evaluating the rules: %v\n", err)
				}
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
