package push

import (
	"context"
	"hash"
	"net"
	"net/http"
	"os"
	"time"
)

// Transport carries a sink's encoded batches to where they go. The
// encoding is the sink's, the carrying the transport's: a protocol can go
// over any transport its sink accepts, and keeps the retries, the sorting
// of failures and the spool of Deliverer. (Prometheus's remote-write
// client splits them the same way: the queue encodes, WriteClient.Store
// carries.)
type Transport interface {
	// Name says where, without credentials: "http://host:9091".
	Name() string
	// Identify writes into h what, besides its URL, makes the
	// destination itself (an HTTP client's credentials and TLS): a
	// sink's spool is named after both.
	Identify(h hash.Hash)
	// Send delivers one message. A *SendError says whether trying again
	// may help (Retry).
	Send(ctx context.Context, m Message) error
}

// Message is one request as a sink's protocol makes it.
type Message struct {
	// Method and Path are HTTP's: the method (POST when empty) and a path
	// after the URL's (a Pushgateway group). Other transports ignore them.
	Method, Path string
	// Header is the protocol's content type, encoding and version.
	Header http.Header
	Body   []byte
}

// fileTransport appends each message's body to a file (file:///path), for
// a sink whose encoding is text another program reads as it grows
// (InfluxDB line protocol for Telegraf's tail input, say).
type fileTransport struct{ path string }

func (t *fileTransport) Name() string { return "file://" + t.path }

// Identify adds nothing: the URL is the file.
func (t *fileTransport) Identify(hash.Hash) {}

// Send appends the body in one write, so that messages do not interleave
// with another writer's. A failure to open or write may pass (a full
// disk, a directory not there yet): the batch is retried, then spooled.
func (t *fileTransport) Send(_ context.Context, m Message) error {
	f, err := os.OpenFile(t.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return &SendError{Sink: t.Name(), Msg: err.Error(), Retry: true}
	}
	_, err = f.Write(m.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &SendError{Sink: t.Name(), Msg: err.Error(), Retry: true}
	}
	return nil
}

// tcpTransport writes each message's body on a connection of its own to
// a line protocol's listener (tcp://host:port): such a protocol has no
// answer, so a message is delivered once the listener has taken every
// byte and the connection closed cleanly.
type tcpTransport struct {
	addr    string
	timeout time.Duration
}

func (t *tcpTransport) Name() string { return "tcp://" + t.addr }

// Identify adds nothing: the URL is the listener.
func (t *tcpTransport) Identify(hash.Hash) {}

// Send connects, writes and closes within the timeout. Every failure may
// pass (the listener is down or restarting): the batch is retried, then
// spooled.
func (t *tcpTransport) Send(ctx context.Context, m Message) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return &SendError{Sink: t.Name(), Msg: err.Error(), Retry: true}
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	_, err = conn.Write(m.Body)
	if cerr := conn.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &SendError{Sink: t.Name(), Msg: err.Error(), Retry: true}
	}
	return nil
}
