package cmdutil

import (
	"io"
	"os"

	"github.com/monctl/monctl/internal/output"
)

// IOStreams are the three standard streams, replaceable in tests.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// Term, when set, is used instead of inspecting Out: tests use it to
	// see what a terminal would get without one.
	Term *output.Terminal
}

// System returns the process's own streams.
func System() IOStreams { return IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr} }

// Terminal describes Out: a terminal (with its width and colour) or not.
func (s IOStreams) Terminal() output.Terminal {
	if s.Term != nil {
		return *s.Term
	}
	return output.Detect(s.Out)
}
