package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exporter"
	"github.com/monctl/monctl/pkg/query"
)

// Bounds of a logs request: lines looked at and the bytes of lines
// answered (beyond it the answer says truncated); the pattern's are
// containers.CompileLogPattern's.
const (
	DefaultTail  = 100
	MaxTail      = 10000
	maxLogsBytes = 8 << 20
	// maxSearchCost bounds one search's work, instructions × bytes
	// scanned: 10 MB of lines for a pattern of 50 instructions, 250 KB
	// for one of 2,000. Past it the answer says where the search stopped.
	maxSearchCost = 500_000_000
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
	mux.HandleFunc("GET /api/v1/containers/{id}/logs/stream", d.streamOne)
	mux.HandleFunc("GET /api/v1/logs/stream", d.streamMany)
	mux.HandleFunc("GET /logs", d.logsPage)
	if d.opts.Actions {
		mux.HandleFunc("POST /api/v1/containers/{id}/actions/{action}", d.act)
		mux.HandleFunc("GET /api/v1/actions/token", d.actionToken)
	}
	mux.HandleFunc("GET /api/v1/targets", func(w http.ResponseWriter, _ *http.Request) {
		r := d.snapshot()
		writeJSON(w, http.StatusOK, struct {
			Time    any      `json:"time"`
			Targets []Target `json:"targets"`
		}{r.Time, nonNil(r.Targets)})
	})
	mux.HandleFunc("GET /api/v1/alerts", func(w http.ResponseWriter, _ *http.Request) {
		if d.opts.Alerts == nil {
			apiError(w, http.StatusNotFound, "no rules: serve evaluates alerts with --rules")
			return
		}
		r := d.snapshot()
		writeJSON(w, http.StatusOK, struct {
			Time   any           `json:"time"`
			Alerts []query.Alert `json:"alerts"`
		}{r.Time, nonNil(r.Alerts)})
	})
	var h http.Handler = mux
	if d.opts.MaxRequests > 0 {
		h = exporter.Limit(h, d.opts.MaxRequests)
	}
	return secure(d.ownHostsOnly(h))
}

// ownHostsOnly refuses a request whose Host header is not one of the
// server's names. A browser sends the name of the page's origin: a name
// an attacker rebound to 127.0.0.1 is not one of ours, and its page gets
// nothing. IP addresses cannot be rebound, and localhost never leaves the
// machine.
func (d *Dashboard) ownHostsOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if name, _, err := net.SplitHostPort(host); err == nil {
			host = name
		}
		host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
		ok := host == "localhost" || strings.HasSuffix(host, ".localhost") || net.ParseIP(host) != nil
		for _, a := range d.opts.AllowedHosts {
			ok = ok || strings.EqualFold(a, host)
		}
		if !ok {
			http.Error(w, "this server does not answer to the name "+strconv.Quote(r.Host)+": give it with --web.allowed-host, or use its address", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
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
	insts := 0
	if grep != "" {
		var err error
		if re, insts, err = containers.CompileLogPattern(grep); err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("grep: %v", err)
		}
	}
	// Log reads and searches take turns in a budget of their own, so
	// that however many clients search, /metrics keeps its CPUs.
	select {
	case d.searches <- struct{}{}:
		defer func() { <-d.searches }()
	default:
		return nil, http.StatusTooManyRequests, fmt.Errorf("%d log reads or searches are running already: try again in a moment", cap(d.searches))
	}
	eng := d.engine(c.Host)
	if eng == nil {
		return nil, http.StatusNotFound, errors.New("no engine for " + c.Host)
	}
	a := &LogsAnswer{Host: c.Host, ID: c.ID, Name: c.Name, Tail: tail, Grep: grep, Lines: []containers.LogLine{}}
	ctx, cancel := context.WithTimeout(ctx, d.opts.LogsTimeout)
	defer cancel()
	size, scanned := 0, 0
	errFull, errCost := errors.New("full"), errors.New("cost")
	err := eng.Logs(ctx, c.Container, containers.LogOptions{Tail: strconv.Itoa(tail)}, func(l containers.LogLine) error {
		if re != nil {
			if scanned += len(l.Message) + 1; insts*scanned > maxSearchCost {
				a.Truncated = true
				a.Error = fmt.Sprintf("the search stopped after %d bytes of lines: a pattern of %d instructions may scan no more (simplify it or ask for fewer lines)", scanned, insts)
				return errCost
			}
			if !re.MatchString(l.Message) {
				return nil
			}
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
	case err != nil && !errors.Is(err, errFull) && !errors.Is(err, errCost):
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
