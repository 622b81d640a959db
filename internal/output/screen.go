package output

import (
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"
)

// Screen is a full-screen view on a terminal, redrawn in place: the
// alternate screen (so the shell's scrollback is left as it was), no cursor,
// and the keyboard in raw mode so single keys arrive without Enter.
type Screen struct {
	out     io.Writer
	outFd   int
	inFd    int
	restore *term.State
	keys    chan byte
	color   bool
}

// Line is one line of the screen; Style is an SGR code ("" for none).
type Line struct {
	Text  string
	Style string
}

// OpenScreen takes over the terminal out. Keys are read from in when it is
// a terminal too; otherwise Keys never delivers anything.
func OpenScreen(out io.Writer, in io.Reader, t Terminal) (*Screen, error) {
	s := &Screen{out: out, outFd: -1, inFd: -1, keys: make(chan byte, 16), color: t.Color}
	if f, ok := out.(*os.File); ok {
		s.outFd = int(f.Fd())
	}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		st, err := term.MakeRaw(int(f.Fd()))
		if err != nil {
			return nil, err
		}
		s.inFd, s.restore = int(f.Fd()), st
		go s.readKeys(f)
	}
	_, err := io.WriteString(out, "\x1b[?1049h\x1b[?25l")
	return s, err
}

// readKeys forwards key presses until the terminal is closed; it ends with
// the process, since a blocked read cannot be interrupted portably.
func (s *Screen) readKeys(f *os.File) {
	buf := make([]byte, 16)
	for {
		n, err := f.Read(buf)
		for _, b := range buf[:n] {
			s.keys <- b
		}
		if err != nil {
			close(s.keys)
			return
		}
	}
}

// Keys delivers key presses (bytes; raw mode, so Ctrl-C arrives as 3).
func (s *Screen) Keys() <-chan byte { return s.keys }

// Size is the terminal's width and height (80×24 when unknown).
func (s *Screen) Size() (int, int) {
	if s.outFd >= 0 {
		if w, h, err := term.GetSize(s.outFd); err == nil && w > 0 && h > 0 {
			return w, h
		}
	}
	return 80, 24
}

// Draw replaces the screen with lines, each cut to the width and the list
// cut to the height, in one write so the view never flickers half-drawn.
func (s *Screen) Draw(lines []Line) error {
	w, h := s.Size()
	var b strings.Builder
	b.WriteString("\x1b[H")
	for i, l := range lines {
		if i >= h {
			break
		}
		if i > 0 {
			b.WriteString("\r\n") // raw mode: a newline does not return the carriage
		}
		text := Truncate(l.Text, w)
		if s.color && l.Style != "" {
			text = "\x1b[" + l.Style + "m" + text + "\x1b[0m"
		}
		b.WriteString(text)
		b.WriteString("\x1b[K")
	}
	b.WriteString("\x1b[J")
	_, err := io.WriteString(s.out, b.String())
	return err
}

// Close gives the terminal back as it was.
func (s *Screen) Close() error {
	_, err := io.WriteString(s.out, "\x1b[?25h\x1b[?1049l")
	if s.restore != nil {
		if rerr := term.Restore(s.inFd, s.restore); err == nil {
			err = rerr
		}
	}
	return err
}

// Truncate cuts s to at most n characters.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(0, n)])
}

// Width is the number of characters of s.
func Width(s string) int { return utf8.RuneCountInString(s) }
