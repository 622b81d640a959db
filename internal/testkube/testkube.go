// Package testkube runs the real Kubernetes API server of the e2e tests
// (docs/architecture.md, Tests): etcd and kube-apiserver built from the
// Go module proxy by 'make tools', on 127.0.0.1 only, with certificates
// and tokens of their own. There is no kubelet and no controller: the
// tests make objects through the API and set their status themselves.
package testkube

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/monctl/monctl/internal/testengine"
)

// The tokens the server takes: Admin is in system:masters; Limited is
// user "limited", with no rights until a test grants some.
const (
	AdminToken   = "monctl-e2e-admin-token"
	LimitedToken = "monctl-e2e-limited-token"
)

// Cluster is a running etcd and kube-apiserver.
type Cluster struct {
	Dir    string
	Server string // https://127.0.0.1:PORT
	// Kubeconfig is a kubeconfig file with two contexts: "admin" (the
	// current one) and "limited", each with its token.
	Kubeconfig string

	etcd, apiserver *exec.Cmd
	logs            lockedBuffer
	args            []string
}

// lockedBuffer takes the output of both servers at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start runs etcd and kube-apiserver (paths of the binaries) with their
// state in dir, and waits until the API server is ready.
func Start(dir, etcd, apiserver string) (*Cluster, error) {
	c := &Cluster{Dir: dir}
	certs := filepath.Join(dir, "certs")
	if err := testengine.TLSFiles(certs); err != nil {
		return nil, err
	}
	if err := serviceAccountKeys(certs); err != nil {
		return nil, err
	}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(AdminToken+",admin,1,\"system:masters\"\n"+LimitedToken+",limited,2\n"), 0o600); err != nil {
		return nil, err
	}
	ports := make([]int, 3)
	for i := range ports {
		p, err := testengine.FreeLoopbackPort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	c.etcd = exec.Command(etcd, "--name", "monctl-e2e", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL, "--initial-cluster", "monctl-e2e="+peerURL,
		"--log-level", "error")
	c.etcd.Stdout, c.etcd.Stderr = &c.logs, &c.logs
	if err := c.etcd.Start(); err != nil {
		return nil, err
	}
	if err := c.wait(etcdURL+"/health", nil); err != nil {
		c.Stop()
		return nil, fmt.Errorf("etcd: %w", err)
	}
	c.Server = fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	c.args = []string{"--etcd-servers", etcdURL, "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(ports[2]), "--cert-dir", filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file", filepath.Join(certs, "server-cert.pem"), "--tls-private-key-file", filepath.Join(certs, "server-key.pem"),
		"--token-auth-file", tokens, "--authorization-mode", "RBAC",
		"--service-account-key-file", filepath.Join(certs, "sa.pub"), "--service-account-signing-key-file", filepath.Join(certs, "sa.key"),
		"--service-account-issuer", "https://kubernetes.default.svc", "--disable-admission-plugins", "ServiceAccount",
		"--endpoint-reconciler-type", "none", "--service-cluster-ip-range", "10.96.0.0/24"}
	if err := c.startAPIServer(apiserver); err != nil {
		c.Stop()
		return nil, err
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, []byte(c.kubeconfig(filepath.Join(certs, "ca.pem"))), 0o600); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) startAPIServer(bin string) error {
	c.apiserver = exec.Command(bin, c.args...)
	c.apiserver.Stdout, c.apiserver.Stderr = &c.logs, &c.logs
	if err := c.apiserver.Start(); err != nil {
		return err
	}
	ca, err := os.ReadFile(filepath.Join(c.Dir, "certs", "ca.pem"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if err := c.wait(c.Server+"/readyz", client); err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	return nil
}

// kubeconfig is the test's kubeconfig: the cluster, and a context per
// token.
func (c *Cluster) kubeconfig(caFile string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    token: %s
- name: limited
  user:
    token: %s
contexts:
- name: admin
  context: {cluster: e2e, user: admin}
- name: limited
  context: {cluster: e2e, user: limited, namespace: team-a}
current-context: admin
`, c.Server, caFile, AdminToken, LimitedToken)
}

// wait polls url with client (nil: the default) until it answers 200.
func (c *Cluster) wait(url string, client *http.Client) error {
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within 60s:\n%s", url, c.logs.String())
}

// StopAPIServer stops the API server alone (etcd keeps the state), as an
// outage mid-watch; StartAPIServer starts it again on the same port.
func (c *Cluster) StopAPIServer() {
	stop(c.apiserver)
}

// StartAPIServer starts the API server again after StopAPIServer.
func (c *Cluster) StartAPIServer(bin string) error { return c.startAPIServer(bin) }

// Stop stops both.
func (c *Cluster) Stop() {
	stop(c.apiserver)
	stop(c.etcd)
}

func stop(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil || cmd.ProcessState != nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// serviceAccountKeys makes the key pair the API server signs and checks
// service-account tokens with (sa.key, sa.pub).
func serviceAccountKeys(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	return errors.Join(
		os.WriteFile(filepath.Join(dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600),
		os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600))
}

// Logs are what etcd and the API server said.
func (c *Cluster) Logs() string { return c.logs.String() }
