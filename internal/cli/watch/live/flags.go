package live

import (
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
)

// Flags are the flags every watch takes.
type Flags struct {
	Interval time.Duration
	Count    int
	Once     bool
	Sort     string
	Top      int
	// SnapshotInterval, when set, is the interval of a single snapshot
	// (--once, --count 1) whose --interval was not given: a shorter
	// window for the rates, so that one answer comes sooner.
	SnapshotInterval time.Duration

	sortNames []string
	flags     *pflag.FlagSet
}

// AddFlags registers the flags on cmd; sortNames are the --sort values,
// def the default one.
func (f *Flags) AddFlags(cmd *cobra.Command, sortNames []string, def string) {
	f.sortNames = sortNames
	fl := cmd.Flags()
	f.flags = fl
	help := "time between samples (5 means 5s)"
	if f.SnapshotInterval > 0 {
		help += "; one snapshot (--once, --count 1) takes its rates over " + f.SnapshotInterval.String() + " (or less, where its clock is exact) unless given"
	}
	cmdutil.DurationVar(fl, &f.Interval, "interval", time.Second, help)
	fl.IntVar(&f.Count, "count", 0, "stop after N snapshots (0: run until interrupted)")
	fl.BoolVar(&f.Once, "once", false, "print one snapshot and exit (same as --count 1)")
	fl.StringVar(&f.Sort, "sort", def, "sort by "+strings.Join(sortNames, "|")+" (numbers descending)")
	fl.IntVar(&f.Top, "top", 0, "show only the first N after sorting (0: all)")
	_ = cmd.RegisterFlagCompletionFunc("sort", cobra.FixedCompletions(sortNames, cobra.ShellCompDirectiveNoFileComp))
}

// Snapshot says whether the watch is one snapshot whose --interval was
// not given: its window is SnapshotInterval, which a caller that knows
// a more exact clock may shorten. Valid after Validate.
func (f *Flags) Snapshot() bool {
	return f.Count == 1 && f.SnapshotInterval > 0 && f.flags != nil && !f.flags.Changed("interval")
}

// Validate checks the flags; --once becomes --count 1.
func (f *Flags) Validate() error {
	if f.Once {
		if f.Count > 1 {
			return cmdutil.UsageError("--once prints one snapshot; it cannot go with --count %d", f.Count)
		}
		f.Count = 1
	}
	if f.Snapshot() {
		f.Interval = f.SnapshotInterval
	}
	switch {
	case f.Count < 0:
		return cmdutil.UsageError("--count must be 0 or more, not %d", f.Count)
	case f.Top < 0:
		return cmdutil.UsageError("--top must be 0 or more, not %d", f.Top)
	case f.Interval < 10*time.Millisecond:
		return cmdutil.UsageError("--interval %v is too short (at least 10ms)", f.Interval)
	case !slices.Contains(f.sortNames, f.Sort):
		return cmdutil.UsageError("--sort %q: want one of %s", f.Sort, strings.Join(f.sortNames, ", "))
	}
	return nil
}

// FullScreen says whether a watch printing with p takes the screen: on a
// terminal, as a table, for more than one snapshot.
func (f *Flags) FullScreen(p *output.Printer) bool {
	return p.Term.IsTTY && p.Template == nil && (p.Format == output.Table || p.Format == output.Wide) && f.Count != 1
}
