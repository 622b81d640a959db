//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/monctl/monctl/internal/testengine"
)

// TestContainerActions: serve --web.enable-actions. Off, no action
// endpoint exists (404), and on it is refused where anyone could reach it
// unauthenticated. On, with basic auth: only a POST of our own origin
// with its login's CSRF token acts, a destructive action needs its
// confirmation, each action is said on stderr (who, what, which), and the
// engine did it. In chromium, the container page's stop needs its box
// ticked, then stops the container; a page of another site that posts a
// form to serve (the browser sending the login along) changes nothing.
func TestContainerActions(t *testing.T) {
	e := engines[len(engines)-1]
	runContainer(t, e, "act-target", nil, testengine.WorkloadImage)
	waitReady(t, e, "act-target")
	state := func() string {
		out, _ := e.Docker("inspect", "-f", "{{.State.Status}}", "act-target")
		return strings.TrimSpace(out)
	}

	dir := t.TempDir()
	users := ""
	for _, u := range []string{"alice", "bob"} {
		hash, err := bcrypt.GenerateFromPassword([]byte(u+"-pw"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		users += "  " + u + ": " + string(hash) + "\n"
	}
	webConfig := filepath.Join(dir, "web.yml")
	os.WriteFile(webConfig, []byte("basic_auth_users:\n"+users), 0o600)
	auth := func(u string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+u+"-pw")) }

	// Refused where anyone could act: all interfaces, no auth.
	if _, errOut, code := monctlEnv(t, []string{"DOCKER_HOST=" + e.Host}, "serve", "--web.enable-actions", "--web.listen-address", ":0"); code != 2 ||
		!strings.Contains(errOut, "configure TLS or basic auth") {
		t.Errorf("actions on all interfaces without auth: exit %d: %s", code, errOut)
	}
	// Off: no endpoint.
	off := startServe(t, []string{"DOCKER_HOST=" + e.Host}, "--web.ui.interval", "1s")
	id := ""
	waitFor(t, "act-target in the list", 30*time.Second, func() bool {
		for _, c := range apiContainers(t, off.addr) {
			if c.Name == "act-target" {
				id = c.ID
			}
		}
		return id != ""
	})
	if resp, err := http.PostForm("http://"+off.addr+"/api/v1/containers/"+id+"/actions/stop", url.Values{"confirm": {"yes"}}); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("an action with --web.enable-actions off: %v %v, want 404", resp.Status, err)
	}

	p := startServe(t, []string{"DOCKER_HOST=" + e.Host}, "--web.enable-actions", "--web.config.file", webConfig, "--all", "--web.ui.interval", "1s")
	base := "http://" + p.addr
	call := func(method, path, user string, form url.Values, header ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.Header.Set("Authorization", auth(user))
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	token := func(user string) string {
		_, body := call(http.MethodGet, "/api/v1/actions/token", user, nil)
		var tok struct{ Token string }
		json.Unmarshal([]byte(body), &tok)
		if len(tok.Token) != 64 {
			t.Fatalf("%s's token: %s", user, body)
		}
		return tok.Token
	}
	alice, bob := token("alice"), token("bob")
	if alice == bob {
		t.Fatal("alice and bob have the same token: it is not bound to the login")
	}
	stop := "/api/v1/containers/" + id + "/actions/stop"
	yes := url.Values{"confirm": {"yes"}}
	for _, c := range []struct {
		what   string
		code   int
		user   string
		form   url.Values
		header []string
	}{
		{"no credentials", 401, "", yes, nil},
		{"no token", 403, "alice", yes, nil},
		{"bob's token as alice", 403, "alice", yes, []string{"X-CSRF-Token", bob}},
		{"another site's page, with the token", 403, "alice", yes, []string{"X-CSRF-Token", alice, "Origin", "http://evil.example"}},
		{"a cross-site fetch", 403, "alice", yes, []string{"X-CSRF-Token", alice, "Sec-Fetch-Site", "cross-site"}},
		{"no confirmation", 400, "alice", nil, []string{"X-CSRF-Token", alice}},
		{"an unknown action", 404, "alice", yes, []string{"X-CSRF-Token", alice}},
	} {
		path := stop
		if c.what == "an unknown action" {
			path = "/api/v1/containers/" + id + "/actions/rm"
		}
		if code, body := call(http.MethodPost, path, c.user, c.form, c.header...); code != c.code {
			t.Errorf("%s: %d, want %d: %s", c.what, code, c.code, body)
		}
		if s := state(); s != "running" {
			t.Fatalf("after %s the container is %s", c.what, s)
		}
	}
	if code, _ := call(http.MethodGet, stop, "alice", nil); code != http.StatusMethodNotAllowed {
		t.Errorf("a GET of an action: %d, want 405", code)
	}
	// The engine does each, in turn.
	for _, step := range []struct{ action, want string }{{"stop", "exited"}, {"start", "running"}, {"restart", "running"}, {"kill", "exited"}, {"start", "running"}} {
		waitFor(t, "act-target in serve's round before "+step.action, 20*time.Second, func() bool {
			code, _ := call(http.MethodGet, "/api/v1/containers/"+id, "alice", nil)
			return code == 200
		})
		code, body := call(http.MethodPost, "/api/v1/containers/"+id[:12]+"/actions/"+step.action, "alice", yes, "X-CSRF-Token", alice)
		if code != 200 || !strings.Contains(body, `"result":"done"`) {
			t.Fatalf("%s: %d %s", step.action, code, body)
		}
		waitFor(t, "act-target "+step.want+" after "+step.action, 20*time.Second, func() bool { return state() == step.want })
	}
	for _, action := range []string{"stop", "start", "restart", "kill"} {
		if !strings.Contains(p.log(), `msg="Container action"`) || !strings.Contains(p.log(), "who=user:alice from=127.0.0.1:") ||
			!strings.Contains(p.log(), "action="+action+" container=act-target id="+id) {
			t.Errorf("no audit line for %s:\n%s", action, p.log())
		}
	}
	if strings.Contains(p.log(), "alice-pw") || strings.Contains(p.log(), alice) {
		t.Error("the log holds a password or a token")
	}

	// In a browser logged in as alice.
	br := newBrowser(t)
	br.header("Authorization", auth("alice"))
	var done string
	br.do("the container page", chromedp.Navigate(base+"/containers/"+id), chromedp.WaitVisible(chromedp.CSS(`#action-stop`)),
		chromedp.Click(chromedp.CSS(`#action-stop`)), chromedp.Sleep(time.Second))
	if s := state(); s != "running" {
		t.Fatalf("stop without its box ticked: the container is %s", s)
	}
	br.do("stop, confirmed", chromedp.Click(chromedp.CSS(`#actions form:has(#action-stop) input[name=confirm]`)),
		chromedp.Click(chromedp.CSS(`#action-stop`)), chromedp.WaitVisible(chromedp.CSS(`#action-done`)),
		br.eval(`document.getElementById('action-done').textContent`, &done))
	if done != "stop: done" || state() != "exited" {
		t.Errorf("stop from the page: %q, the container is %s", done, state())
	}
	br.screenshot("actions.png")
	call(http.MethodPost, "/api/v1/containers/"+id+"/actions/start", "alice", nil, "X-CSRF-Token", alice)
	waitFor(t, "act-target running again", 20*time.Second, func() bool { return state() == "running" })
	waitFor(t, "act-target in serve's round", 20*time.Second, func() bool {
		code, body := call(http.MethodGet, "/api/v1/containers/"+id, "alice", nil)
		return code == 200 && strings.Contains(body, `"state":"running"`)
	})

	// Another site's page posts a form to serve as soon as it loads, with
	// everything but the token; the browser sends alice's login along.
	evil, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	evilSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form method="post" action="%s"><input name="confirm" value="yes"><input name="csrf_token" value="guess"></form><script>document.forms[0].submit()</script>`,
			base+"/api/v1/containers/"+id+"/actions/kill")
	})}
	go evilSrv.Serve(evil)
	t.Cleanup(func() { evilSrv.Close() })
	var landed string
	br.do("another site's page", chromedp.Navigate("http://localhost:"+fmt.Sprint(evil.Addr().(*net.TCPAddr).Port)+"/"),
		chromedp.Sleep(2*time.Second), br.poll(`location.href.includes('/actions/kill')`), br.eval(`document.body.innerText`, &landed))
	if !strings.Contains(landed, "another site") || state() != "running" {
		t.Errorf("a cross-site form post: the page shows %q, the container is %s", landed, state())
	}
	if n := strings.Count(p.log(), "action=kill"); n != 1 {
		t.Errorf("%d kills said, want the one of the API: the cross-site post reached the engine:\n%s", n, p.log())
	}
	if n := br.dialogs.Load(); n != 0 {
		t.Errorf("%d dialogs opened", n)
	}
}
