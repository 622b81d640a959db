package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/monctl/monctl/internal/cli/cmdutil"
)

// signalContext is cancelled, with a *cmdutil.SignalError as its cause, at
// the first SIGINT or SIGTERM, so that in-flight work stops cleanly and the
// exit code says which signal it was. A second signal exits at once, for
// the user who does not want to wait.
func signalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			se := &cmdutil.SignalError{Signal: s}
			cancel(se)
			select {
			case <-ch:
				os.Exit(se.Code())
			case <-done:
			}
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}
