// Package containerstest is a Docker Engine API for tests, as httptest is
// an HTTP server: it answers, on 127.0.0.1, the calls monctl makes to
// watch containers (ping, version, events, list, inspect, one-shot stats),
// for containers whose numbers are fixed, so that a verb's test can
// expect them exactly. The real engine is in the e2e tests; this one
// stands in where a verb's own logic is tested.
package containerstest

import (
	"encoding/json"
	"github.com/docker/docker/api/types/events"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// APIVersion is the API version the engine speaks.
const APIVersion = "1.47"

// CPUs is the engine's CPU count, as its stats say.
const CPUs = 2

// Container is a container the engine has, and its numbers.
type Container struct {
	ID, Name, Image string
	// State is "running" (the default) or another Docker state.
	State  string
	Labels map[string]string
	// CPUPercent is what each interval's CPU % comes out as, by docker
	// stats' formula: every stats answer adds CPUs seconds of system
	// time, and this share of one second to the container's CPU time.
	CPUPercent float64
	// MemoryUsed is docker stats' memory (usage less inactive file),
	// MemoryLimit its limit.
	MemoryUsed, MemoryLimit uint64
	NetRx, NetTx            uint64
	PIDs                    uint64
}

// Engine is a running fake engine; Close stops it.
type Engine struct {
	// Host is the address to give monctl: tcp://127.0.0.1:PORT.
	Host string

	srv  *httptest.Server
	mu   sync.Mutex
	ctrs []Container
	// The CPU time and system time each container's stats answers have
	// reached: per container, so that each interval of each comes out
	// at its CPUPercent however many are asked.
	cpu, sys map[string]uint64
	history  []events.Message
	filters  []string // of each events request, as sent
	done     chan struct{}
	once     sync.Once
}

// version matches the /v1.xx prefix the client puts before a path.
var version = regexp.MustCompile(`^/v[0-9.]+/`)

// NewEngine starts an engine with the containers given.
func NewEngine(containers ...Container) *Engine {
	e := &Engine{ctrs: containers, cpu: map[string]uint64{}, sys: map[string]uint64{}, done: make(chan struct{})}
	for i := range e.ctrs {
		if e.ctrs[i].State == "" {
			e.ctrs[i].State = "running"
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("API-Version", APIVersion)
		w.Header().Set("OSType", "linux")
		w.Write([]byte("OK"))
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"Version": "containerstest", "ApiVersion": APIVersion, "Os": "linux"})
	})
	mux.HandleFunc("GET /events", e.events)
	mux.HandleFunc("GET /containers/json", e.list)
	mux.HandleFunc("GET /containers/{id}/json", e.inspect)
	mux.HandleFunc("GET /containers/{id}/stats", e.stats)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = version.ReplaceAllString(r.URL.Path, "/")
		mux.ServeHTTP(w, r)
	}))
	e.Host = "tcp://" + e.srv.Listener.Addr().String()
	return e
}

// Close stops the engine: it goes away as a stopped dockerd does.
func (e *Engine) Close() {
	e.once.Do(func() { close(e.done) })
	e.srv.CloseClientConnections()
	e.srv.Close()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// AddEvents gives every events stream opened from now on msgs first,
// as an engine's past events (the containers do not change for them).
func (e *Engine) AddEvents(msgs ...events.Message) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.history = append(e.history, msgs...)
}

// events sends the events added, then holds the stream open with nothing
// more to tell, or ends it when the client gave an until, as an engine
// does once that time has passed. The filters asked for are kept.
func (e *Engine) events(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	history := slices.Clone(e.history)
	e.filters = append(e.filters, r.URL.Query().Get("filters"))
	e.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	for _, m := range history {
		writeJSON(w, m)
	}
	w.(http.Flusher).Flush()
	if r.URL.Query().Get("until") != "" {
		return
	}
	select {
	case <-r.Context().Done():
	case <-e.done:
	}
}

// EventFilters are the filters of every events request so far, as the
// client encoded them.
func (e *Engine) EventFilters() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.filters)
}

func (e *Engine) find(id string) (Container, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.ctrs {
		if c.ID == id || c.Name == id || strings.HasPrefix(c.ID, id) {
			return c, true
		}
	}
	return Container{}, false
}

func notFound(w http.ResponseWriter, id string) {
	w.WriteHeader(http.StatusNotFound)
	writeJSON(w, map[string]string{"message": "No such container: " + id})
}

func (e *Engine) list(w http.ResponseWriter, r *http.Request) {
	all := r.URL.Query().Get("all") == "1" || r.URL.Query().Get("all") == "true"
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []map[string]any{}
	for _, c := range e.ctrs {
		if c.State == "running" || all {
			out = append(out, map[string]any{"Id": c.ID, "Names": []string{"/" + c.Name}, "Image": c.Image, "State": c.State, "Labels": c.Labels})
		}
	}
	writeJSON(w, out)
}

// started is when every container started: an hour before now.
func started() string { return time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano) }

func (e *Engine) inspect(w http.ResponseWriter, r *http.Request) {
	c, ok := e.find(r.PathValue("id"))
	if !ok {
		notFound(w, r.PathValue("id"))
		return
	}
	// No Pid: the containers have no process here, so their numbers
	// come from the stats endpoint even where this host has cgroups.
	writeJSON(w, map[string]any{
		"Id": c.ID, "Name": "/" + c.Name, "Created": started(),
		"State":  map[string]any{"Status": c.State, "Running": c.State == "running", "StartedAt": started()},
		"Config": map[string]any{"Image": c.Image, "Labels": c.Labels},
	})
}

// stats answers a one-shot stats call: each answer moves the counters by
// one interval's worth.
func (e *Engine) stats(w http.ResponseWriter, r *http.Request) {
	c, ok := e.find(r.PathValue("id"))
	if !ok || c.State != "running" {
		notFound(w, r.PathValue("id"))
		return
	}
	e.mu.Lock()
	e.sys[c.ID] += CPUs * uint64(time.Second)
	e.cpu[c.ID] += uint64(c.CPUPercent / 100 * float64(time.Second))
	cpu, sys := e.cpu[c.ID], e.sys[c.ID]
	e.mu.Unlock()
	writeJSON(w, map[string]any{
		"read": time.Now().UTC().Format(time.RFC3339Nano), "name": "/" + c.Name, "id": c.ID,
		"cpu_stats":    map[string]any{"cpu_usage": map[string]any{"total_usage": cpu}, "system_cpu_usage": sys, "online_cpus": CPUs},
		"memory_stats": map[string]any{"usage": c.MemoryUsed, "limit": c.MemoryLimit, "stats": map[string]any{"inactive_file": 0}},
		"pids_stats":   map[string]any{"current": c.PIDs},
		"networks":     map[string]any{"eth0": map[string]any{"rx_bytes": c.NetRx, "tx_bytes": c.NetTx}},
	})
}
