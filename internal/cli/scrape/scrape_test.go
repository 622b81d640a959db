package scrape

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/cli/cmdtest"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
)

const thingsBody = `# HELP up_things Things.
# TYPE up_things gauge
up_things{path="C:\\dir",quote="say \"hi\"",nl="a\nb"} 1
up_things{path="nan"} NaN
up_things{path="pinf"} +Inf
up_things{path="minf"} -Inf
`

// newServer starts an HTTP server on 127.0.0.1 with the handlers the scrape
// tests need, each a behaviour a real exporter or proxy may show.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write([]byte(thingsBody))
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			http.Error(w, "gzip expected", http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		gz.Write([]byte(thingsBody))
		gz.Close()
	})
	mux.HandleFunc("/basic", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret-pass" {
			w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(thingsBody))
	})
	mux.HandleFunc("/bearer", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-123" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(thingsBody))
	})
	mux.HandleFunc("/header", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Tenant") != "blue" {
			http.Error(w, "no tenant", http.StatusForbidden)
			return
		}
		w.Write([]byte(thingsBody))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/metrics", http.StatusFound)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select { // bounded: never longer than the test needs
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		// 1 GiB of valid samples, written until the client stops reading.
		line := []byte("huge_series_with_a_longish_name{label=\"some value\"} 12345\n")
		chunk := []byte(strings.Repeat(string(line), 1<<14))
		for sent := 0; sent < 1<<30; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("this is {not metrics\n"))
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html><body>Oops, a login page</body></html>\n"))
	})
	mux.HandleFunc("/cut", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Write([]byte(thingsBody))
		hj, _ := w.(http.Hijacker)
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
	})
	mux.HandleFunc("/dups", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("# TYPE d counter\nd{a=\"1\"} 1\nd{a=\"1\"} 2\nd{a=\"2\"} 3\n"))
	})
	mux.HandleFunc("/openmetrics", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept"), "application/openmetrics-text") {
			http.Error(w, "bad accept", http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
		w.Write([]byte("# TYPE c counter\n# HELP c A counter.\nc_total 5 # {trace_id=\"abc\"} 1 1.5\nc_created 1.7e9\n# EOF\n"))
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = listenLoopback(t)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type targetJSON struct {
	Target   string `json:"target"`
	Up       bool   `json:"up"`
	Error    string `json:"error"`
	Bytes    int64  `json:"bytes"`
	Format   string `json:"format"`
	Series   int    `json:"series"`
	Warnings []string
	Families []struct {
		Name    string `json:"name"`
		Type    string `json:"type"`
		Metrics []struct {
			Labels    map[string]string `json:"labels"`
			Value     any               `json:"value"`
			Created   float64           `json:"created"`
			Exemplars []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"metrics"`
	} `json:"families"`
}

func scrapeJSON(t *testing.T, args ...string) ([]targetJSON, string, int) {
	t.Helper()
	out, stderr, code := execute(t, nil, append([]string{"-o", "json"}, args...)...)
	var res []targetJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not JSON (%v): %q, stderr %q", err, out, stderr)
	}
	return res, stderr, code
}

func TestScrapeAgainstLocalServer(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	pass := writeFile(t, dir, "pass", "s3cret-pass\n")
	wrong := writeFile(t, dir, "wrong", "nope")
	token := writeFile(t, dir, "token", "tok-123")

	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		up      bool
		errText string
	}{
		{"plain", []string{srv.URL + "/metrics"}, 0, true, ""},
		{"host:port", []string{strings.TrimPrefix(srv.URL, "http://")}, 0, true, ""},
		{"gzip", []string{srv.URL + "/gzip"}, 0, true, ""},
		{"basic auth", []string{"--basic-auth-user", "alice", "--basic-auth-password-file", pass, srv.URL + "/basic"}, 0, true, ""},
		{"basic auth wrong", []string{"--basic-auth-user", "alice", "--basic-auth-password-file", wrong, srv.URL + "/basic"}, 1, false, "answered HTTP 401 Unauthorized"},
		{"bearer", []string{"--bearer-token-file", token, srv.URL + "/bearer"}, 0, true, ""},
		{"bearer missing", []string{srv.URL + "/bearer"}, 1, false, "401"},
		{"header", []string{"--header", "X-Tenant: blue", srv.URL + "/header"}, 0, true, ""},
		{"redirect", []string{srv.URL + "/redirect"}, 0, true, ""},
		{"timeout", []string{"--timeout", "300ms", srv.URL + "/hang"}, 1, false, "did not answer within the 300ms timeout"},
		{"body limit", []string{"--body-size-limit", "1MiB", srv.URL + "/huge"}, 1, false, "body_size_limit of 1 MiB exceeded"},
		{"default limit", []string{srv.URL + "/huge"}, 1, false, "body_size_limit of 64 MiB exceeded"},
		{"garbage", []string{srv.URL + "/garbage"}, 1, false, "parsing " + srv.URL + "/garbage as text: line 1"},
		{"html", []string{srv.URL + "/html"}, 1, false, srv.URL + "/html: unsupported content type \"text/html; charset=utf-8\""},
		{"cut mid-body", []string{srv.URL + "/cut"}, 1, false, "closed before the whole body arrived"},
		{"not found", []string{srv.URL + "/nope"}, 1, false, "404"},
		{"openmetrics", []string{srv.URL + "/openmetrics"}, 0, true, ""},
		{"one of two fails", []string{srv.URL + "/metrics", srv.URL + "/garbage"}, 3, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A hanging target is cut by --timeout: the "timeout" case's
			// error says so (no wall-clock assertion, which a busy
			// machine would break).
			res, stderr, code := scrapeJSON(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			if res[0].Up != tc.up {
				t.Errorf("up=%v, want %v (error %q)", res[0].Up, tc.up, res[0].Error)
			}
			if tc.errText != "" && (!strings.Contains(res[0].Error, tc.errText) || !strings.Contains(stderr, tc.errText)) {
				t.Errorf("error %q / stderr %q should say %q", res[0].Error, stderr, tc.errText)
			}
			if tc.name == "timeout" && !strings.Contains(stderr, "(raise --timeout)") {
				t.Errorf("stderr %q should name the flag to raise", stderr)
			}
			for _, s := range []string{"s3cret-pass", "tok-123"} {
				if strings.Contains(stderr, s) || strings.Contains(res[0].Error, s) {
					t.Errorf("a secret leaked into the output")
				}
			}
		})
	}
	t.Run("values and escaping", func(t *testing.T) {
		res, _, _ := scrapeJSON(t, srv.URL+"/metrics")
		ms := res[0].Families[0].Metrics
		if len(ms) != 4 || ms[0].Labels["path"] != `C:\dir` || ms[0].Labels["quote"] != `say "hi"` || ms[0].Labels["nl"] != "a\nb" {
			t.Fatalf("labels not unescaped: %+v", ms)
		}
		if ms[1].Value != "NaN" || ms[2].Value != "+Inf" || ms[3].Value != "-Inf" {
			t.Errorf("special values: %v %v %v", ms[1].Value, ms[2].Value, ms[3].Value)
		}
	})
	t.Run("openmetrics exemplar and created", func(t *testing.T) {
		res, _, _ := scrapeJSON(t, srv.URL+"/openmetrics")
		f := res[0].Families[0]
		if res[0].Format != "openmetrics" || f.Name != "c_total" || f.Metrics[0].Created != 1.7e9 || f.Metrics[0].Exemplars[0].Labels["trace_id"] != "abc" {
			t.Fatalf("got %+v", res[0])
		}
	})
	t.Run("duplicates", func(t *testing.T) {
		res, stderr, code := scrapeJSON(t, srv.URL+"/dups")
		if code != 0 || len(res[0].Families[0].Metrics) != 2 || res[0].Families[0].Metrics[0].Value != 1.0 {
			t.Fatalf("exit %d, %+v", code, res[0])
		}
		if !strings.Contains(stderr, `duplicate series d{a="1"} ignored`) {
			t.Errorf("no warning on stderr: %q", stderr)
		}
	})
}

// TestScrapeTLS checks a target that requires a client certificate signed
// by its CA, and that the CA flags verify the server.
func TestScrapeTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t)
	srvCert := issue(t, ca, caKey, "127.0.0.1", false)
	cliCert := issue(t, ca, caKey, "monctl-client", true)
	caFile := writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})))
	certFile := writeFile(t, dir, "client.pem", string(cliCert.certPEM))
	keyFile := writeFile(t, dir, "client.key", string(cliCert.keyPEM))

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	var served atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Write([]byte(thingsBody))
	}))
	srv.Listener = listenLoopback(t)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	res, stderr, code := scrapeJSON(t, "--ca-file", caFile, "--cert-file", certFile, "--key-file", keyFile, srv.URL)
	if code != 0 || !res[0].Up {
		t.Fatalf("with client cert: exit %d, %q", code, stderr)
	}
	_, stderr, code = scrapeJSON(t, "--ca-file", caFile, srv.URL)
	if code != 1 || !strings.Contains(stderr, "certificate") {
		t.Errorf("without client cert: exit %d, %q", code, stderr)
	}
	_, stderr, code = scrapeJSON(t, "--cert-file", certFile, "--key-file", keyFile, srv.URL)
	if code != 1 || !strings.Contains(stderr, "certificate signed by unknown authority") {
		t.Errorf("without CA: exit %d, %q", code, stderr)
	}
	if served.Load() != 1 {
		t.Errorf("server answered %d scrapes, want 1", served.Load())
	}
}

type issued struct {
	pair            tls.Certificate
	certPEM, keyPEM []byte
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "monctl test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return ca, key
}

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, client bool) issued {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.IPAddresses = []net.IP{net.ParseIP(name)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	out := issued{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}
	out.pair, err = tls.X509KeyPair(out.certPEM, out.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStreamedJSONEqualsModel: the document streamed target by target
// (several at once, written in argument order) is the one the whole
// model would give, failed targets and --match included, for -o json
// and jsonl; only the scrape durations differ between two scrapes.
func TestStreamedJSONEqualsModel(t *testing.T) {
	fixture := filepath.Join("..", "testdata", "sample.prom")
	bad := filepath.Join(t.TempDir(), "bad.prom")
	if err := os.WriteFile(bad, []byte("ok 1\nbad{ 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{fixture, bad, fixture, fixture, bad, fixture, "--match", `{__name__=~"ok|.+_total"}`, "--concurrency", "2"}
	var targets []exposition.Target
	for _, a := range args[:6] {
		tg, err := exposition.ParseTargetArg(a)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}
	sel, err := exposition.NewSelector([]string{`{__name__=~"ok|.+_total"}`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	results := (&exposition.Scraper{}).ScrapeAll(t.Context(), targets, 2)
	for i := range results {
		results[i].Families = sel.Filter(results[i].Families)
	}
	withoutDurations := func(doc string) string {
		t.Helper()
		var v []map[string]any
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatalf("%v:\n%s", err, doc)
		}
		for _, o := range v {
			delete(o, "scrape_duration_seconds")
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	var model bytes.Buffer
	jw := output.NewJSONWriter(&model, false)
	writeJSON(jw, results)
	jw.Flush()
	out, errOut, code := execute(t, nil, append([]string{"-o", "json"}, args...)...)
	if code != cmdutil.ExitPartial || strings.Count(errOut, "bad.prom") != 2 || !strings.HasSuffix(out, "]\n") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if got, want := withoutDurations(out), withoutDurations(model.String()); got != want {
		t.Errorf("-o json streamed:\n%s\nthe model's:\n%s", got, want)
	}
	model.Reset()
	jw = output.NewJSONWriter(&model, false)
	for i := range results {
		for fi := range results[i].Families {
			writeFamilyLines(jw, results[i].Target, &results[i].Families[fi])
		}
		writeErrorLine(jw, &results[i])
	}
	jw.Flush()
	if out, _, _ := execute(t, nil, append([]string{"-o", "jsonl"}, args...)...); out != model.String() {
		t.Errorf("-o jsonl streamed:\n%s\nthe model's:\n%s", out, model.String())
	}
}

// execute runs 'monctl scrape' from its flags, piped, and prints its error
// as monctl does.
func execute(t *testing.T, stdin io.Reader, args ...string) (string, string, int) {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	// --rules keep their state under XDG_STATE_HOME: the test's own.
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	var out, errOut bytes.Buffer
	err := cmdtest.Execute(NewCmd(cmdutil.NewFactory(cmdutil.IOStreams{In: stdin, Out: &out, ErrOut: &errOut})), args...)
	var ee *cmdutil.ExitError
	if errors.As(err, &ee) && ee.Err != nil {
		fmt.Fprintf(&errOut, "monctl: %v\n", ee.Err)
	}
	return out.String(), errOut.String(), cmdutil.CodeOf(err)
}

// TestGuessNeverBreaksValidInput: item 11, through the CLI, with
// Prometheus' own test data shape (text that ends in "# EOF").
func TestGuessNeverBreaksValidInput(t *testing.T) {
	body := "# HELP a_total A counter.\n# TYPE a_total counter\na_total 1\n# TYPE a_total_created gauge\na_total_created 5\n# EOF\n"
	p := writeFile(t, t.TempDir(), "promtestdata.txt", body)
	res, errOut, code := scrapeJSON(t, p)
	if code != 0 || len(res) != 1 || res[0].Format != "text" || len(res[0].Families) != 2 {
		t.Errorf("exit %d, %+v, stderr %q", code, res, errOut)
	}
	if _, errOut, code := execute(t, nil, "--content-type", "application/openmetrics-text", p); code != 1 || !strings.Contains(errOut, "openmetrics") {
		t.Errorf("--content-type still decides: exit %d, %q", code, errOut)
	}
}
