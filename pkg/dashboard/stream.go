package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/monctl/monctl/pkg/containers"
)

// Bounds of a live log stream (Server-Sent Events).
const (
	// DefaultMaxStreams is how many streams are followed at once, from
	// all clients, when Options.MaxStreams is 0.
	DefaultMaxStreams = 8
	// MaxStreamContainers is how many containers one stream follows.
	MaxStreamContainers = 50
	// streamBatch is how often lines are sent: one event holds what came
	// in the meantime.
	streamBatch = 200 * time.Millisecond
	// maxBatchLines is the most lines one event holds: a container that
	// writes faster than a browser can show has its extra lines counted
	// as dropped, not queued.
	maxBatchLines = 500
	// streamWriteTimeout is how long a client may take to read an event:
	// one that does not read loses its stream and its slot.
	streamWriteTimeout = 10 * time.Second
	// heartbeat keeps a quiet stream open through proxies, and finds a
	// client that is gone.
	heartbeat = 15 * time.Second
)

// streamEvent is the data of one event of a stream.
type streamEvent struct {
	Lines []containers.LogLine `json:"lines"`
	// Dropped counts the lines left out since the event before: more
	// than maxBatchLines came within one batch.
	Dropped int `json:"dropped,omitempty"`
	// Ended names the containers whose logs ended (they stopped); Error
	// says why one could not be followed.
	Ended []string `json:"ended,omitempty"`
	Error string   `json:"error,omitempty"`
}

// streamOne follows one shown container: /api/v1/containers/{id}/logs/stream.
func (d *Dashboard) streamOne(w http.ResponseWriter, req *http.Request) {
	c, code, msg := find(d.snapshot(), req.PathValue("id"))
	if c == nil {
		apiError(w, code, msg)
		return
	}
	d.stream(w, req, []Container{*c})
}

// streamMany follows the shown containers a filter chooses, as monctl
// logs does: /api/v1/logs/stream?filter=label=com.docker.compose.project=shop
// (filter repeatable, as --filter; project=NAME is the compose project's).
func (d *Dashboard) streamMany(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	terms := q["filter"]
	if p := q.Get("project"); p != "" {
		terms = append(terms, "label="+containers.ComposeProject+"="+p)
	}
	f, err := containers.ParseFilter(terms)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	var chosen []Container
	for _, c := range d.snapshot().Containers {
		all := c.Container
		all.Labels = c.labels
		if c.Running() && f.Match(&all, false) {
			chosen = append(chosen, c)
		}
	}
	switch {
	case len(chosen) == 0:
		apiError(w, http.StatusNotFound, "no running container shown here matches the filter")
		return
	case len(chosen) > MaxStreamContainers:
		apiError(w, http.StatusBadRequest, fmt.Sprintf("the filter chooses %d containers: one stream follows at most %d (narrow it)", len(chosen), MaxStreamContainers))
		return
	}
	d.stream(w, req, chosen)
}

// stream sends the lines of cs as they come, as Server-Sent Events: the
// last tail lines of each first (tail=0: none), then what they write,
// those that match grep only. A reconnecting EventSource sends the id of
// the last event it had (the time of its last line), and goes on from
// there.
func (d *Dashboard) stream(w http.ResponseWriter, req *http.Request, cs []Container) {
	q := req.URL.Query()
	tail := "10"
	if t := q.Get("tail"); t != "" {
		if n, err := strconv.Atoi(t); err != nil || n < 0 || n > MaxTail {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("tail %q: want a count of lines from 0 to %d", t, MaxTail))
			return
		}
		tail = t
	}
	var from time.Time
	if id := req.Header.Get("Last-Event-ID"); id != "" {
		if t, err := time.Parse(time.RFC3339Nano, id); err == nil {
			from, tail = t.Add(time.Nanosecond), "all"
		}
	}
	var re *regexp.Regexp
	if grep := q.Get("grep"); grep != "" {
		var err error
		if re, _, err = containers.CompileLogPattern(grep); err != nil {
			apiError(w, http.StatusBadRequest, "grep: "+err.Error())
			return
		}
	}
	engines := make([]*containers.Engine, len(cs))
	for i := range cs {
		if engines[i] = d.engine(cs[i].Host); engines[i] == nil {
			apiError(w, http.StatusNotFound, "the logs of "+cs[i].Name+" are on its own host ("+cs[i].Host+"): follow them there")
			return
		}
	}
	select {
	case d.streams <- struct{}{}:
		defer func() { <-d.streams }()
	default:
		apiError(w, http.StatusTooManyRequests, fmt.Sprintf("%d log streams are open already: close one, or try again later", cap(d.streams)))
		return
	}

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	var (
		mu      sync.Mutex
		pending streamEvent
	)
	var wg sync.WaitGroup
	for i := range cs {
		c := &cs[i]
		wg.Go(func() {
			opts := containers.LogOptions{Tail: tail, Follow: true, From: from}
			err := engines[i].Logs(ctx, c.Container, opts, func(l containers.LogLine) error {
				if re != nil && !re.MatchString(l.Message) {
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				if len(pending.Lines) >= maxBatchLines {
					pending.Dropped++
					return nil
				}
				pending.Lines = append(pending.Lines, l)
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			pending.Ended = append(pending.Ended, c.Name)
			if err != nil && ctx.Err() == nil {
				pending.Error = oneLine(err.Error())
			}
		})
	}
	ended := make(chan struct{})
	go func() {
		wg.Wait()
		close(ended)
	}()

	send := func(kind string, ev *streamEvent) error {
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		msg := "event: " + kind + "\n"
		if n := len(ev.Lines); n > 0 {
			msg += "id: " + ev.Lines[n-1].Time.UTC().Format(time.RFC3339Nano) + "\n"
		}
		if _, err := w.Write([]byte(msg + "data: " + string(b) + "\n\n")); err != nil {
			return err
		}
		return rc.Flush()
	}
	take := func() streamEvent {
		mu.Lock()
		defer mu.Unlock()
		ev := pending
		pending = streamEvent{}
		return ev
	}
	// The first write says the stream is open: the page shows it live.
	if err := send("hello", &streamEvent{Lines: []containers.LogLine{}}); err != nil {
		return
	}
	batch := time.NewTicker(streamBatch)
	defer batch.Stop()
	quiet := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ended:
			ev := take()
			send("end", &ev) // the rest, and the end
			return
		case <-batch.C:
		}
		ev := take()
		if len(ev.Lines) == 0 && ev.Dropped == 0 && len(ev.Ended) == 0 {
			if time.Since(quiet) < heartbeat {
				continue
			}
			rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			if _, err := w.Write([]byte(": still here\n\n")); err != nil || rc.Flush() != nil {
				return
			}
			quiet = time.Now()
			continue
		}
		if ev.Lines == nil {
			ev.Lines = []containers.LogLine{}
		}
		if err := send("lines", &ev); err != nil {
			return // the client does not read: its slot goes back
		}
		quiet = time.Now()
	}
}

// engine is the engine of host, if this serve reads its logs.
func (d *Dashboard) engine(host string) *containers.Engine {
	for _, e := range d.opts.Engines {
		if e.Host == host {
			return e
		}
	}
	return nil
}
