//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/monctl/monctl/internal/testengine"
)

// sseEvent is one Server-Sent Event of a live log stream.
type sseEvent struct {
	kind, id string
	Lines    []logRecord `json:"lines"`
	Dropped  int         `json:"dropped"`
	Ended    []string    `json:"ended"`
	Error    string      `json:"error"`
}

// sseStream is an open live log stream.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
	cancel func()
}

// openStream asks for a stream; it fails the test unless the answer is
// want (the body of another answer is returned as its error).
func openStream(t *testing.T, u string, want int) (*sseStream, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		var b strings.Builder
		bufio.NewReader(resp.Body).WriteTo(&b)
		resp.Body.Close()
		cancel()
		t.Fatalf("%s: %s, want %d: %s", u, resp.Status, want, b.String())
	}
	if want != http.StatusOK {
		var b strings.Builder
		bufio.NewReader(resp.Body).WriteTo(&b)
		resp.Body.Close()
		cancel()
		return nil, b.String()
	}
	s := &sseStream{resp: resp, events: make(chan sseEvent, 1024), cancel: func() { cancel(); resp.Body.Close() }}
	t.Cleanup(s.cancel)
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 16<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.kind != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.kind = line[len("event: "):]
			case strings.HasPrefix(line, "id: "):
				ev.id = line[len("id: "):]
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(line[len("data: "):]), &ev); err != nil {
					ev.Error = "bad data: " + err.Error()
				}
			}
		}
	}()
	return s, ""
}

// collect reads the stream's events for d, or until it ends.
func (s *sseStream) collect(d time.Duration) []sseEvent {
	var out []sseEvent
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return out
			}
			out = append(out, ev)
			if ev.kind == "end" {
				return out
			}
		case <-deadline:
			return out
		}
	}
}

// TestLiveLogs: serve's live log tail. The API streams a container's
// lines as Server-Sent Events, the search as a filter and the last lines
// first; a compose project's containers in one stream; an EventSource
// that reconnects goes on after its last line, nothing twice; streams are
// bounded in total (429 past the bound, the slot back when one closes).
// In chromium the container page follows, pauses and keeps only as many
// lines as asked, and the logs page follows a compose project; lines
// holding HTML show as text.
func TestLiveLogs(t *testing.T) {
	e := engines[len(engines)-1]
	runContainer(t, e, "tail-talker", nil, testengine.WorkloadImage, "-log-lines", "100000", "-log-rate", "20")
	for _, name := range []string{"shop-web", "shop-db"} {
		runContainer(t, e, name, []string{"--label", "com.docker.compose.project=shop"}, testengine.WorkloadImage, "-log-lines", "100000", "-log-rate", "10")
	}
	// Two streams at once (a quarter of --web.max-requests).
	p := startServe(t, []string{"DOCKER_HOST=" + e.Host}, "--web.ui.interval", "1s", "--web.max-requests", "8")
	base := "http://" + p.addr
	var talker string
	waitFor(t, "the API to list the three containers", 30*time.Second, func() bool {
		n := 0
		for _, c := range apiContainers(t, p.addr) {
			if c.Name == "tail-talker" {
				talker = c.ID
			}
			n++
		}
		return n == 3 && talker != ""
	})
	waitFor(t, "the talker's first lines", 30*time.Second, func() bool {
		out, _ := e.Docker("logs", "tail-talker") // stdout: the odd lines
		return strings.Contains(out, "line 9 out")
	})

	// One container: the last 3 lines that match first, then the new
	// ones as they come, none twice, all matching.
	s, _ := openStream(t, base+"/api/v1/containers/"+talker[:12]+"/logs/stream?tail=3&grep=out$", http.StatusOK)
	if s.resp.Header.Get("Content-Type") != "text/event-stream" || s.resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("stream headers: %v", s.resp.Header)
	}
	events := s.collect(4 * time.Second)
	var nums []int
	lastID := ""
	for i, ev := range events {
		if i == 0 && ev.kind != "hello" {
			t.Fatalf("the first event is %q, want hello", ev.kind)
		}
		for _, l := range ev.Lines {
			var n int
			if _, err := fmt.Sscanf(l.Message, "line %d", &n); err != nil || !strings.HasSuffix(l.Message, " out") || l.Name != "tail-talker" || l.Stream != "stdout" {
				t.Errorf("a line the search should have left out: %+v", l)
			}
			nums = append(nums, n)
		}
		if ev.id != "" {
			lastID = ev.id
		}
	}
	if len(nums) < 3+20 { // 3 old ones, then about 10 a second
		t.Fatalf("%d lines in 4 s: %v", len(nums), nums)
	}
	for i := 1; i < len(nums); i++ {
		if nums[i] != nums[i-1]+2 {
			t.Errorf("line %d after line %d: a line missed or twice", nums[i], nums[i-1])
		}
	}
	s.cancel()
	// A reconnecting EventSource sends the id of its last event: the
	// stream goes on from the line after it.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/containers/"+talker+"/logs/stream?grep=out$", nil)
	req.Header.Set("Last-Event-ID", lastID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	var resumed []int
	for sc.Scan() && len(resumed) < 3 {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var ev sseEvent
			json.Unmarshal([]byte(data), &ev)
			for _, l := range ev.Lines {
				var n int
				fmt.Sscanf(l.Message, "line %d", &n)
				resumed = append(resumed, n)
			}
		}
	}
	resp.Body.Close()
	if len(resumed) < 3 || resumed[0] != nums[len(nums)-1]+2 {
		t.Errorf("after reconnecting from line %d the stream went on with %v", nums[len(nums)-1], resumed)
	}

	// A compose project in one stream; a second stream fills the bound.
	shop, _ := openStream(t, base+"/api/v1/logs/stream?project=shop&tail=1", http.StatusOK)
	other, _ := openStream(t, base+"/api/v1/logs/stream?filter=name=^tail-&tail=0", http.StatusOK)
	_, body := openStream(t, base+"/api/v1/logs/stream?project=shop", http.StatusTooManyRequests)
	if !strings.Contains(body, "2 log streams are open already") {
		t.Errorf("past the bound: %s", body)
	}
	names := map[string]int{}
	for _, ev := range shop.collect(3 * time.Second) {
		for _, l := range ev.Lines {
			names[l.Name]++
		}
	}
	if len(names) != 2 || names["shop-web"] == 0 || names["shop-db"] == 0 {
		t.Errorf("the shop project's stream: %v", names)
	}
	other.cancel()
	shop.cancel()
	waitFor(t, "a stream's slot to come back", 10*time.Second, func() bool {
		resp, err := http.Get(base + "/api/v1/logs/stream?project=shop&tail=0")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	for q, want := range map[string]int{"project=nothing": 404, "filter=bogus": 400, "project=shop&grep=(": 400, "project=shop&tail=-1": 400} {
		if _, body := openStream(t, base+"/api/v1/logs/stream?"+q, want); !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %s", q, body)
		}
	}

	// In a browser.
	br := newBrowser(t)
	do, eval, poll := br.do, br.eval, br.poll
	const count = `document.querySelectorAll('#logs .line').length`
	var status, last string
	var n1, n2, n3, kept, images int
	do("following the talker", chromedp.Navigate(base+"/containers/"+talker),
		chromedp.WaitVisible(chromedp.CSS(`#follow`)),
		chromedp.SetValue(chromedp.CSS(`input[name="grep"]`), `err$`),
		chromedp.Click(chromedp.CSS(`#follow`)),
		poll(`document.getElementById('follow-status').textContent === 'following' && `+count+` >= 10`),
		eval(`document.querySelector('#logs .line:last-child').textContent`, &last))
	if !strings.HasSuffix(last, " err") {
		t.Errorf("the search is not the stream's filter: the last line is %q", last)
	}
	do("pausing", chromedp.Click(chromedp.CSS(`#pause`)), eval(count, &n1), chromedp.Sleep(2*time.Second), eval(count, &n2),
		eval(`document.getElementById('follow-status').textContent`, &status))
	if n1 != n2 || status != "paused" {
		t.Errorf("paused: %d lines, then %d; status %q", n1, n2, status)
	}
	do("resuming", chromedp.Click(chromedp.CSS(`#pause`)), eval(count, &n3))
	if n3 <= n2 {
		t.Errorf("resumed: %d lines, had %d: the lines held back are not shown", n3, n2)
	}
	do("keeping 10 lines", chromedp.SetValue(chromedp.CSS(`#keep`), "10"), chromedp.Sleep(1500*time.Millisecond), eval(count, &kept),
		eval(`document.querySelectorAll('img').length`, &images))
	if kept != 10 || images != 0 {
		t.Errorf("keep 10: %d lines shown, %d img elements", kept, images)
	}
	var shopText string
	do("the logs page of the shop project", chromedp.Navigate(base+"/logs?project=shop&tail=2"),
		poll(`(() => { const t = document.getElementById('logs').textContent; return t.includes('shop-web |') && t.includes('shop-db |') && t.includes('<img src=x onerror=alert(1)>'); })()`),
		eval(`document.getElementById('logs').textContent`, &shopText))
	if strings.Contains(shopText, "tail-talker") {
		t.Errorf("the shop's stream:\n%.1500s", shopText)
	}
	br.screenshot("livelogs.png")
	if n := br.dialogs.Load(); n != 0 {
		t.Errorf("%d dialogs opened: text from a container ran as script", n)
	}
}
