// Package push delivers what monctl gathered to the stores people run: a
// Pushgateway, a Prometheus remote-write receiver, InfluxDB, Graphite.
// Each sink encodes the exposition model as its protocol specifies (one
// file per protocol) and hands it to a Transport (HTTP, TCP, a file);
// Deliverer sends the encoded batches with retries and keeps what could
// not be sent in a Spool on disk, to be sent first next time.
//
// The guarantee is at least once, in order per sink: spooled batches go
// before new ones, and a batch leaves the spool only once the sink has
// taken it.
package push

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/monctl/monctl/pkg/exposition"
)

// Batch is one request's worth of a sink's protocol.
type Batch struct {
	// Key names what the batch replaces at its sink (a Pushgateway
	// group): only the newest batch of a key is worth keeping. Empty for
	// batches that all count (remote write, InfluxDB).
	Key string
	// Body is the request body as the protocol wants it; Samples is how
	// many samples it carries, for the counts.
	Body    []byte
	Samples int
}

// Sink is one destination.
type Sink interface {
	// Name says which sink in messages: its kind and URL, with no
	// credentials.
	Name() string
	// ID is a stable name for the sink's spool directory.
	ID() string
	// Encode turns the sources of one round into the protocol's batches
	// (with several sources each series gets a target label, by the rule
	// of exposition.Merge).
	Encode(sources []exposition.Source) ([]Batch, error)
	// Send makes one request. A *SendError says whether trying again
	// may help.
	Send(ctx context.Context, b Batch) error
}

// StreamSink is a sink whose protocol lets each series stand on its own
// (remote write): it encodes families as a target's are parsed, so that a
// round holds encoded bytes rather than every target's model.
type StreamSink interface {
	Sink
	// NewStream starts encoding one target (or one round); addTarget
	// says that each series gets its source's target label.
	NewStream(addTarget bool) Stream
}

// StaleSink is a sink that marks series as gone (remote write's stale
// markers): Gone returns the markers, at time at, of every series the
// target sent in its last round, for a target that failed or was removed.
type StaleSink interface {
	Sink
	Gone(target string, at time.Time) []Batch
}

// Stream encodes one source's families, by one goroutine. Batches ends
// it: the stream is not used after.
type Stream interface {
	Family(target string, at time.Time, f *exposition.Family) error
	Batches() []Batch
}

// SendError is a request the sink did not take.
type SendError struct {
	Sink   string
	Status int    // the HTTP status; 0 when no answer came
	Msg    string // what the sink said, or why there was no answer
	// Retry says that trying again may help: no answer, a 5xx, a 429.
	Retry bool
	// RetryAfter is what the sink asked to wait (Retry-After), if it did.
	RetryAfter time.Duration
}

func (e *SendError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: %s", e.Sink, e.Msg)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Sink, e.Status, e.Msg)
}

// Stats are what happened at one sink in one delivery, in samples.
type Stats struct {
	Sink     string   `json:"sink"`
	Sent     int      `json:"sent_samples"`
	Requests int      `json:"requests"`
	Retried  int      `json:"retried_requests"`
	Spooled  int      `json:"spooled_samples"`
	Dropped  int      `json:"dropped_samples"` // refused by the sink, or pushed out of a full spool
	FromPool int      `json:"sent_from_spool_samples"`
	Errors   []string `json:"errors"`
}

// Delivered says whether everything reached the sink or its spool.
func (s *Stats) Delivered() bool { return s.Dropped == 0 && len(s.Errors) == 0 }

// Deliverer sends batches with retries and spools what it could not send.
type Deliverer struct {
	// Retries is how many times a request is tried again after a
	// failure that may pass (no answer, 5xx, 429).
	Retries int
	// Backoff is the wait before the first retry; it doubles each time,
	// up to MaxBackoff, with jitter.
	Backoff, MaxBackoff time.Duration
	// Spool keeps what could not be sent; nil: nothing is kept.
	Spool *Spool
	// Log is told what is dropped from a full spool.
	Log func(msg string)
}

// Deliver sends what sink's spool holds, oldest first, then batches. Once
// a request fails for good (the sink is down), the rest is spooled
// without trying: order per sink is kept and a down sink costs one
// timeout, not one per batch. A batch the sink refuses (a 4xx other than
// 429) is dropped with its error: sending it again would fail again.
func (d *Deliverer) Deliver(ctx context.Context, sink Sink, batches []Batch) Stats {
	st := Stats{Sink: sink.Name(), Errors: []string{}}
	down := false
	if d.Spool != nil {
		spooled, bad, err := d.Spool.Load(sink.ID())
		st.Dropped += bad
		if err != nil {
			st.Errors = append(st.Errors, err.Error())
		}
		for _, sp := range spooled {
			if down || ctx.Err() != nil {
				break
			}
			err := d.send(ctx, sink, sp.Batch, &st)
			var se *SendError
			switch {
			case err == nil:
				st.FromPool += sp.Samples
			case errors.As(err, &se) && se.Retry:
				down = true
				st.Errors = append(st.Errors, err.Error())
				continue // it stays in the spool
			default:
				st.Dropped += sp.Samples
				st.Errors = append(st.Errors, err.Error())
			}
			if err := d.Spool.Remove(sp); err != nil {
				st.Errors = append(st.Errors, err.Error())
			}
		}
	}
	for _, b := range batches {
		if down || ctx.Err() != nil {
			d.keep(sink, b, &st)
			continue
		}
		err := d.send(ctx, sink, b, &st)
		if err == nil {
			continue
		}
		st.Errors = append(st.Errors, err.Error())
		var se *SendError
		if errors.As(err, &se) && se.Retry {
			down = true
			d.keep(sink, b, &st)
		} else {
			st.Dropped += b.Samples
		}
	}
	return st
}

// keep spools a batch that could not be sent; without a spool it is lost.
func (d *Deliverer) keep(sink Sink, b Batch, st *Stats) {
	if d.Spool == nil {
		st.Dropped += b.Samples
		return
	}
	dropped, err := d.Spool.Put(sink.ID(), b)
	if err != nil {
		st.Dropped += b.Samples
		st.Errors = append(st.Errors, err.Error())
		return
	}
	st.Spooled += b.Samples
	if dropped > 0 {
		st.Dropped += dropped
		if d.Log != nil {
			d.Log(fmt.Sprintf("%s: the spool is full: dropped its %d oldest samples", sink.Name(), dropped))
		}
	}
}

// send makes one request, retrying what may pass, within ctx.
func (d *Deliverer) send(ctx context.Context, sink Sink, b Batch, st *Stats) error {
	wait := d.Backoff
	for attempt := 0; ; attempt++ {
		st.Requests++
		err := sink.Send(ctx, b)
		if err == nil {
			st.Sent += b.Samples
			return nil
		}
		var se *SendError
		if !errors.As(err, &se) || !se.Retry || attempt >= d.Retries {
			return err
		}
		pause := wait/2 + rand.N(wait/2+1) // jitter, so that a fleet does not retry in step
		if se.RetryAfter > 0 {
			pause = se.RetryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < pause {
			return err // no time left to wait: spool it
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		st.Retried++
		wait = min(2*wait, d.MaxBackoff)
	}
}
