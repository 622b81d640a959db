package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/monctl/monctl/pkg/containers"
)

// actionTimeout bounds one action: stop and restart wait for the
// container's stop timeout (10 s by default) before they kill it.
const actionTimeout = 60 * time.Second

// login is who made the request, as the server authenticated them: the
// basic auth user, or the TLS client certificate's subject; "" when the
// server asks for neither (loopback only).
func login(r *http.Request) string {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return "cert:" + r.TLS.PeerCertificates[0].Subject.String()
	}
	if user, _, ok := r.BasicAuth(); ok {
		return "user:" + user
	}
	return ""
}

// csrfToken is the token of a login: a page of ours holds it, a page of
// another site cannot read it, and it is worth nothing to another login.
func (d *Dashboard) csrfToken(r *http.Request) string {
	m := hmac.New(sha256.New, d.actionKey)
	m.Write([]byte("monctl actions\x00" + login(r)))
	return hex.EncodeToString(m.Sum(nil))
}

// crossSite tells whether the browser says the request comes from a page
// of another site: Sec-Fetch-Site where the browser sends it, else an
// Origin that is not ours. (Our pages' Referrer-Policy no-referrer makes
// their own form posts' Origin "null", which says nothing.) Refused
// whatever it carries; the token is what a browser without these
// headers is refused for.
func crossSite(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site != "same-origin" && site != "none"
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		return err != nil || !strings.EqualFold(u.Host, r.Host)
	}
	return false
}

// actionToken answers GET /api/v1/actions/token: the login's token, for
// a script (a page of another site cannot read this answer).
func (d *Dashboard) actionToken(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Token   string   `json:"token"`
		Actions []string `json:"actions"`
	}{d.csrfToken(r), containers.Actions()})
}

// act answers POST /api/v1/containers/{id}/actions/{action}: start,
// stop, restart or kill a container shown, for a request of our own
// origin that carries its login's token (X-CSRF-Token, or the form's
// csrf_token) and, for those that end what the container does,
// confirm=yes. Each is said on the audit log: who, from where, what, to
// which container, and how it went.
func (d *Dashboard) act(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	if !containers.IsAction(action) {
		apiError(w, http.StatusNotFound, "no action "+action+": want start, stop, restart or kill")
		return
	}
	if crossSite(r) {
		apiError(w, http.StatusForbidden, "a request from another site's page is refused")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		apiError(w, http.StatusBadRequest, "reading the form: "+err.Error())
		return
	}
	token := r.Header.Get("X-CSRF-Token")
	if token == "" {
		token = r.PostForm.Get("csrf_token")
	}
	if !hmac.Equal([]byte(token), []byte(d.csrfToken(r))) {
		apiError(w, http.StatusForbidden, "no valid CSRF token: send the one of the container's page, or of GET /api/v1/actions/token, as X-CSRF-Token")
		return
	}
	c, code, msg := find(d.snapshot(), r.PathValue("id"))
	if c == nil {
		apiError(w, code, msg)
		return
	}
	if containers.Destructive(action) && r.PostForm.Get("confirm") != "yes" {
		apiError(w, http.StatusBadRequest, action+" ends what "+c.Name+" is doing: confirm it with confirm=yes")
		return
	}
	eng := d.engine(c.Host)
	if eng == nil {
		apiError(w, http.StatusNotFound, c.Name+" runs on "+c.Host+": act on it there")
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), actionTimeout)
	defer cancel()
	err := eng.Act(ctx, c.ID, action)
	who := login(r)
	if who == "" {
		who = "anonymous (loopback)"
	}
	result := "done"
	if err != nil {
		result = oneLine(err.Error())
	}
	d.opts.Audit.Info("Container action", "who", who, "from", r.RemoteAddr, "action", action, "container", c.Name, "id", c.ID, "host", c.Host, "result", result)
	if err != nil {
		apiError(w, http.StatusBadGateway, result)
		return
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") && strings.Contains(r.Header.Get("Accept"), "text/html") {
		// The page's form: back to the page, which says what was done.
		http.Redirect(w, r, "/containers/"+c.ID+"?done="+action, http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Action string `json:"action"`
		Result string `json:"result"`
	}{c.ID, c.Name, action, result})
}
