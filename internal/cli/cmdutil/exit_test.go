package cmdutil

import (
	"os"
	"syscall"
	"testing"
)

// TestSignalErrors: what a signal ends a run with says which signal, in
// words, and the code is 128+n.
func TestSignalErrors(t *testing.T) {
	for _, c := range []struct {
		sig  os.Signal
		text string
		code int
	}{{os.Interrupt, "interrupted (SIGINT)", 130}, {syscall.SIGTERM, "terminated (SIGTERM)", 143}} {
		e := &SignalError{Signal: c.sig}
		if e.Error() != c.text || e.Code() != c.code || CodeOf(e) != c.code {
			t.Errorf("%v: %q, code %d; want %q, %d", c.sig, e.Error(), e.Code(), c.text, c.code)
		}
	}
	// An agent that stopped gracefully keeps its code.
	if g := Graceful(Partial); CodeOf(g) != ExitPartial || !g.(*ExitError).Graceful || Partial.Graceful {
		t.Errorf("Graceful(Partial): %+v, and the shared Partial is %+v", g, Partial)
	}
}
