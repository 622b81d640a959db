package containers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	line := func(stream string) *lineWriter {
		return &lineWriter{emit: func(b []byte) error {
			l := LogLine{Host: e.Host, ID: c.ID, Name: c.Name, Stream: stream}
			l.Time, l.Message = splitTimestamp(b)
			return emit(l)
		}}
	}
	stdout, stderr := line("stdout"), line("stderr")
	if info.Config != nil && info.Config.Tty {
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

// splitTimestamp separates the engine's RFC 3339 time from a line.
func splitTimestamp(b []byte) (time.Time, string) {
	ts, msg, ok := bytes.Cut(b, []byte(" "))
	if t, err := time.Parse(time.RFC3339Nano, string(ts)); ok && err == nil {
		return t, string(msg)
	}
	return time.Time{}, string(b)
}

// lineWriter hands every complete line written to it to emit, without
// its newline (and a TTY's carriage return).
type lineWriter struct {
	buf  []byte
	emit func([]byte) error
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if err := w.emit(bytes.TrimSuffix(w.buf[:i], []byte("\r"))); err != nil {
			return 0, err
		}
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	b := w.buf
	w.buf = nil
	return w.emit(b)
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
