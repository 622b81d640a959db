package cmdutil

import (
	"fmt"
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
	// Color is --color: auto (from Out and the environment), always or
	// never. Shared by every copy of the streams, since the flag is
	// parsed after the verbs took theirs.
	Color *ColorMode
}

// ColorMode is the value of --color.
type ColorMode string

// The --color values.
const (
	ColorAuto   ColorMode = "auto"
	ColorAlways ColorMode = "always"
	ColorNever  ColorMode = "never"
)

func (c *ColorMode) String() string { return string(*c) }
func (c *ColorMode) Type() string   { return "when" }
func (c *ColorMode) Set(s string) error {
	switch m := ColorMode(s); m {
	case ColorAuto, ColorAlways, ColorNever:
		*c = m
		return nil
	}
	return fmt.Errorf("want auto, always or never")
}

// System returns the process's own streams.
func System() IOStreams { return IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr} }

// Terminal describes Out: a terminal (with its width and colour) or not.
func (s IOStreams) Terminal() output.Terminal {
	if s.Term != nil {
		return *s.Term
	}
	t := output.Detect(s.Out)
	if s.Color != nil {
		switch *s.Color {
		case ColorAlways:
			t.Color = true
		case ColorNever:
			t.Color = false
		}
	}
	return t
}
