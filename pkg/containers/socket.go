package containers

import (
	"context"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
)

// Socket gives a client that reaches Docker only by unix:// or tcp://
// (Prometheus's Docker discovery) a way to this engine: the engine's own
// address when it is one of those, else a unix socket in dir (which
// should be private to the user) whose connections the engine's
// connection carries, through ssh or TLS as it does. The socket lasts
// until ctx ends.
func (e *Engine) Socket(ctx context.Context, dir string) (string, error) {
	if strings.HasPrefix(e.addr, "unix://") {
		return e.addr, nil
	}
	path := filepath.Join(dir, "engine.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		return "", err
	}
	dial := e.cli.Dialer()
	var wg sync.WaitGroup
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	go func() {
		for {
			down, err := l.Accept()
			if err != nil {
				wg.Wait()
				return
			}
			wg.Go(func() {
				up, err := dial(ctx)
				if err != nil {
					down.Close()
					return
				}
				// Either side ending, or ctx, ends both.
				closeBoth := sync.OnceFunc(func() { up.Close(); down.Close() })
				stop := context.AfterFunc(ctx, closeBoth)
				defer stop()
				done := make(chan struct{})
				go func() {
					_, _ = io.Copy(up, down)
					closeBoth()
					close(done)
				}()
				_, _ = io.Copy(down, up)
				closeBoth()
				<-done
			})
		}
	}()
	return "unix://" + path, nil
}

// HostName is the name the engine's host is reached by from here, for a
// container with host networking: localhost for a local socket.
func (e *Engine) HostName() string {
	u, err := url.Parse(e.addr)
	if err != nil || u.Scheme == "unix" || u.Scheme == "npipe" || u.Hostname() == "" {
		return "localhost"
	}
	return u.Hostname()
}
