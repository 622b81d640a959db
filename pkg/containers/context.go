package containers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
)

// DefaultContext is the docker CLI's name for "no context": DOCKER_HOST or
// the default socket.
const DefaultContext = "default"

// ContextName picks the docker context as the docker CLI does: the name
// given (--context), else DOCKER_CONTEXT, else the current context of the
// docker CLI's config file ($DOCKER_CONFIG/config.json, ~/.docker by
// default). It returns "" when DOCKER_HOST is set and no name was given,
// as DOCKER_HOST wins over contexts, and for the default context.
func ContextName(given string) (string, error) {
	name := given
	if name == "" {
		if os.Getenv(client.EnvOverrideHost) != "" {
			return "", nil
		}
		name = os.Getenv("DOCKER_CONTEXT")
	}
	if name == "" {
		cf, err := config.Load(configDir())
		if err != nil {
			return "", fmt.Errorf("docker CLI config in %s: %w", configDir(), err)
		}
		name = cf.CurrentContext
	}
	if name == DefaultContext {
		return "", nil
	}
	return name, nil
}

// configDir is $DOCKER_CONFIG, else ~/.docker, read on every call (the
// docker CLI's config.Dir reads it once per process).
func configDir() string {
	if d := os.Getenv(config.EnvOverrideConfigDir); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".docker"
	}
	return filepath.Join(home, ".docker")
}

// contextStore is the docker CLI's context store, read as the docker CLI
// reads it: the Docker endpoint's metadata typed.
func contextStore() *store.ContextStore {
	return store.New(filepath.Join(configDir(), "contexts"), store.NewConfig(
		func() any { return &map[string]any{} },
		store.EndpointTypeGetter(docker.DockerEndpoint, func() any { return &docker.EndpointMeta{} })))
}

// ConnectContext connects to the engine of the docker context name, with
// its endpoint's host, TLS material and SkipTLSVerify, through the docker
// CLI's own context store (ssh:// endpoints go through the system ssh and
// 'docker system dial-stdio', as the docker CLI does). The engine's Host
// is the context's name, which is what the user knows it by.
func ConnectContext(ctx context.Context, name string, conns int) (*Engine, error) {
	s := contextStore()
	fail := func(err error) (*Engine, error) {
		return nil, &ConnectError{Host: "context " + name, Cause: err.Error(), Hint: "see 'docker context ls'", Err: err}
	}
	meta, err := s.GetMetadata(name)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return fail(fmt.Errorf("no such docker context in %s", filepath.Join(configDir(), "contexts")))
		}
		return fail(err)
	}
	epMeta, err := docker.EndpointFromContext(meta)
	if err != nil {
		return fail(err)
	}
	ep, err := docker.WithTLSData(s, name, epMeta)
	if err != nil {
		return fail(err)
	}
	opts, err := ep.ClientOpts()
	if err != nil {
		return fail(err)
	}
	// Our transport first, for its idle connections; a TLS or ssh
	// endpoint's options replace it with their own.
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 90 * time.Second}
	cli, err := client.NewClientWithOpts(append([]client.Opt{client.WithHTTPClient(&http.Client{Transport: tr})}, opts...)...)
	if err != nil {
		return fail(err)
	}
	e := &Engine{Host: name, addr: ep.Host, cli: cli}
	if err := e.handshake(ctx); err != nil {
		cli.Close()
		var ce *ConnectError
		if errors.As(err, &ce) {
			ce.Host = "context " + name + " (" + ep.Host + ")"
			if strings.HasPrefix(ce.Cause, "TLS failure") {
				// The certificates are the context's, not DOCKER_CERT_PATH's.
				ce.Hint = "check the context's certificates and SkipTLSVerify: docker context inspect " + name
			}
		}
		return nil, err
	}
	return e, nil
}

// Context is a docker context as 'docker context ls' lists it.
type Context struct {
	Name string
	// Host is its Docker endpoint (unix://, tcp://, ssh://...).
	Host string
}

// Contexts lists the docker CLI's contexts, the default one first (its
// host: DOCKER_HOST, else the local socket), the others by name.
func Contexts() ([]Context, error) {
	s := contextStore()
	list, err := s.List()
	if err != nil {
		return nil, err
	}
	out := []Context{{Name: DefaultContext, Host: hostOrDefault("")}}
	for _, meta := range list {
		ep, err := docker.EndpointFromContext(meta)
		if err != nil {
			continue // a context without a Docker endpoint
		}
		out = append(out, Context{Name: meta.Name, Host: ep.Host})
	}
	return out, nil
}
