package containers

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeEngine answers the few Engine API calls the watcher makes; the real
// engine is in the e2e tests, this one makes rare cases happen on cue.
func fakeEngine(t *testing.T, apiVersion string, routes map[string]http.HandlerFunc) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("API-Version", apiVersion)
		w.Header().Set("OSType", "linux")
		w.Write([]byte("OK"))
	})
	if routes["/version"] == nil {
		mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"Version":"fake","ApiVersion":"` + apiVersion + `","Os":"linux"}`))
		})
	}
	for p, h := range routes {
		mux.HandleFunc(p, h)
	}
	// Routes are given without the /v1.xx prefix the client puts first.
	strip := regexp.MustCompile(`^/v[0-9.]+/`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = strip.ReplaceAllString(r.URL.Path, "/")
		mux.ServeHTTP(w, r)
	})) // on 127.0.0.1
	t.Cleanup(srv.Close)
	return "tcp://" + srv.Listener.Addr().String()
}

func connectErr(t *testing.T, host string) *ConnectError {
	t.Helper()
	_, err := Connect(context.Background(), host, 4)
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: got %v, want a ConnectError", host, err)
	}
	if !strings.Contains(ce.Error(), host) && !strings.Contains(ce.Error(), strings.TrimPrefix(host, "tcp://")) {
		t.Errorf("error does not name the address %s: %v", host, ce)
	}
	return ce
}

func TestConnectErrorsSayWhy(t *testing.T) {
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_CERT_PATH", "")
	sock := filepath.Join(t.TempDir(), "docker.sock")
	if ce := connectErr(t, "unix://"+sock); !strings.Contains(ce.Cause, "no such socket") || !strings.Contains(ce.Hint, "dockerd running") {
		t.Errorf("missing socket: %v", ce)
	}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	if ce := connectErr(t, "tcp://"+addr); ce.Cause != "connection refused" {
		t.Errorf("closed port: %v", ce)
	}

	podman3 := fakeEngine(t, "1.40", map[string]http.HandlerFunc{"/version": func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"Version":"3.4.4","ApiVersion":"1.40","Os":"linux","Components":[{"Name":"Podman Engine","Version":"3.4.4"}]}`))
	}})
	if ce := connectErr(t, podman3); !strings.Contains(ce.Cause, "Podman 3.4.4 speaks API 1.40") || !strings.Contains(ce.Hint, "Podman 4.0") {
		t.Errorf("Podman 3: %v", ce)
	}
	old := fakeEngine(t, "1.40", nil)
	if ce := connectErr(t, old); !strings.Contains(ce.Cause, "API too old") || !strings.Contains(ce.Hint, "1.41") {
		t.Errorf("old engine: %v", ce)
	}

	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are the point
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	tlsHost := "tcp://" + tlsSrv.Listener.Addr().String()
	if ce := connectErr(t, tlsHost); !strings.Contains(ce.Cause, "TLS") {
		t.Errorf("plain HTTP to a TLS engine: %v", ce)
	}
	// With TLS on, but a CA that did not sign the engine's certificate.
	t.Setenv("DOCKER_TLS_VERIFY", "1")
	t.Setenv("DOCKER_CERT_PATH", writeStrangerCerts(t))
	if ce := connectErr(t, tlsHost); !strings.Contains(ce.Cause, "TLS failure") || !strings.Contains(ce.Hint, "DOCKER_CERT_PATH") {
		t.Errorf("unknown CA: %v", ce)
	}
}

// writeStrangerCerts writes ca.pem, cert.pem and key.pem of a CA that no
// test server uses.
func writeStrangerCerts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stranger"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for name, b := range map[string][]byte{
		"ca.pem": certPEM, "cert.pem": certPEM,
		"key.pem": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestSampleDropsContainersRemovedBeforeTheirStats: the list names two
// containers, one is gone by the time its stats are asked for. The
// snapshot carries the other, with CPU % from two samples.
func TestSampleDropsContainersRemovedBeforeTheirStats(t *testing.T) {
	t.Setenv("DOCKER_TLS_VERIFY", "")
	var calls atomic.Int64
	stats := func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if q := r.URL.Query(); q.Get("one-shot") != "1" || q.Get("stream") != "0" {
			t.Errorf("stats asked with %s, want a one-shot sample, not a stream", r.URL.RawQuery)
		}
		s := map[string]any{
			"read":         time.Unix(1000+n, 0).UTC().Format(time.RFC3339Nano),
			"cpu_stats":    map[string]any{"cpu_usage": map[string]any{"total_usage": n * 5e8}, "system_cpu_usage": n * 2e9, "online_cpus": 2},
			"memory_stats": map[string]any{"usage": 100, "limit": 1000},
			"pids_stats":   map[string]any{"current": 1},
		}
		json.NewEncoder(w).Encode(s)
	}
	inspect := func(id string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"Id":"` + id + `","Name":"/` + id + `","State":{"Status":"running","StartedAt":"2026-01-01T00:00:00Z"},"Config":{"Image":"img"}}`))
		}
	}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"No such container: gone"}`))
	}
	host := fakeEngine(t, "1.41", map[string]http.HandlerFunc{
		"/events": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		},
		"/containers/json": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`[{"Id":"kept","Names":["/kept"],"State":"running"},{"Id":"gone","Names":["/gone"],"State":"running"}]`))
		},
		"/containers/kept/json":  inspect("kept"),
		"/containers/gone/json":  inspect("gone"),
		"/containers/kept/stats": stats,
		"/containers/gone/stats": notFound,
	})
	eng, err := Connect(context.Background(), host, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	// The fake engine's containers have no process here: their numbers
	// come from its stats endpoint, even where this host has cgroups.
	w, err := NewWatcher(eng, WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i, want := range []int{0, 1} {
		snap, err := w.Sample(context.Background())
		if err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if len(snap.Containers) != want {
			t.Fatalf("sample %d: %d containers, want %d: %+v", i, len(snap.Containers), want, snap.Containers)
		}
	}
	snap, _ := w.Sample(context.Background())
	if snap.Source != "api" {
		t.Errorf("stats source %q, want api", snap.Source)
	}
	c := snap.Containers[0]
	// 5e8 ns of CPU per 2e9 ns of system time on 2 CPUs: 50%.
	if c.Name != "kept" || c.CPUPercent != 50 || c.MemoryPercent != 10 || c.Image != "img" {
		t.Errorf("got %+v", c)
	}
}

// TestDefaultHostFindsPodman: with nothing configured, Docker's socket,
// else the user's Podman socket, else the system's.
func TestDefaultHostFindsPodman(t *testing.T) {
	for _, c := range []struct {
		sockets []string
		xdg     string
		want    string
	}{
		{[]string{"/var/run/docker.sock", "/run/podman/podman.sock"}, "/run/user/1000", "unix:///var/run/docker.sock"},
		{[]string{"/run/user/1000/podman/podman.sock", "/run/podman/podman.sock"}, "/run/user/1000", "unix:///run/user/1000/podman/podman.sock"},
		{[]string{"/run/podman/podman.sock"}, "/run/user/1000", "unix:///run/podman/podman.sock"},
		{[]string{"/run/user/1000/podman/podman.sock"}, "", "unix:///var/run/docker.sock"},
		{nil, "/run/user/1000", "unix:///var/run/docker.sock"},
	} {
		got := defaultHost(c.xdg, func(p string) bool { return slices.Contains(c.sockets, p) })
		if got != c.want {
			t.Errorf("sockets %v, XDG_RUNTIME_DIR %q: %s, want %s", c.sockets, c.xdg, got, c.want)
		}
	}
}
