package containers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"regexp/syntax"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/pkg/stdcopy"
)

// LogLine is one line a container wrote, with the engine's time for it.
type LogLine struct {
	Time    time.Time `json:"time"`
	Host    string    `json:"host"`
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Stream  string    `json:"stream"` // stdout or stderr
	Message string    `json:"message"`
}

// LogOptions choose the lines, as docker logs does: Since and Until are
// durations or RFC 3339 times, Tail a count or "all". A non-zero From
// stands for Since, to go on reading a log where it was left.
type LogOptions struct {
	Since, Until string
	From         time.Time
	Tail         string
	Follow       bool
}

// Select lists the containers that filter chooses (stopped ones too with
// all), in the engine's order, from what the list says of them (enough
// to filter on; inspect for the rest).
func (e *Engine) Select(ctx context.Context, f Filter, all bool) ([]Container, error) {
	list, err := e.cli.ContainerList(ctx, container.ListOptions{All: all || f.NeedsStopped()})
	if err != nil {
		return nil, e.engineError(err)
	}
	var out []Container
	for i := range list {
		if c := summaryOf(&list[i]); f.Match(c, all) {
			out = append(out, *c)
		}
	}
	return out, nil
}

// Logs reads a container's lines and hands each to emit, until the log
// ends (or, with Follow, the container stops or ctx ends). A container
// without a TTY has its stdout and stderr told apart by the docker
// client's stdcopy; with a TTY everything is stdout.
func (e *Engine) Logs(ctx context.Context, c Container, o LogOptions, emit func(LogLine) error) error {
	info, err := e.cli.ContainerInspect(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	if !o.From.IsZero() {
		o.Since = unixNano(o.From)
	}
	rc, err := e.cli.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true,
		Since: o.Since, Until: o.Until, Tail: o.Tail, Follow: o.Follow, Timestamps: true})
	if err != nil {
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	defer rc.Close()
	tty := info.Config != nil && info.Config.Tty
	line := func(stream string) *lineWriter {
		return &lineWriter{framed: !tty, emit: func(t time.Time, b []byte) error {
			return emit(LogLine{Time: t, Host: e.Host, ID: c.ID, Name: c.Name, Stream: stream, Message: string(b)})
		}}
	}
	stdout, stderr := line("stdout"), line("stderr")
	if tty {
		_, err = io.Copy(stdout, rc)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, rc)
	}
	// A last line without its newline is a line too.
	err = errors.Join(err, stdout.flush(), stderr.flush())
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// maxLine bounds the bytes of one line held in memory: a longer line (a
// container that writes megabytes without a newline) is handed on in
// pieces of this size, each with the line's time.
const maxLine = 1 << 20

// lineWriter hands every line written to it to emit, with the engine's
// timestamp that begins it split off, and without its newline (nor a
// TTY's carriage return).
//
// The engine cuts a long line into messages of its log driver's size
// (16 KiB for json-file) and, asked for timestamps, puts one before each
// message, the line's later parts too. Without a TTY every Write is one
// message (one stdcopy frame): framed, a message that goes on with a
// line has its timestamp dropped, so the line comes whole with the time
// of its first part. A TTY's stream has no frames to tell them by.
type lineWriter struct {
	framed  bool
	buf     []byte    // of the line begun, after its timestamp
	begun   bool      // a line is begun: its timestamp is read
	time    time.Time // of the line begun
	written bool      // a part of the line begun was handed on already
	emit    func(time.Time, []byte) error
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.framed && w.begun {
		if _, skip := parseTimestamp(p); skip > 0 {
			p = p[skip:]
		}
	}
	for len(p) > 0 {
		if !w.begun {
			var skip int
			w.time, skip = parseTimestamp(p)
			p, w.begun = p[skip:], true
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if err := w.add(p); err != nil {
				return 0, err
			}
			break
		}
		if err := w.add(p[:i]); err != nil {
			return 0, err
		}
		if err := w.end(); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// add appends b to the line begun, handing on a full maxLine at a time.
func (w *lineWriter) add(b []byte) error {
	for len(w.buf)+len(b) > maxLine {
		room := maxLine - len(w.buf)
		w.buf = append(w.buf, b[:room]...)
		b = b[room:]
		if err := w.emit(w.time, w.buf); err != nil {
			return err
		}
		w.buf, w.written = w.buf[:0], true
	}
	w.buf = append(w.buf, b...)
	return nil
}

// end hands on the line begun, unless what is left of it is nothing
// after a part handed on already.
func (w *lineWriter) end() error {
	b := bytes.TrimSuffix(w.buf, []byte("\r"))
	var err error
	if len(b) > 0 || !w.written {
		err = w.emit(w.time, b)
	}
	w.buf, w.begun, w.written = w.buf[:0], false, false
	return err
}

// flush hands on a last line that has no newline: a line too.
func (w *lineWriter) flush() error {
	if !w.begun || len(w.buf) == 0 {
		return nil
	}
	return w.end()
}

// parseTimestamp reads the engine's RFC 3339 time and the space after it
// at the start of b: the time and the bytes they take, or 0.
func parseTimestamp(b []byte) (time.Time, int) {
	i := bytes.IndexByte(b[:min(len(b), 40)], ' ')
	if i < 0 {
		return time.Time{}, 0
	}
	t, err := time.Parse(time.RFC3339Nano, string(b[:i]))
	if err != nil {
		return time.Time{}, 0
	}
	return t, i + 1
}

// Answers says whether the engine answers a ping within five seconds:
// whether a log stream that ended did so because its container stopped
// or because the engine went away.
func (e *Engine) Answers(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := e.cli.Ping(ctx)
	return err == nil
}

// Running says whether the container is running, as far as the engine
// answers.
func (e *Engine) Running(ctx context.Context, id string) bool {
	r, err := e.cli.ContainerInspect(ctx, id)
	return err == nil && r.State != nil && r.State.Running
}

// Starts calls fn, one call at a time, with every container that starts
// from since on (the engine replays the starts it has seen since then;
// zero: from now), until ctx ends or the engine's event stream breaks,
// whose error it returns.
func (e *Engine) Starts(ctx context.Context, since time.Time, fn func(Container)) error {
	opts := events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)), filters.Arg("event", string(events.ActionStart)))}
	if !since.IsZero() {
		opts.Since = unixNano(since)
	}
	msgs, errs := e.cli.Events(ctx, opts)
	for {
		select {
		case m := <-msgs:
			r, err := e.cli.ContainerInspect(ctx, m.Actor.ID)
			if err != nil {
				continue // gone already
			}
			if c := containerOf(&r); c != nil {
				fn(*c)
			}
		case err := <-errs:
			if ctx.Err() != nil {
				return nil
			}
			return &EngineError{Host: e.Host, Err: err}
		}
	}
}

// unixNano is t as the engine's API takes a time: seconds.nanoseconds.
func unixNano(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

// Bounds of a pattern matched against log lines (the web view's search,
// logs --grep, --pattern, --fail-if-match): its length, and what it
// compiles to. (\w+\s?){1000} is 6,002 instructions, each of which a
// match may visit for every byte of every line.
const (
	MaxLogPattern      = 1000
	MaxLogPatternInsts = 2000
)

// CompileLogPattern compiles an RE2 pattern for log lines within the
// bounds, and says how many instructions it compiled to: the cost of a
// byte matched.
func CompileLogPattern(pattern string) (*regexp.Regexp, int, error) {
	if len(pattern) > MaxLogPattern {
		return nil, 0, fmt.Errorf("longer than %d characters", MaxLogPattern)
	}
	parsed, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, 0, err
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, 0, err
	}
	if insts := len(prog.Inst); insts > MaxLogPatternInsts {
		return nil, 0, fmt.Errorf("the pattern compiles to %d instructions, more than the %d a search may take: simplify it (a counted repetition such as {1000} repeats what it counts)", insts, MaxLogPatternInsts)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, 0, err
	}
	return re, len(prog.Inst), nil
}
