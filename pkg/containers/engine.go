// Package containers reads container stats from Docker engines: it lists
// containers, follows their events, samples their stats and turns the
// samples into the numbers docker stats shows (docs/architecture.md,
// Container numbers). It returns plain structs and never prints.
package containers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"

	"github.com/monctl/monctl/pkg/redact"
)

// MinAPIVersion is the oldest Engine API monctl talks to: the first with
// one-shot stats (Docker 20.10).
const MinAPIVersion = "1.41"

// Engine is a connection to one Docker engine.
type Engine struct {
	// Host is the engine's address as the user would write it, with
	// any password masked: it is what messages and labels show.
	Host          string
	OSType        string
	APIVersion    string
	ServerVersion string
	// Product is Docker or Podman (its Docker-compatible API).
	Product string
	// addr is the engine's address itself (a context's endpoint), for
	// finding out why it does not answer.
	addr string
	cli  *client.Client
}

// The engines monctl knows apart.
const (
	Docker = "Docker"
	Podman = "Podman"
)

// Connect opens a client the way the docker CLI does: DOCKER_HOST,
// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH and DOCKER_API_VERSION, with host
// (when not empty) in place of DOCKER_HOST, and negotiates the API version.
// conns bounds the idle connections kept for concurrent stats calls.
// An engine that does not answer gives a *ConnectError.
func Connect(ctx context.Context, host string, conns int) (*Engine, error) {
	// Every tick makes one call per container at once; keeping that many
	// connections open spares both sides a new one per call. The docker
	// client wraps its transport for tracing, so this one is set up
	// before it does, and the host is then applied to it in any case.
	host = hostOrDefault(host)
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 90 * time.Second}
	opts := []client.Opt{client.WithHTTPClient(&http.Client{Transport: tr}), client.FromEnv, client.WithHost(host), client.WithAPIVersionNegotiation()}
	// ssh://[user@]host[:port][/socket] runs the system ssh and 'docker
	// system dial-stdio' on the far side, through the docker CLI's own
	// helper, as docker -H ssh://... does.
	helper, err := connhelper.GetConnectionHelper(host)
	if err != nil {
		return nil, &ConnectError{Host: host, Cause: err.Error(), Hint: "write it as ssh://[user@]host[:port]", Err: err}
	}
	if helper != nil {
		opts = append(opts, client.WithHost(helper.Host), client.WithDialContext(helper.Dialer))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, &ConnectError{Host: host, Cause: err.Error(), Hint: "check DOCKER_HOST and DOCKER_CERT_PATH", Err: err}
	}
	e := &Engine{Host: redact.URL(cli.DaemonHost()), addr: cli.DaemonHost(), cli: cli}
	if helper != nil {
		e.Host, e.addr = redact.URL(host), host // not the helper's placeholder URL
	}
	if err := e.handshake(ctx); err != nil {
		cli.Close()
		return nil, err
	}
	return e, nil
}

// ConnectAll connects to every host at once. No hosts means the engine
// the docker CLI would use: the docker context contextName (else
// DOCKER_CONTEXT, else the current one; DOCKER_HOST wins over the last
// two), or DOCKER_HOST, or the default socket. It returns the engines that
// answered and the errors of the others, each in host order.
func ConnectAll(ctx context.Context, hosts []string, contextName string, conns int) ([]*Engine, []error) {
	if len(hosts) == 0 {
		name, err := ContextName(contextName)
		if err != nil {
			return nil, []error{&ConnectError{Host: "the docker CLI's context", Cause: err.Error(), Err: err}}
		}
		if name != "" {
			e, err := ConnectContext(ctx, name, conns)
			if err != nil {
				return nil, []error{err}
			}
			return []*Engine{e}, nil
		}
		hosts = []string{""} // DOCKER_HOST or the default socket
	}
	engines := make([]*Engine, len(hosts))
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { engines[i], errs[i] = Connect(ctx, h, conns) })
	}
	wg.Wait()
	return slices.DeleteFunc(engines, func(e *Engine) bool { return e == nil }),
		slices.DeleteFunc(errs, func(e error) bool { return e == nil })
}

func hostOrDefault(host string) string {
	if host != "" {
		return host
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return defaultHost(os.Getenv("XDG_RUNTIME_DIR"), func(path string) bool {
		fi, err := os.Stat(path)
		return err == nil && fi.Mode()&os.ModeSocket != 0
	})
}

// defaultHost is Docker's socket when it is there, else Podman's, found
// as podman-docker's shim finds it: the user's (rootless) under
// XDG_RUNTIME_DIR first, then the system's; with neither, Docker's, for
// the error to name.
func defaultHost(xdgRuntimeDir string, isSocket func(string) bool) string {
	candidates := []string{strings.TrimPrefix(client.DefaultDockerHost, "unix://")}
	if xdgRuntimeDir != "" {
		candidates = append(candidates, filepath.Join(xdgRuntimeDir, "podman", "podman.sock"))
	}
	for _, path := range append(candidates, "/run/podman/podman.sock") {
		if isSocket(path) {
			return "unix://" + path
		}
	}
	return client.DefaultDockerHost
}

// handshake pings the engine, settles the API version and reads what the
// engine is.
func (e *Engine) handshake(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ping, err := e.cli.Ping(ctx)
	if err != nil {
		return e.diagnose(ctx, err)
	}
	e.cli.NegotiateAPIVersionPing(ping)
	e.APIVersion = e.cli.ClientVersion()
	// The version call works at any API version, and says which engine
	// this is, for the hint below and for Podman's stats.
	v, err := e.cli.ServerVersion(ctx)
	if err != nil {
		return e.diagnose(ctx, err)
	}
	e.OSType, e.ServerVersion, e.Product = v.Os, v.Version, Docker
	for _, c := range v.Components {
		if c.Name == "Podman Engine" {
			e.Product, e.ServerVersion = Podman, c.Version
		}
	}
	if versions.LessThan(e.APIVersion, MinAPIVersion) {
		return &ConnectError{Host: e.Host, Cause: fmt.Sprintf("API too old: %s %s speaks API %s", e.Product, e.ServerVersion, e.APIVersion),
			Hint: "monctl needs API " + MinAPIVersion + " or later: upgrade to Docker 20.10 or Podman 4.0 or later"}
	}
	return nil
}

// ConnectError says why an engine could not be reached and what to try.
// Host may be the address as given, credentials and all: Error masks
// them, in the host and wherever the cause quotes them.
type ConnectError struct {
	Host  string
	Cause string
	Hint  string
	Err   error
}

func (e *ConnectError) Error() string {
	s := "cannot reach the Docker engine at " + redact.URL(e.Host) + ": " + redact.In(e.Cause, e.Host)
	if e.Hint != "" {
		s += " — " + e.Hint
	}
	return s
}

func (e *ConnectError) Unwrap() error { return e.Err }

// diagnose turns a failed call into a ConnectError. The docker client
// replaces most dial errors by "Is the docker daemon running?", so the
// cause is found by dialling the address once more ourselves.
func (e *Engine) diagnose(ctx context.Context, callErr error) error {
	ce := &ConnectError{Host: e.addr, Err: callErr}
	if strings.HasPrefix(e.addr, "ssh://") {
		// The error holds what ssh or the far side's docker said.
		ce.Cause, ce.Hint = innermost(callErr), "check that 'ssh HOST docker system dial-stdio' works from this shell (keys, known_hosts, docker on the far side's PATH)"
		return ce
	}
	u, err := client.ParseHostURL(e.addr)
	if err != nil {
		ce.Cause, ce.Hint = err.Error(), "set DOCKER_HOST to unix:///path/to/docker.sock or tcp://host:port"
		return ce
	}
	addr := u.Host // docker's ParseHostURL keeps a socket path there too
	var d net.Dialer
	conn, dialErr := d.DialContext(ctx, u.Scheme, addr)
	if conn != nil {
		conn.Close()
	}
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.Is(dialErr, syscall.ENOENT):
		ce.Cause, ce.Hint = "no such socket "+addr, "is dockerd running? set DOCKER_HOST"
	case errors.Is(dialErr, syscall.EACCES) || errors.Is(dialErr, syscall.EPERM):
		ce.Cause, ce.Hint = "permission denied on "+addr, "is your user in the docker group? set DOCKER_HOST"
	case errors.Is(dialErr, syscall.ECONNREFUSED):
		ce.Cause, ce.Hint = "connection refused", "is the engine running and listening there? set DOCKER_HOST"
	case dialErr != nil:
		ce.Cause, ce.Hint = dialErr.Error(), "set DOCKER_HOST"
	case errors.As(callErr, &certErr) || errors.As(callErr, &unknownCA) || errors.As(callErr, &hostErr) ||
		strings.Contains(callErr.Error(), "tls:") || strings.Contains(callErr.Error(), "x509:"):
		ce.Cause, ce.Hint = "TLS failure: "+innermost(callErr), "check DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) and DOCKER_TLS_VERIFY"
	case strings.Contains(callErr.Error(), "malformed HTTP response") || strings.Contains(callErr.Error(), "server gave HTTP response to HTTPS client") ||
		strings.Contains(callErr.Error(), "HTTP request to an HTTPS server"):
		ce.Cause, ce.Hint = "TLS failure: the engine and monctl disagree on TLS", "set or unset DOCKER_TLS_VERIFY to match the engine"
	case errors.Is(callErr, context.DeadlineExceeded):
		ce.Cause, ce.Hint = "no answer within 10s", "is the engine overloaded, or is something else listening there?"
	default:
		ce.Cause, ce.Hint = innermost(callErr), "set DOCKER_HOST"
	}
	return ce
}

// innermost is the text of the deepest wrapped error, without the layers
// of "error during connect: Get ...".
func innermost(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// Close releases the engine's connections.
func (e *Engine) Close() error { return e.cli.Close() }
