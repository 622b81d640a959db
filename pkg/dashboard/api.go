package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exporter"
)

// Bounds of a logs request: lines looked at, the pattern's length, and
// the bytes of lines answered (beyond it the answer says truncated).
const (
	DefaultTail  = 100
	MaxTail      = 10000
	maxGrep      = 1000
	maxLogsBytes = 8 << 20
)

// Handler serves the pages, their assets and the API, each answer with
// the security headers, at most MaxRequests at once.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.indexPage)
	mux.HandleFunc("GET /containers/{id}", d.containerPage)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(staticFiles())))
	mux.HandleFunc("GET /api/v1/containers", func(w http.ResponseWriter, _ *http.Request) {
		r := d.snapshot()
		writeJSON(w, http.StatusOK, struct {
			Time            any         `json:"time"`
			IntervalSeconds float64     `json:"interval_seconds"`
			Engines         []Engine    `json:"engines"`
			Containers      []Container `json:"containers"`
		}{r.Time, d.opts.Interval.Seconds(), nonNil(r.Engines), nonNil(r.Containers)})
	})
	mux.HandleFunc("GET /api/v1/containers/{id}", func(w http.ResponseWriter, req *http.Request) {
		c, code, msg := find(d.snapshot(), req.PathValue("id"))
		if c == nil {
			apiError(w, code, msg)
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
	mux.HandleFunc("GET /api/v1/containers/{id}/logs", d.logsAPI)
	mux.HandleFunc("GET /api/v1/targets", func(w http.ResponseWriter, _ *http.Request) {
		r := d.snapshot()
		writeJSON(w, http.StatusOK, struct {
			Time    any      `json:"time"`
			Targets []Target `json:"targets"`
		}{r.Time, nonNil(r.Targets)})
	})
	var h http.Handler = mux
	if d.opts.MaxRequests > 0 {
		h = exporter.Limit(h, d.opts.MaxRequests)
	}
	return secure(h)
}

// secure sets the headers that keep the browser from running or
// sniffing anything but the page's own script and style.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// find is the container of round r whose ID is id or begins with it
// (12 or more characters, as docker's short IDs), with the status and
// message of an API error when there is none or more than one.
func find(r Round, id string) (*Container, int, string) {
	if len(id) < 12 {
		return nil, http.StatusNotFound, "no such container: give its ID, 12 characters or more"
	}
	var found *Container
	for i := range r.Containers {
		if strings.HasPrefix(r.Containers[i].ID, id) {
			if found != nil {
				return nil, http.StatusConflict, "more than one container has an ID that begins with " + id
			}
			found = &r.Containers[i]
		}
	}
	if found == nil {
		return nil, http.StatusNotFound, "no such container: " + id
	}
	return found, 0, ""
}

// LogsAnswer is the answer of /api/v1/containers/{id}/logs: of the
// container's last Tail lines, those that match Grep.
type LogsAnswer struct {
	Host      string               `json:"host"`
	ID        string               `json:"id"`
	Name      string               `json:"name"`
	Tail      int                  `json:"tail"`
	Grep      string               `json:"grep,omitempty"`
	Lines     []containers.LogLine `json:"lines"`
	Truncated bool                 `json:"truncated,omitempty"`
	Error     string               `json:"error,omitempty"`
}

func (d *Dashboard) logsAPI(w http.ResponseWriter, req *http.Request) {
	c, code, msg := find(d.snapshot(), req.PathValue("id"))
	if c == nil {
		apiError(w, code, msg)
		return
	}
	a, code, err := d.logs(req.Context(), c, req.URL.Query().Get("tail"), req.URL.Query().Get("grep"))
	if err != nil {
		apiError(w, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// errClientGone is the error of a request whose client went away.
var errClientGone = errors.New("the client went away")

// logs reads the last tail lines of a shown container and keeps those
// that match grep (RE2: linear in the lines). Its errors come with the
// HTTP status they are.
func (d *Dashboard) logs(ctx context.Context, c *Container, tailText, grep string) (*LogsAnswer, int, error) {
	tail := DefaultTail
	if tailText != "" {
		n, err := strconv.Atoi(tailText)
		if err != nil || n < 1 || n > MaxTail {
			return nil, http.StatusBadRequest, fmt.Errorf("tail %q: want a count of lines from 1 to %d", tailText, MaxTail)
		}
		tail = n
	}
	var re *regexp.Regexp
	if grep != "" {
		var err error
		if len(grep) > maxGrep {
			return nil, http.StatusBadRequest, fmt.Errorf("grep: longer than %d characters", maxGrep)
		}
		if re, err = regexp.Compile(grep); err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("grep: %v", err)
		}
	}
	var eng *containers.Engine
	for _, e := range d.opts.Engines {
		if e.Host == c.Host {
			eng = e
		}
	}
	if eng == nil {
		return nil, http.StatusNotFound, errors.New("no engine for " + c.Host)
	}
	a := &LogsAnswer{Host: c.Host, ID: c.ID, Name: c.Name, Tail: tail, Grep: grep, Lines: []containers.LogLine{}}
	ctx, cancel := context.WithTimeout(ctx, d.opts.LogsTimeout)
	defer cancel()
	size := 0
	errFull := errors.New("full")
	err := eng.Logs(ctx, c.Container, containers.LogOptions{Tail: strconv.Itoa(tail)}, func(l containers.LogLine) error {
		if re != nil && !re.MatchString(l.Message) {
			return nil
		}
		if size += len(l.Message) + 100; size > maxLogsBytes {
			a.Truncated = true
			return errFull
		}
		a.Lines = append(a.Lines, l)
		return nil
	})
	switch {
	case cutShort(ctx) != nil:
		return nil, http.StatusServiceUnavailable, cutShort(ctx)
	case err != nil && !errors.Is(err, errFull):
		// What came before the failure is still worth showing.
		a.Error = oneLine(err.Error())
	}
	return a, 0, nil
}

// cutShort is why a logs call ended early: the client left, or the engine
// took longer than the timeout.
func cutShort(ctx context.Context) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return errors.New("the engine did not answer in time")
	case ctx.Err() != nil:
		return errClientGone
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}

// nonNil makes an empty list [] rather than null in the answers.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
