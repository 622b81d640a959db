//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// testCA issues certificates for the web config tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "monctl test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a certificate and key for 127.0.0.1 (server) or a client
// into dir and returns their paths.
func (ca *testCA) issue(t *testing.T, dir, name string, usage x509.ExtKeyUsage) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certPath, keyPath
}

// TestServeWebConfig: basic auth with a bcrypt hash, TLS with a test CA,
// and client certificates, through exporter-toolkit's web config.
func TestServeWebConfig(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "app.prom")
	os.WriteFile(target, []byte("# TYPE app_up gauge\napp_up 1\n"), 0o600)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t)
	caPath := filepath.Join(dir, "ca.crt")
	os.WriteFile(caPath, ca.pem, 0o600)
	serverCert, serverKey := ca.issue(t, dir, "server", x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := ca.issue(t, dir, "client", x509.ExtKeyUsageClientAuth)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	serve := func(webConfig string) string {
		return startServe(t, nil, "--containers=false", "--target", target, "--web.config.file", webConfig).addr
	}
	status := func(c *http.Client, u, user, pass string) (int, error) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	t.Run("basic auth", func(t *testing.T) {
		addr := serve(write("auth.yml", "basic_auth_users:\n  alice: "+string(hash)+"\n"))
		u := "http://" + addr + "/metrics"
		for _, tc := range []struct {
			user, pass string
			want       int
		}{{"", "", 401}, {"alice", "wrong", 401}, {"bob", "s3cret", 401}, {"alice", "s3cret", 200}} {
			if got, err := status(http.DefaultClient, u, tc.user, tc.pass); err != nil || got != tc.want {
				t.Errorf("user %q password %q: %d %v, want %d", tc.user, tc.pass, got, err, tc.want)
			}
		}
	})

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	t.Run("TLS", func(t *testing.T) {
		addr := serve(write("tls.yml", "tls_server_config:\n  cert_file: "+serverCert+"\n  key_file: "+serverKey+"\n"))
		if got, err := status(trusting, "https://"+addr+"/metrics", "", ""); err != nil || got != 200 {
			t.Errorf("with the test CA: %d %v", got, err)
		}
		if _, err := status(http.DefaultClient, "https://"+addr+"/metrics", "", ""); err == nil {
			t.Error("a client that does not know the CA got through")
		}
		if got, err := status(http.DefaultClient, "http://"+addr+"/metrics", "", ""); err == nil && got == 200 {
			t.Error("plain HTTP got metrics from a TLS listener")
		}
	})

	t.Run("client certificate required", func(t *testing.T) {
		addr := serve(write("mtls.yml", "tls_server_config:\n  cert_file: "+serverCert+"\n  key_file: "+serverKey+
			"\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: "+caPath+"\n"))
		if _, err := status(trusting, "https://"+addr+"/metrics", "", ""); err == nil {
			t.Error("a client without a certificate got through")
		}
		pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
		if err != nil {
			t.Fatal(err)
		}
		withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}}
		if got, err := status(withCert, "https://"+addr+"/metrics", "", ""); err != nil || got != 200 {
			t.Errorf("with a client certificate: %d %v", got, err)
		}
	})
}
