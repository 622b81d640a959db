package push

import (
	"context"
	"fmt"
	"net/http"

	"github.com/monctl/monctl/pkg/exposition"
)

// Influx writes line protocol to InfluxDB: 1.x's /write?db=... and 2.x's
// /api/v2/write?org=...&bucket=... (with a token in the http_config's
// authorization), in the layout of -o influx (exposition.EncodeInflux).
type Influx struct {
	*endpoint
}

// NewInflux is a sink for the full write URL e.URL, query included, or a
// file:// URL to append the lines to (for Telegraf's tail input, say).
// monctl writes nanoseconds, so a precision other than ns is refused.
func NewInflux(e Endpoint) (*Influx, error) {
	ep, err := e.open("influx", "http", "https", "file")
	if err != nil {
		return nil, err
	}
	if p := ep.url.Query().Get("precision"); p != "" && p != "ns" && p != "n" {
		return nil, fmt.Errorf("%s: precision=%s: monctl writes nanoseconds; leave precision out or make it ns", ep.name, p)
	}
	return &Influx{endpoint: ep}, nil
}

// Name says which sink.
func (s *Influx) Name() string { return s.name }

// ID is this database's spool directory.
func (s *Influx) ID() string { return s.id("influx") }

// Encode writes the families as line protocol, in batches of about
// maxTextBatch bytes cut at family boundaries.
func (s *Influx) Encode(sources []exposition.Source) ([]Batch, error) {
	fams := s.merge(sources)
	tb := textBatches{max: maxTextBatch}
	for i := range fams {
		warns, err := exposition.EncodeInflux(&tb.buf, fams[i:i+1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		for _, w := range warns {
			s.warnf("%s", w)
		}
		tb.endFamily(len(fams[i].Metrics))
	}
	return tb.done(), nil
}

// Send writes one request; InfluxDB answers 204.
func (s *Influx) Send(ctx context.Context, b Batch) error {
	return s.send(ctx, Message{Body: b.Body, Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}})
}
