package cli

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestEveryTargetSourceFollowsRedirects: item 15 — a target is built in
// one place with Prometheus' defaults, whatever names it.
func TestEveryTargetSourceFollowsRedirects(t *testing.T) {
	isolateConfig(t)
	final := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "redirected_ok 1\n")
	}))
	defer final.Close()
	redirect := httptest.NewServer(http.RedirectHandler(final.URL+"/metrics", http.StatusFound))
	defer redirect.Close()
	dir := t.TempDir()
	scalar := writeFile(t, dir, "scalar.yaml", "targets:\n  - "+redirect.URL+"/metrics\n")
	mapping := writeFile(t, dir, "mapping.yaml", "targets:\n  - url: "+redirect.URL+"/metrics\n    name: r\n")

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"argument", []string{"scrape", redirect.URL + "/metrics"}},
		{"config scalar", []string{"--config", scalar, "scrape"}},
		{"config mapping without http_config", []string{"--config", mapping, "scrape"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, append(tc.args, "-o", "prom")...)
			if code != 0 || !strings.Contains(out, "redirected_ok 1") {
				t.Errorf("exit %d, out %q, stderr %q", code, out, errOut)
			}
		})
	}
	t.Run("serve --target", func(t *testing.T) {
		addr := freeAddr(t)
		done := make(chan string, 1)
		go func() {
			_, errOut, _ := runCLI(t, nil, "serve", "--once", "--once-timeout", "20s", "--containers=false", "--target", redirect.URL+"/metrics", "--web.listen-address", addr)
			done <- errOut
		}()
		var body string
		waitUntil(t, 10*time.Second, func() bool {
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				return false
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			return true
		})
		if !strings.Contains(body, "redirected_ok{target=") || !strings.Contains(body, "monctl_target_up{target=") || strings.Contains(body, "} 0\nmonctl_target_up") {
			t.Errorf("serve did not follow the redirect:\n%s", body)
		}
		<-done
	})
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitUntil(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHeadersStayWithTheirHost: item 16 — a header of the user's is not
// sent to the host a target redirects to.
func TestHeadersStayWithTheirHost(t *testing.T) {
	isolateConfig(t)
	seen := make(chan string, 2)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- "other:" + r.Header.Get("X-Api-Key")
		io.WriteString(w, "a 1\n")
	}))
	defer other.Close()
	// Another host: the same server under another name (localhost vs
	// 127.0.0.1), so that the redirect crosses hosts on loopback only.
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- "first:" + r.Header.Get("X-Api-Key")
		http.Redirect(w, r, otherURL+"/metrics", http.StatusFound)
	}))
	defer first.Close()
	_, errOut, code := runCLI(t, nil, "scrape", "--header", "X-Api-Key: s3cr3t", first.URL+"/metrics")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := <-seen; got != "first:s3cr3t" {
		t.Errorf("the target itself got %q", got)
	}
	if got := <-seen; got != "other:" {
		t.Errorf("the host redirected to got the key: %q", got)
	}
}

// TestNoSecretInMessages: item 17.
func TestNoSecretInMessages(t *testing.T) {
	isolateConfig(t)
	for _, args := range [][]string{
		{"scrape", "--header", "Authorization Bearer s3cr3t", "http://127.0.0.1:1/metrics"},
		{"scrape", "--header", "X-Token=s3cr3t", "http://127.0.0.1:1/metrics"},
		{"scrape", "http://admin:s3cr3t@[::1"},
		{"scrape", "http://admin:s3cr3t@127.0.0.1:1/metrics"},
		{"serve", "--containers=false", "--target", "http://admin:s3cr3t@[::1"},
	} {
		_, errOut, code := runCLI(t, nil, args...)
		if code == 0 || strings.Contains(errOut, "s3cr3t") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// TestEnvAndConfigValues: items 18 and 19.
func TestEnvAndConfigValues(t *testing.T) {
	isolateConfig(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "in.prom", "a{a=\"1\",b=\"x\"} 1\na{a=\"2\",b=\"y\"} 2\na{a=\"3\",b=\"x\"} 3\n")
	seen := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- fmt.Sprint(r.Header.Values("X-Tenant"))
		io.WriteString(w, "a 1\n")
	}))
	defer srv.Close()

	t.Run("selector with a comma from the environment", func(t *testing.T) {
		t.Setenv("MONCTL_SCRAPE_MATCH", `{a=~"1|2",b="x"}`)
		out, errOut, code := runCLI(t, nil, "scrape", "-o", "prom", file)
		if code != 0 || !strings.Contains(out, `a{a="1",b="x"} 1`) || strings.Contains(out, `a="2"`) || strings.Contains(out, `a="3"`) {
			t.Errorf("exit %d, out %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("two selectors from the environment, one per line", func(t *testing.T) {
		t.Setenv("MONCTL_SCRAPE_MATCH", "{a=\"1\"}\n{a=\"3\"}")
		out, _, _ := runCLI(t, nil, "scrape", "-o", "prom", file)
		if !strings.Contains(out, `a="1"`) || !strings.Contains(out, `a="3"`) || strings.Contains(out, `a="2"`) {
			t.Errorf("out %q", out)
		}
	})
	t.Run("scalar selector with a comma in the file", func(t *testing.T) {
		cfg := writeFile(t, dir, "m.yaml", "scrape:\n  match: '{a=~\"1|2\",b=\"x\"}'\n")
		out, errOut, code := runCLI(t, nil, "--config", cfg, "scrape", "-o", "prom", file)
		if code != 0 || strings.Contains(out, `a="2"`) || !strings.Contains(out, `a="1"`) {
			t.Errorf("exit %d, out %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("header with a comma from the environment", func(t *testing.T) {
		t.Setenv("MONCTL_SCRAPE_HEADER", "X-Tenant: blue, green")
		if _, errOut, code := runCLI(t, nil, "scrape", "-o", "prom", srv.URL); code != 0 {
			t.Fatal(errOut)
		}
		if got := <-seen; got != "[blue, green]" {
			t.Errorf("the target got X-Tenant %s, want one header 'blue, green'", got)
		}
	})
	t.Run("anchors and aliases", func(t *testing.T) {
		cfg := writeFile(t, dir, "a.yaml", "targets:\n  - url: "+srv.URL+"/x\n    name: x\n    http_config: &auth\n      basic_auth: {username: u, password: p}\n  - {url: "+srv.URL+"/y, name: y, http_config: *auth}\n")
		_, errOut, code := runCLI(t, nil, "--config", cfg, "scrape", "-o", "prom")
		if code != 0 {
			t.Errorf("exit %d: %s", code, errOut)
		}
		<-seen
		<-seen
	})
	t.Run("a config target not created yet does not block other scrapes", func(t *testing.T) {
		cfg := writeFile(t, dir, "later.yaml", "targets:\n  - "+filepath.Join(dir, "later.prom")+"\n")
		if _, errOut, code := runCLI(t, nil, "--config", cfg, "scrape", "-o", "prom", file); code != 0 {
			t.Errorf("exit %d: %s", code, errOut)
		}
		if _, errOut, code := runCLI(t, nil, "--config", cfg, "scrape"); code != 1 || !strings.Contains(errOut, "later.prom") {
			t.Errorf("scraping the missing file: exit %d, %s", code, errOut)
		}
	})
	t.Run("billion laughs", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("targets: &a0 [x]\n")
		for i := 1; i < 30; i++ {
			fmt.Fprintf(&b, "x%d: &a%d [*a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1)
		}
		cfg := writeFile(t, dir, "laughs.yaml", b.String())
		if _, errOut, code := runCLI(t, nil, "--config", cfg, "scrape", file); code != 2 {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
}

// TestValuesRejectedUpFront: items 20 and 21 — each with exit 2 before
// anything is scraped, and a message naming what was wrong.
func TestValuesRejectedUpFront(t *testing.T) {
	isolateConfig(t)
	dir := t.TempDir()
	var hits atomic.Int32 // the server's goroutine counts, the test reads
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "a 1\n")
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"negative timeout", nil, []string{"--timeout", "-1s"}, "--timeout must be positive"},
		{"zero timeout", nil, []string{"--timeout", "0"}, "--timeout must be positive"},
		{"negative concurrency", nil, []string{"--concurrency", "-5"}, "--concurrency must be at least 1"},
		{"absurd body size", nil, []string{"--body-size-limit", "1e30"}, "--body-size-limit"},
		{"negative limit", nil, []string{"--sample-limit", "-1"}, "--sample-limit"},
		{"template field", nil, []string{"--format", "{{.Nope}}"}, "--format"},
		{"missing bearer token file", nil, []string{"--bearer-token-file", filepath.Join(dir, "nope")}, "bearer_token_file"},
		{"output from the environment", map[string]string{"MONCTL_SCRAPE_OUTPUT": "bogus"}, nil, "MONCTL_SCRAPE_OUTPUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			hits.Store(0)
			_, errOut, code := runCLI(t, nil, append(append([]string{"scrape"}, tc.args...), srv.URL)...)
			if code != 2 || !strings.Contains(errOut, tc.want) || hits.Load() != 0 {
				t.Errorf("exit %d, %d scrapes, stderr %q; want exit 2 before any scrape, naming %q", code, hits.Load(), errOut, tc.want)
			}
		})
	}
	t.Run("text with a NUL byte is read as text", func(t *testing.T) {
		nul := writeFile(t, dir, "nul.prom", "a{x=\"\x00\"} 1\n")
		if out, errOut, code := runCLI(t, nil, "scrape", "-o", "prom", nul); code != 0 || !strings.Contains(out, "a{x=") {
			t.Errorf("exit %d, out %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("binary that is nothing names --content-type", func(t *testing.T) {
		bin := writeFile(t, dir, "bin", "\x00\x01\x02garbage")
		if _, errOut, code := runCLI(t, nil, "scrape", bin); code != 1 || !strings.Contains(errOut, "--content-type") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}

// TestZeroIsNotUnlimited: a size of 0 that would silently mean "no
// limit" is refused, and an error names only the flag that is wrong.
func TestZeroIsNotUnlimited(t *testing.T) {
	isolateConfig(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		args     []string
		want     string
		unwanted string
	}{
		{[]string{"logs", "--output-dir", dir, "--max-size", "0"}, "--max-size 0", "--max-files"},
		{[]string{"logs", "--output-dir", dir, "--max-size", "lots"}, "--max-size", "--max-files"},
		{[]string{"logs", "--output-dir", dir, "--max-files", "-1"}, "--max-files -1", "--max-size"},
		{[]string{"push", "--queue-size", "0", "--remote-write", "http://127.0.0.1:1/w", "-"}, "--queue-size 0", ""},
	} {
		_, errOut, code := runCLI(t, nil, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || (tc.unwanted != "" && strings.Contains(errOut, tc.unwanted)) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 naming %q alone", tc.args, code, errOut, tc.want)
		}
	}
	// docker's sizes: 200k is 200K, and the flag is taken.
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(dir, "no.sock"))
	if _, errOut, code := runCLI(t, nil, "logs", "--output-dir", dir, "--max-size", "200k"); code == 2 || strings.Contains(errOut, "--max-size") {
		t.Errorf("--max-size 200k: exit %d, stderr %q", code, errOut)
	}
}

// TestLogsOffersOnlyItsFormats: logs prints lines (table) or records
// (jsonl); help and completion offer those and validation takes no
// other, nor a --format it could not honour.
func TestLogsOffersOnlyItsFormats(t *testing.T) {
	isolateConfig(t)
	for _, f := range []string{"wide", "json", "csv", "yaml"} {
		if _, errOut, code := runCLI(t, nil, "logs", "-o", f); code != 2 || !strings.Contains(errOut, "want one of table, jsonl") {
			t.Errorf("logs -o %s: exit %d, %s", f, code, errOut)
		}
	}
	if _, errOut, code := runCLI(t, nil, "logs", "--format", "{{.Name}}"); code != 2 || !strings.Contains(errOut, "unknown flag: --format") {
		t.Errorf("logs --format: exit %d, %s", code, errOut)
	}
	if out, _, _ := runCLI(t, nil, "logs", "--help"); !strings.Contains(out, "output format: table|jsonl ") {
		t.Errorf("logs --help does not offer table|jsonl alone:\n%s", out)
	}
	if out, _, _ := runCLI(t, nil, "__complete", "logs", "-o", ""); !strings.HasPrefix(out, "table\njsonl\n:") {
		t.Errorf("completion of logs -o: %q", out)
	}
}
