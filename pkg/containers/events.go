package containers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	timetypes "github.com/docker/docker/api/types/time"
)

// Event is one container event of an engine, as docker events shows it.
type Event struct {
	Time time.Time `json:"time"`
	Host string    `json:"host"`
	ID   string    `json:"id"`
	Name string    `json:"name"`
	// Image is the container's image, as the engine names it.
	Image string `json:"image"`
	// Action is the engine's: start, die, oom, kill, restart, destroy,
	// "health_status: unhealthy"...
	Action string `json:"action"`
	// ExitCode is a die event's exit code.
	ExitCode *int `json:"exit_code,omitempty"`
	// Signal is a kill event's signal.
	Signal string `json:"signal,omitempty"`
	// Health is a health_status event's status.
	Health string `json:"health,omitempty"`
	// Type and Message are a Kubernetes event's (Warning, Normal).
	Type    string `json:"type,omitempty"`
	Message string `json:"message,omitempty"`
	// Attributes are every attribute the engine gave (the container's
	// labels among them).
	Attributes map[string]string `json:"attributes,omitempty"`
}

// eventFilterKeys are the docker events filters monctl passes on; the
// type is always container.
var eventFilterKeys = []string{"container", "event", "image", "label"}

// EventOptions choose the events: --filter as docker events takes it
// (KEY=VALUE: container, event, image, label), --since and --until (a
// duration ago, or a time).
type EventOptions struct {
	Filters      []string
	Since, Until string
}

// Check refuses what the engine would: a filter of another key, a time
// that does not parse.
func (o EventOptions) Check() error {
	for _, f := range o.Filters {
		k, _, ok := strings.Cut(f, "=")
		if !ok || !slices.Contains(eventFilterKeys, k) {
			return fmt.Errorf("--filter %q: want KEY=VALUE with KEY one of %s", f, strings.Join(eventFilterKeys, ", "))
		}
	}
	for _, t := range [...]struct{ flag, v string }{{"--since", o.Since}, {"--until", o.Until}} {
		if t.v == "" {
			continue
		}
		if _, err := timetypes.GetTimestamp(t.v, time.Now()); err != nil {
			return fmt.Errorf("%s %q: want a duration ago (10m) or a time (2006-01-02T15:04:05Z)", t.flag, t.v)
		}
	}
	return nil
}

// ErrEventsEnded is the end of a stream of events that had an --until.
var ErrEventsEnded = errors.New("events ended")

// Events sends the engine's container events to emit, one at a time, in
// the engine's order, until ctx ends (nil), --until is reached
// (ErrEventsEnded) or the stream fails (the engine went away: an
// *EngineError). after, when not zero, resumes a stream: only events
// after it come, whatever o.Since says.
func (e *Engine) Events(ctx context.Context, o EventOptions, after time.Time, emit func(*Event) error) error {
	args := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)))
	for _, f := range o.Filters {
		k, v, _ := strings.Cut(f, "=")
		args.Add(k, v)
	}
	opts := events.ListOptions{Filters: args, Since: o.Since, Until: o.Until}
	if !after.IsZero() {
		after = after.Add(time.Nanosecond)
		opts.Since = fmt.Sprintf("%d.%09d", after.Unix(), after.Nanosecond())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs, errs := e.cli.Events(ctx, opts)
	for {
		select {
		case m := <-msgs:
			if err := emit(e.event(&m)); err != nil {
				return err
			}
		case err := <-errs:
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, io.EOF) && o.Until != "":
				return ErrEventsEnded
			}
			return &EngineError{Host: e.Host, Err: err}
		}
	}
}

// event is m as monctl shows it.
func (e *Engine) event(m *events.Message) *Event {
	a := m.Actor.Attributes
	ev := &Event{Time: time.Unix(0, m.TimeNano), Host: e.Host, ID: m.Actor.ID, Name: a["name"], Image: a["image"],
		Action: string(m.Action), Signal: a["signal"], Attributes: a}
	if m.TimeNano == 0 {
		ev.Time = time.Unix(m.Time, 0)
	}
	if c, err := strconv.Atoi(a["exitCode"]); err == nil && m.Action == events.ActionDie {
		ev.ExitCode = &c
	}
	if h, ok := strings.CutPrefix(ev.Action, string(events.ActionHealthStatus)+": "); ok {
		ev.Health = h
	}
	return ev
}
