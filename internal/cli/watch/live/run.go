package live

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
)

// Resource is what a watch of one kind of thing is made of; Run does the
// rest. T is a row of its table, F what one sample gathers.
type Resource[T, F any] struct {
	// Name is what is watched ("containers"), shown before the first
	// frame.
	Name  string
	Table *Table[T]
	// Sample takes one sample; an error ends the watch (a failure,
	// unless it is a *cmdutil.ExitError, which stands).
	Sample func(ctx context.Context) (F, error)
	// Screen is a sample as the full-screen view shows it; nil, the
	// watch never takes the screen (it answers questions instead).
	Screen func(F) *Frame[T]
	// Print reports and prints a sample when the screen is not taken;
	// an error ends the watch as Sample's does.
	Print func(F) error
	// Done is the exit code of a watch that ran its course: nil, or
	// cmdutil.Partial or Silent for what went wrong meanwhile (and was
	// reported).
	Done func() error
}

// Run runs a watch whose flags are f (validated) and whose printer is p:
// full screen on a terminal, else a view per sample, on the watch's
// clock; then says how it went.
func Run[T, F any](ctx context.Context, io cmdutil.IOStreams, f *Flags, p *output.Printer, r Resource[T, F]) error {
	if r.Screen != nil && f.FullScreen(p) {
		v := &View[T]{Resource: r.Name, Table: r.Table, Flags: f, Wide: p.Format == output.Wide}
		return v.Run(ctx, io, func(ctx context.Context, emit func(*Frame[T]) error) error {
			return Loop(ctx, f.Interval, f.Count, r.Sample, func(fr F) error { return emit(r.Screen(fr)) })
		})
	}
	err := Loop(ctx, f.Interval, f.Count, r.Sample, r.Print)
	var exit *cmdutil.ExitError
	switch {
	case err != nil && ctx.Err() != nil:
		return err // interrupted: the root command reports the signal
	case errors.As(err, &exit):
		return err
	case err != nil:
		return cmdutil.Failure(err)
	case r.Done != nil:
		return r.Done()
	}
	return nil
}

// Loop is the clock of a watch: sample once to prime the deltas (CPU %,
// rates), then every interval emit a sample, count times (0: until ctx
// ends). The first emitted sample comes one interval after the start and
// already has real rates. An error of sample or emit ends it.
func Loop[F any](ctx context.Context, interval time.Duration, count int, sample func(context.Context) (F, error), emit func(F) error) error {
	// The clock starts before the first sample, so that a slow first
	// answer (engines before 25 answer stats at their next 1 s
	// collection) does not come on top of the interval.
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	if _, err := sample(ctx); err != nil || ctx.Err() != nil {
		return cmp.Or(err, ctx.Err())
	}
	for n := 0; count == 0 || n < count; n++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
		s, err := sample(ctx)
		if err != nil || ctx.Err() != nil {
			return cmp.Or(err, ctx.Err())
		}
		if err := emit(s); err != nil {
			return err
		}
	}
	return nil
}
