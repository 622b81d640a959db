package dashboard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestActionsAreOptIn: without Actions no action endpoint exists; with
// it, a request refused for its site or token never reaches an engine,
// and the token is bound to the login.
func TestActionsAreOptIn(t *testing.T) {
	id := strings.Repeat("a", 64)
	post := func(d *Dashboard, header ...string) *http.Response {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/api/v1/containers/"+id+"/actions/stop", strings.NewReader("confirm=yes"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		d.Handler().ServeHTTP(w, req)
		return w.Result()
	}
	off := New(Options{})
	off.Record(collection(nil, stats(hostA, id, "web", 1, 1)))
	if resp := post(off); resp.StatusCode != http.StatusNotFound {
		t.Errorf("actions off: %d, want 404", resp.StatusCode)
	}
	on := New(Options{Actions: true})
	on.Record(collection(nil, stats(hostA, id, "web", 1, 1)))
	withUser := func(u string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.SetBasicAuth(u, "pw")
		return r
	}
	alice := on.csrfToken(withUser("alice"))
	if alice == on.csrfToken(withUser("bob")) || alice == New(Options{Actions: true}).csrfToken(withUser("alice")) {
		t.Error("a token is worth as much to another login or another serve")
	}
	for what, header := range map[string][]string{
		"no token":          {"Authorization", "Basic YWxpY2U6cHc="},
		"a cross-site page": {"Authorization", "Basic YWxpY2U6cHc=", "X-CSRF-Token", alice, "Sec-Fetch-Site", "cross-site"},
		"another origin":    {"Authorization", "Basic YWxpY2U6cHc=", "X-CSRF-Token", alice, "Origin", "http://evil.example"},
		"bob's token":       {"Authorization", "Basic YWxpY2U6cHc=", "X-CSRF-Token", on.csrfToken(withUser("bob"))},
	} {
		if resp := post(on, header...); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", what, resp.StatusCode)
		}
	}
	// The right token passes the checks; with no engine for the host
	// the container cannot be reached (404), which shows it got there.
	if resp := post(on, "Authorization", "Basic YWxpY2U6cHc=", "X-CSRF-Token", alice, "Origin", "null", "Sec-Fetch-Site", "same-origin"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("alice with her token: %d, want 404 (no engine)", resp.StatusCode)
	}
}
