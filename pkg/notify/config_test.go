package notify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseAlerting(t *testing.T) {
	dir := t.TempDir()
	ams, err := ParseAlerting([]byte(`interval: 2s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:9093', 'am2:9093']
    - scheme: https
      path_prefix: /am/
      timeout: 3s
      basic_auth: {username: monctl, password_file: am.pass}
      static_configs: [{targets: ['am3:443']}]
`), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ams) != 3 || ams[0].URL != "http://127.0.0.1:9093" || ams[1].URL != "http://am2:9093" || ams[2].URL != "https://am3:443/am" {
		t.Fatalf("alertmanagers %+v", ams)
	}
	if ams[0].Timeout != 10*time.Second || ams[2].Timeout != 3*time.Second || !ams[0].HTTP.FollowRedirects {
		t.Errorf("timeouts %v, %v; want Prometheus's 10s default and 3s; defaults of http_config kept: %v", ams[0].Timeout, ams[2].Timeout, ams[0].HTTP.FollowRedirects)
	}
	if ba := ams[2].HTTP.BasicAuth; ba == nil || ba.Username != "monctl" || ba.PasswordFile != filepath.Join(dir, "am.pass") {
		t.Errorf("basic_auth %+v: its file relative to the config file's directory", ba)
	}
	for _, c := range []struct{ doc, want string }{
		{"alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['a:1']}]\n      api_version: v1\n", "API v2 only"},
		{"alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['a']}]\n", `target "a": want host:port`},
		{"alerting:\n  alertmanagers:\n    - scheme: ftp\n      static_configs: [{targets: ['a:1']}]\n", "scheme must be http or https"},
		{"alerting:\n  alertmanagers:\n    - {}\n", "no static_configs"},
		{"alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['a:1']}]\n      timout: 1s\n", "line 4: field timout not found"},
	} {
		if _, err := ParseAlerting([]byte(c.doc), dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one saying %q", c.doc, err, c.want)
		}
	}
}

// An Alertmanager's http_config is used: its basic auth reaches it.
func TestNotifierUsesHTTPConfig(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		select {
		case got <- user + ":" + pass:
		default:
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "am.pass"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ams, err := ParseAlerting([]byte("alerting:\n  alertmanagers:\n    - basic_auth: {username: monctl, password_file: am.pass}\n      static_configs: [{targets: ['"+strings.TrimPrefix(srv.URL, "http://")+"']}]\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{Alertmanagers: ams})
	if err != nil {
		t.Fatal(err)
	}
	n.Round(time.Now(), []Active{{Labels: map[string]string{"alertname": "A"}, Firing: true}})
	n.Close(context.Background())
	if s := <-got; s != "monctl:s3cret" {
		t.Errorf("basic auth %q, want monctl:s3cret", s)
	}
}
