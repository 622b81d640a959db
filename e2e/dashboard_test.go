//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/monctl/monctl/internal/testengine"
)

// TestDashboardInABrowser: serve's live view in Debian's chromium,
// headless, with basic auth: the sandboxed containers are listed, the
// burner's CPU is high and updates, the unhealthy container has its
// badge, a click sorts, a container's page finds a known log line, and
// log lines and labels holding HTML show as text and run nothing.
// Screenshots go to the test's artifact directory (make e2e keeps them
// in e2e-artifacts/).
func TestDashboardInABrowser(t *testing.T) {
	e := engines[len(engines)-1]
	runContainer(t, e, "web-burner", nil, testengine.WorkloadImage, "-burn", "1")
	runContainer(t, e, "web-sick", []string{"--health-cmd", "true", "--health-interval", "1s", "--health-retries", "1"}, testengine.WorkloadImage)
	runContainer(t, e, "web-talker", []string{"--label", "note=<img src=x onerror=alert(2)>"}, testengine.WorkloadImage, "-log-lines", "100", "-log-rate", "200")
	waitFor(t, "web-sick to turn unhealthy", 30*time.Second, func() bool {
		out, _ := e.Docker("inspect", "-f", "{{.State.Health.Status}}", "web-sick")
		return strings.TrimSpace(out) == "unhealthy"
	})
	waitFor(t, "web-talker's lines", 30*time.Second, func() bool {
		out, _ := e.Docker("logs", "web-talker")
		return strings.Contains(out, "line 99 out")
	})

	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web.yml")
	os.WriteFile(webConfig, []byte("basic_auth_users:\n  alice: "+string(hash)+"\n"), 0o600)
	// Rules whose alerts the page lists: one of them carries a label of a
	// container's, HTML, in its annotation.
	rules := writeTemp(t, "rules.yml", `groups:
  - name: web
    rules:
      - alert: Unhealthy
        expr: monctl_container_health_status{health="unhealthy"} == 1
        annotations:
          summary: "{{ $labels.name }} is unhealthy"
      - alert: Noted
        expr: monctl_container_info{container_label_note!=""}
        annotations:
          summary: "{{ $labels.container_label_note }}"
`)
	p := startServe(t, []string{"DOCKER_HOST=" + e.Host}, "--web.config.file", webConfig, "--web.ui.interval", "1s",
		"--filter", "name=^web-", "--container-labels", "note", "--rules", rules)
	base := "http://" + p.addr
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))

	// The API, as a script would use it.
	get := func(path, authorization string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	var list struct {
		Containers []struct {
			ID, Name, Health string
			CPUPercent       float64 `json:"cpu_percent"`
		}
	}
	waitFor(t, "the API to list the three containers", 30*time.Second, func() bool {
		_, body := get("/api/v1/containers", auth)
		list.Containers = nil
		return json.Unmarshal(body, &list) == nil && len(list.Containers) == 3
	})
	ids := map[string]string{}
	for _, c := range list.Containers {
		ids[c.Name] = c.ID
	}
	talker := ids["web-talker"]
	for _, path := range []string{"/", "/api/v1/containers", "/api/v1/targets", "/api/v1/containers/" + talker + "/logs", "/containers/" + talker, "/static/app.js"} {
		if resp, _ := get(path, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %s, want 401", path, resp.Status)
		}
		if resp, _ := get(path, "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:wrong"))); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with a wrong password: %s, want 401", path, resp.Status)
		}
		resp, _ := get(path, auth)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %s, headers %v", path, resp.Status, resp.Header)
		}
	}
	var logs struct {
		Lines []struct{ Stream, Message string }
	}
	resp, body := get("/api/v1/containers/"+talker[:12]+"/logs?tail=1000&grep=onerror", auth)
	if json.Unmarshal(body, &logs); resp.StatusCode != 200 || len(logs.Lines) != 10 || logs.Lines[0].Message != "line 10 <img src=x onerror=alert(1)> \x1b[31mred\x1b[0m err" {
		t.Errorf("logs?grep=onerror: %s, %s", resp.Status, body)
	}
	for _, q := range []string{"tail=0", "tail=100000", "tail=x", "grep=(", "grep=" + strings.Repeat("a", 1001)} {
		if resp, body := get("/api/v1/containers/"+talker+"/logs?"+q, auth); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"error"`) {
			t.Errorf("logs?%.30s: %s %s, want 400 with an error", q, resp.Status, body)
		}
	}
	if resp, _ := get("/api/v1/containers/0123456789ab", auth); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown container: %s, want 404", resp.Status)
	}

	// The page, as a person would see it.
	br := newBrowser(t)
	do, eval, poll, screenshot := br.do, br.eval, br.poll, br.screenshot

	// Without credentials the browser gets nothing of the page: Chromium
	// ends the load at the 401 (it has no one to ask for a password).
	var text string
	if err := chromedp.Do(br.ctx, chromedp.Navigate(base+"/"), eval(`document.body.innerText`, &text)); err == nil || !strings.Contains(err.Error(), "ERR_INVALID_AUTH_CREDENTIALS") {
		t.Errorf("the page without credentials: %v, showing:\n%s", err, text)
	}
	br.header("Authorization", auth)

	cell := func(name string, col int) string {
		return `(() => { const r = [...document.querySelectorAll('#containers tbody tr')].find(r => r.cells[1] && r.cells[1].textContent === '` +
			name + `'); return r ? r.cells[` + strconv.Itoa(col) + `].textContent : ''; })()`
	}
	// The burner's CPU is judged against its process's CPU time over
	// exactly the windows serve measured: each sample's time in the API
	// and the one before it (serve collects every second, and nothing
	// else asks it to here, so consecutive times are consecutive samples).
	// A busy machine gives the burner less than a core, and any other
	// window another share.
	pid, err := e.Docker("inspect", "-f", "{{.State.Pid}}", "web-burner")
	if err != nil {
		t.Fatal(err)
	}
	track := trackCPU(t, strings.TrimSpace(pid))
	type sample struct {
		at  time.Time
		cpu float64
	}
	var samples []sample
	waitFor(t, "three samples of the burner in the API", 30*time.Second, func() bool {
		_, b := get("/api/v1/containers", auth)
		var round struct {
			Containers []struct {
				Name       string
				Time       time.Time `json:"time"`
				CPUPercent float64   `json:"cpu_percent"`
			}
		}
		json.Unmarshal(b, &round)
		for _, c := range round.Containers {
			if c.Name == "web-burner" && (len(samples) == 0 || c.Time.After(samples[len(samples)-1].at)) && c.Time.After(track.start()) {
				samples = append(samples, sample{c.Time, c.CPUPercent})
			}
		}
		time.Sleep(100 * time.Millisecond)
		return len(samples) >= 3
	})
	for i := 1; i < len(samples); i++ {
		ref := track.percent(t, samples[i-1].at, samples[i].at, overHostCPU)
		if d := math.Abs(samples[i].cpu - ref); d > max(10, 0.15*ref) || ref < 5 {
			t.Errorf("the burner's CPU in the API %.1f%%; its CPU time over the same window says %.1f%%", samples[i].cpu, ref)
		}
	}
	var cpu1, cpu2, updated1, updated2 string
	do("the list", chromedp.Navigate(base+"/"),
		poll(cell("web-burner", 4)+` !== '' && document.querySelectorAll('#containers .spark polyline[points*=" "]').length >= 3`),
		eval(cell("web-burner", 4), &cpu1), eval(`document.getElementById('updated').textContent`, &updated1))
	do("an update", poll(`document.getElementById('updated').textContent !== `+strconv.Quote(updated1)),
		eval(cell("web-burner", 4), &cpu2), eval(`document.getElementById('updated').textContent`, &updated2))
	// The page shows the rounds as the API does: busy (an idle container
	// shows under 1%).
	for _, c := range []string{cpu1, cpu2} {
		if v, err := strconv.ParseFloat(c, 64); err != nil || v < 5 {
			t.Errorf("the burner's CPU %% shows %q", c)
		}
	}
	if updated1 == updated2 || !strings.HasPrefix(updated2, "updated ") {
		t.Errorf("the page did not update: %q then %q", updated1, updated2)
	}
	var sick string
	do("the health badge", eval(`(() => { const r = [...document.querySelectorAll('#containers tbody tr')].find(r => r.cells[1].textContent === 'web-sick');
		const b = r && r.querySelector('.badge.health-unhealthy'); return b ? b.textContent : ''; })()`, &sick))
	if sick != "unhealthy" {
		t.Errorf("web-sick's health badge: %q", sick)
	}
	var first, last string
	do("sorting by CPU", chromedp.Click(chromedp.CSS(`th[data-key="cpu_percent"]`)),
		eval(`document.querySelector('#containers tbody tr:first-child td:nth-child(2)').textContent`, &first))
	if first != "web-burner" {
		t.Errorf("sorted by CPU %%, the first row is %q", first)
	}
	do("sorting the other way", chromedp.Click(chromedp.CSS(`th[data-key="cpu_percent"]`)),
		eval(`document.querySelector('#containers tbody tr:last-child td:nth-child(2)').textContent`, &last))
	if last != "web-burner" {
		t.Errorf("sorted by CPU %% ascending, the last row is %q", last)
	}
	var alerts []string
	do("the alerts, as the script draws them", poll(`document.querySelectorAll('#alerts tbody tr:not(.empty)').length === 2`),
		eval(`[...document.querySelectorAll('#alerts tbody tr')].map(r => [...r.cells].map(c => c.textContent).join(' | '))`, &alerts))
	slices.Sort(alerts)
	if len(alerts) != 2 || !strings.HasPrefix(alerts[0], "firing | Noted | ") || !strings.Contains(alerts[0], "summary: <img src=x onerror=alert(2)>") ||
		!strings.HasPrefix(alerts[1], "firing | Unhealthy | ") || !strings.Contains(alerts[1], "summary: web-sick is unhealthy") {
		t.Errorf("the alerts panel:\n%s", strings.Join(alerts, "\n"))
	}
	screenshot("index.png")

	// A container's page: its label and its log lines hold HTML, which
	// must show as text.
	var facts, logsText string
	var lines, images int
	do("the talker's page", chromedp.Click(chromedp.CSS(`a[href="/containers/`+talker+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#logs .line`)),
		eval(`[...document.querySelectorAll('.facts dd')].map(d => d.textContent).join('\n')`, &facts),
		eval(`document.getElementById('logs').textContent`, &logsText))
	if !strings.Contains(facts, "<img src=x onerror=alert(2)>") {
		t.Errorf("the label does not show as text:\n%s", facts)
	}
	if !strings.Contains(logsText, `line 100 <img src=x onerror=alert(1)> \x1b[31mred\x1b[0m err`) {
		t.Errorf("the last lines do not show as text:\n%.2000s", logsText)
	}
	do("a log search", chromedp.SetValue(chromedp.CSS(`input[name="grep"]`), `line 7[0-9] out`),
		chromedp.Click(chromedp.CSS(`#logs-form button`)),
		poll(`document.querySelectorAll('#logs .line').length === 5`),
		eval(`document.getElementById('logs').textContent`, &logsText))
	if !strings.Contains(logsText, "line 77 out") || strings.Contains(logsText, "line 78") {
		t.Errorf("searching 'line 7[0-9] out' found:\n%s", logsText)
	}
	do("a search for the HTML lines", chromedp.SetValue(chromedp.CSS(`input[name="grep"]`), `onerror`),
		chromedp.Click(chromedp.CSS(`#logs-form button`)),
		poll(`document.querySelectorAll('#logs .line').length === 10`),
		eval(`document.querySelectorAll('#logs .line').length`, &lines),
		eval(`document.querySelectorAll('img').length`, &images),
		eval(`document.getElementById('logs').textContent`, &logsText))
	if lines != 10 || images != 0 || strings.Count(logsText, "<img src=x onerror=alert(1)>") != 10 {
		t.Errorf("%d lines, %d img elements; the lines:\n%s", lines, images, logsText)
	}
	screenshot("container.png")
	do("a wait for any script to fire", chromedp.Sleep(time.Second))
	if n := br.dialogs.Load(); n != 0 {
		t.Errorf("%d dialogs opened: text from a container ran as script", n)
	}
}

// TestServeWebViewBounds: a log search costs what its budget allows
// (a pattern too large is refused, a costly one stops and says where),
// searches run a few at a time (the rest are told to come back, not
// queued onto the CPUs), and a page whose name was rebound to this
// machine gets nothing, while /metrics stays scrapeable by any name.
func TestServeWebViewBounds(t *testing.T) {
	e := engines[len(engines)-1]
	runContainer(t, e, "search-talker", nil, testengine.WorkloadImage, "-log-lines", "10000", "-log-rate", "5000", "-log-pad", "1000")
	waitFor(t, "search-talker's 10,000 lines", 60*time.Second, func() bool {
		out, _ := e.Docker("logs", "--tail", "5", "search-talker") // its stdout: the odd lines
		return strings.Contains(out, "line 9999 ")
	})
	p := startServe(t, []string{"DOCKER_HOST=" + e.Host}, "--filter", "name=^search-", "--web.ui.interval", "1s")
	base := "http://" + p.addr
	get := func(host, path string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	var id string
	waitFor(t, "search-talker in the API", 30*time.Second, func() bool {
		_, b := get("", "/api/v1/containers")
		var list struct{ Containers []struct{ ID, Name string } }
		json.Unmarshal(b, &list)
		for _, c := range list.Containers {
			if c.Name == "search-talker" {
				id = c.ID
			}
		}
		return id != ""
	})
	logs := "/api/v1/containers/" + id + "/logs?tail=10000&grep="

	if code, b := get("", logs+url.QueryEscape(`(\w+\s?){1000}`)); code != 400 || !strings.Contains(string(b), "instructions") {
		t.Errorf("a pattern of 6,000 instructions: %d %s", code, b)
	}
	code, b := get("", logs+url.QueryEscape(`(\w+\s?){300}`))
	var a struct {
		Lines     []any
		Truncated bool
		Error     string
	}
	json.Unmarshal(b, &a)
	if code != 200 || !a.Truncated || !strings.Contains(a.Error, "the search stopped after") {
		t.Errorf("a costly search: %d, truncated %v, error %q", code, a.Truncated, a.Error)
	}
	if code, b := get("", logs+"line+9999+"); code != 200 || !strings.Contains(string(b), `"message":"line 9999 word`) || strings.Contains(string(b), "truncated") {
		t.Errorf("a cheap search over every line: %d %.200s", code, b)
	}

	// Eight at once: some run, the others are told to come back; none
	// waits its turn on the CPUs, and none fails otherwise.
	codes := make(chan int, 8)
	start := make(chan struct{})
	for range 8 {
		go func() {
			<-start
			code, _ := get("", logs+url.QueryEscape(`(\w+\s?){300}`))
			codes <- code
		}()
	}
	close(start)
	busy := 0
	for range 8 {
		switch c := <-codes; c {
		case 200:
		case 429:
			busy++
		default:
			t.Errorf("a search at the same time as seven others: %d", c)
		}
	}
	if busy == 0 {
		t.Error("eight searches at once all ran: they have no budget of their own")
	}

	// DNS rebinding: the API and pages refuse a name that is not the
	// server's; /metrics answers by address, as Prometheus scrapes it.
	for _, path := range []string{"/api/v1/containers", "/", logs + "line"} {
		if code, b := get("attacker.example:"+strings.Split(p.addr, ":")[1], path); code != http.StatusMisdirectedRequest || strings.Contains(string(b), "search-talker") {
			t.Errorf("%s for attacker.example: %d %.100s", path, code, b)
		}
	}
	if code, _ := get("localhost", "/api/v1/containers"); code != 200 {
		t.Errorf("localhost: %d", code)
	}
	if code, b := get("attacker.example", "/metrics"); code != 200 || !strings.Contains(string(b), "monctl_container_") {
		t.Errorf("/metrics by another name: %d", code)
	}
}
