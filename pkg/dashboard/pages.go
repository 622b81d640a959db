package dashboard

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/monctl/monctl/pkg/containers"
)

// webFS is the pages (web/templates, which html/template escapes in
// context) and the stylesheet and script (web/static), read-only.
//
//go:embed web
var webFS embed.FS

// parsePages parses the pages; they are part of the binary, so a failure
// is a bug of the build.
func parsePages() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"bytes":       humanBytes,
		"percent":     func(f float64) string { return fmt.Sprintf("%.1f", f) },
		"duration":    humanDuration,
		"spark":       spark,
		"visible":     visible,
		"peak":        peak,
		"rfc3339":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"destructive": containers.Destructive,
	}).ParseFS(webFS, "web/templates/*.html"))
}

func staticFiles() fs.FS {
	sub, err := fs.Sub(webFS, "web/static")
	if err != nil {
		panic(err) // a constant path into the binary's own files
	}
	return sub
}

// page is what every page shows in its head.
type page struct {
	Version, TelemetryPath string
	IntervalSeconds        float64
	// Rules: there are alerts to show.
	Rules bool
	Round
}

func (d *Dashboard) page(r Round) page {
	return page{Version: d.opts.Version, TelemetryPath: d.opts.TelemetryPath, IntervalSeconds: d.opts.Interval.Seconds(),
		Rules: d.opts.Alerts != nil, Round: r}
}

func (d *Dashboard) indexPage(w http.ResponseWriter, _ *http.Request) {
	d.mu.RLock()
	p := d.index
	d.mu.RUnlock()
	p.once.Do(func() {
		var b bytes.Buffer
		p.err = d.pages.ExecuteTemplate(&b, "index.html", d.page(d.snapshot()))
		p.body = b.Bytes()
	})
	d.write(w, p.body, p.err)
}

// containerPage shows one container's numbers over time and its recent
// logs: the search form works without the script, as a GET of this page.
func (d *Dashboard) containerPage(w http.ResponseWriter, r *http.Request) {
	round := d.snapshot()
	c, code, msg := find(round, r.PathValue("id"))
	if c == nil {
		http.Error(w, msg, code)
		return
	}
	q := r.URL.Query()
	data := struct {
		page
		Container *Container
		Logs      *LogsAnswer
		LogsError string
		Tail      string
		Grep      string
		// With actions: the login's token, the actions, and the one
		// just done (the form comes back here).
		Token   string
		Actions []string
		Done    string
	}{page: d.page(round), Container: c, Tail: q.Get("tail"), Grep: q.Get("grep")}
	if d.opts.Actions {
		data.Token, data.Actions = d.csrfToken(r), containers.Actions()
		if done := q.Get("done"); containers.IsAction(done) {
			data.Done = done
		}
	}
	logs, _, err := d.logs(r.Context(), c, data.Tail, data.Grep)
	if err != nil {
		data.LogsError = err.Error()
	}
	data.Logs = logs
	d.render(w, "container.html", data)
}

// logsPage is the page that follows several containers' logs at once:
// its form says which (a compose project, a filter as --filter's), the
// script opens the stream.
func (d *Dashboard) logsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d.render(w, "logs.html", struct {
		page
		Project, Filter, Grep, Tail string
		Asked                       bool
	}{d.page(d.snapshot()), q.Get("project"), q.Get("filter"), q.Get("grep"), q.Get("tail"), q.Has("project") || q.Has("filter")})
}

// render writes a page whole, or an error if it could not be made.
func (d *Dashboard) render(w http.ResponseWriter, name string, data any) {
	var b bytes.Buffer
	err := d.pages.ExecuteTemplate(&b, name, data)
	d.write(w, b.Bytes(), err)
}

// write sends a rendered page, or the error that kept it from being one.
func (d *Dashboard) write(w http.ResponseWriter, page []byte, err error) {
	if err != nil {
		http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(page)
}

// spark is the points of an SVG polyline of values in a w×h box, the
// highest value at the top (never below floor, so that a flat 0.2%
// stays low on the line).
func spark(values any, w, h, floor float64) string {
	vs := floats(values)
	if len(vs) == 0 {
		return ""
	}
	top := max(floor, slices.Max(vs))
	// strconv rather than fmt: a page holds thousands of these numbers.
	b := make([]byte, 0, len(vs)*12)
	step := w / math.Max(1, float64(len(vs)-1))
	for i, v := range vs {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendFloat(b, float64(i)*step, 'f', 1, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, h-v/top*h, 'f', 1, 64)
	}
	return string(b)
}

// peak is the highest of a history's values, in its unit (% or bytes).
func peak(values any, unit string) string {
	vs := floats(values)
	if len(vs) == 0 {
		return ""
	}
	top := slices.Max(vs)
	if unit == "bytes" {
		return "peak " + humanBytes(uint64(top))
	}
	return fmt.Sprintf("peak %.1f%s", top, unit)
}

// floats are a history's CPU % or memory bytes as numbers to draw.
func floats(values any) []float64 {
	switch v := values.(type) {
	case []float64:
		return v
	case []uint64:
		vs := make([]float64, len(v))
		for i, x := range v {
			vs[i] = float64(x)
		}
		return vs
	}
	return nil
}

// visible writes control characters (a terminal's escape sequences in a
// log line) as \xNN, as the CLI does, rather than as boxes.
func visible(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, `\x%02x`, r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isControl is a C0 or C1 control or DEL, but not a tab.
func isControl(r rune) bool { return r != '\t' && (r < 0x20 || r >= 0x7f && r < 0xa0) }

// humanBytes is docker stats' way of writing sizes (binary units).
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// humanDuration is an uptime as people say it: 3d4h, 5h12m, 7m30s.
func humanDuration(seconds float64) string {
	d := time.Duration(seconds) * time.Second
	switch {
	case seconds <= 0:
		return "–"
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}
