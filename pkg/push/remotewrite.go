package push

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/prompb"

	"github.com/monctl/monctl/pkg/exposition"
)

// maxSeriesPerRequest is how many series one remote-write request
// carries, Prometheus's own max_samples_per_send.
const maxSeriesPerRequest = 2000

// RemoteWrite writes to a Prometheus remote-write 1.0 receiver
// (https://prometheus.io/docs/specs/prw/remote_write_spec/): Prometheus
// with --web.enable-remote-write-receiver, VictoriaMetrics, Mimir,
// Thanos Receive, Cortex.
type RemoteWrite struct {
	*endpoint
	// free holds the buffers of streams that ended, for the next ones:
	// they are what a round would allocate most. (A sync.Pool is emptied
	// by the collections an agent's rounds cause, so a round allocated
	// them again.) A stream takes them when it first writes, so there
	// are only as many as the streams that wrote at once, however many
	// were started.
	freeMu sync.Mutex
	free   []*rwBuffers

	// last is, per target, the series (their encoded labels) sent in its
	// last round: a series missing from the next round, or every series
	// of a target that failed, gets a stale marker, as the spec says a
	// sender must.
	mu   sync.Mutex
	last map[string]seriesSet
	// spare is, per target, the set of the round before last, emptied:
	// the next round fills it instead of growing a new map.
	spare map[string]seriesSet
	seed  maphash.Seed
}

// seriesSet is a target's series of one round: the encoded labels of
// each, by their hash. A series sent again reuses the bytes of the round
// before, so that a steady target costs no allocation per series.
type seriesSet map[uint64][]byte

// staleNaN is Prometheus's staleness marker: a NaN no exposition has.
const staleNaN = 0x7ff0000000000002

// NewRemoteWrite is a sink for the full write URL e.URL
// (http://host:9090/api/v1/write).
func NewRemoteWrite(e Endpoint) (*RemoteWrite, error) {
	ep, err := e.open("remote-write")
	if err != nil {
		return nil, err
	}
	return &RemoteWrite{endpoint: ep, seed: maphash.MakeSeed(), last: map[string]seriesSet{}, spare: map[string]seriesSet{}}, nil
}

// Name says which sink.
func (r *RemoteWrite) Name() string { return r.name }

// ID is this receiver's spool directory.
func (r *RemoteWrite) ID() string { return r.id("remote-write") }

// Encode lays the sources out as the spec says, in batches of at most
// maxSeriesPerRequest series, each a snappy-compressed WriteRequest.
// Every sample carries its scrape time (the exposed timestamp when there
// was one). Classic histograms and summaries become their _bucket (le),
// quantile, _sum and _count (_gcount, _gsum) series, native histograms
// histogram samples. Each series stands on its own in remote write, so
// the sources are encoded as they are, without merging their families.
func (r *RemoteWrite) Encode(sources []exposition.Source) ([]Batch, error) {
	st := r.NewStream(len(sources) > 1)
	for _, src := range sources {
		for i := range src.Families {
			if err := st.Family(src.Target, src.Time, &src.Families[i]); err != nil {
				return nil, err
			}
		}
	}
	return st.Batches(), nil
}

// NewStream encodes families one at a time, as a target's are parsed, so
// that a round never holds a whole target's model; addTarget says that
// each series gets its source's target label.
func (r *RemoteWrite) NewStream(addTarget bool) Stream {
	return &rwEncoder{sink: r, addTarget: addTarget}
}

// Gone returns the stale markers, at time at, of every series target
// had in its last round: the target failed or is no longer gathered.
func (r *RemoteWrite) Gone(target string, at time.Time) []Batch {
	r.mu.Lock()
	prev := r.last[target]
	delete(r.last, target)
	delete(r.spare, target)
	r.mu.Unlock()
	if len(prev) == 0 {
		return nil
	}
	e := r.NewStream(false).(*rwEncoder)
	for _, labels := range prev {
		e.stale(labels, at.UnixMilli())
	}
	return e.Batches() // it saw no target: nothing else is marked
}

// previous is what target sent in its last round, and an empty set to
// fill with this round's.
func (r *RemoteWrite) previous(target string) (prev, next seriesSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev, next = r.last[target], r.spare[target]
	delete(r.spare, target)
	if next == nil {
		next = make(seriesSet, len(prev))
	}
	return prev, next
}

// rounds remembers what each target of a stream sent and returns the
// encoded labels of its series that were sent last time and not now.
func (r *RemoteWrite) rounds(seen map[string]*targetSeries) map[*targetSeries][][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	gone := map[*targetSeries][][]byte{}
	for target, now := range seen {
		for h, labels := range r.last[target] {
			if _, ok := now.keys[h]; !ok {
				gone[now] = append(gone[now], labels)
			}
		}
		if old := r.last[target]; old != nil {
			clear(old) // its bytes that are still sent, now.keys holds
			r.spare[target] = old
		}
		r.last[target] = now.keys
	}
	return gone
}

// Family encodes one family of the source target, scraped at.
func (e *rwEncoder) Family(target string, at time.Time, f *exposition.Family) error {
	name, _ := f.ExposedAs()
	e.current = e.seriesOf(target, at)
	for j := range f.Metrics {
		m := &f.Metrics[j]
		ts := at.UnixMilli()
		if m.HasTimestamp {
			ts = m.TimestampMs
		}
		ls := m.Labels
		e.put = exposition.Label{}
		switch {
		case !e.addTarget:
		case ls.Get(exposition.TargetLabel) == "":
			// The common case: series_ puts the label in its place
			// (an empty one of that name counts as absent, and is
			// not written).
			e.put = exposition.Label{Name: exposition.TargetLabel, Value: target}
		default:
			e.target = exposition.AppendWithTargetLabel(e.target[:0], ls, exposition.TargetLabel, target)
			ls = e.target
		}
		if err := e.metric(f, m, ls, ts); err != nil {
			return fmt.Errorf("%s: %s%s: %w", e.sink.name, name, ls, err)
		}
	}
	return nil
}

// Batches ends the stream: series its targets sent last round and not
// now get their stale markers, and the encoder goes back to its pool.
func (e *rwEncoder) Batches() []Batch {
	for ts, gone := range e.sink.rounds(e.seen) {
		for _, labels := range gone {
			e.stale(labels, ts.at)
		}
	}
	e.flush()
	if e.b != nil {
		e.sink.freeMu.Lock()
		e.sink.free = append(e.sink.free, e.b)
		e.sink.freeMu.Unlock()
		e.b = nil
	}
	out := e.batches
	e.batches = nil
	return out
}

// rwEncoder writes a WriteRequest's protobuf by hand, series by series,
// into one buffer: no TimeSeries, Label or Sample values are built, so a
// round of many targets costs little besides its bytes. The wire format
// is prompb's (types.proto): WriteRequest.timeseries = 1; TimeSeries
// labels = 1, samples = 2, histograms = 4; Label name = 1, value = 2;
// Sample value = 1 (double), timestamp = 2 (int64).
type rwEncoder struct {
	sink      *RemoteWrite
	seen      map[string]*targetSeries // per target, what this stream sent
	current   *targetSeries
	addTarget bool
	put       exposition.Label // the target label series_ puts in its place, when named
	b         *rwBuffers       // taken at the first write, given back by Batches
	series    int
	target    exposition.Labels // scratch: a metric's labels with its target
	batches   []Batch
}

// rwBuffers are an encoder's buffers: the request being written, and the
// scratch of one series.
type rwBuffers struct {
	buf    []byte
	snappy []byte // buf compressed
	body   []byte // one series' samples or histogram
	lbuf   []byte // one series' encoded labels
}

// buffers are the encoder's buffers, taken from the sink's free ones the
// first time.
func (e *rwEncoder) buffers() *rwBuffers {
	if e.b == nil {
		e.sink.freeMu.Lock()
		if n := len(e.sink.free); n > 0 {
			e.b, e.sink.free = e.sink.free[n-1], e.sink.free[:n-1]
		}
		e.sink.freeMu.Unlock()
		if e.b == nil {
			e.b = &rwBuffers{}
		}
	}
	return e.b
}

// targetSeries is what one stream sent of a target: its series' encoded
// labels, and the round's time, for their stale markers.
type targetSeries struct {
	at   int64
	keys seriesSet
	prev seriesSet // the round before, whose bytes are reused
}

// seriesOf is what this stream sent of target so far.
func (e *rwEncoder) seriesOf(target string, at time.Time) *targetSeries {
	if e.seen == nil {
		e.seen = map[string]*targetSeries{}
	}
	ts := e.seen[target]
	if ts == nil {
		prev, next := e.sink.previous(target)
		ts = &targetSeries{at: at.UnixMilli(), keys: next, prev: prev}
		e.seen[target] = ts
	}
	return ts
}

// metric writes the series one metric is stored as.
func (e *rwEncoder) metric(f *exposition.Family, m *exposition.Metric, ls exposition.Labels, ts int64) (err error) {
	f.StoredSeries(m, func(name string, extra exposition.Label, v float64, h *histogram.FloatHistogram) {
		if h == nil {
			e.sample(name, ls, extra, v, ts)
			return
		}
		ph := prompb.FromFloatHistogram(ts, h)
		raw, merr := ph.Marshal()
		if merr != nil {
			err = merr
			return
		}
		e.series_(name, ls, extra, func(b []byte) []byte { return appendBytesField(b, 4, raw) })
	})
	return err
}

// sample writes a series of one float sample.
func (e *rwEncoder) sample(name string, ls exposition.Labels, extra exposition.Label, v float64, ts int64) {
	e.series_(name, ls, extra, func(b []byte) []byte { return appendSample(b, v, ts) })
}

// series_ writes one TimeSeries: __name__, ls and extra (when named) in
// name order, as the spec requires (ls is sorted already; the others are
// put in their places), then what body appends. A label with an empty
// value is left out: the spec forbids it, and a receiver would refuse the
// whole request for it (Prometheus and vmagent drop them too).
func (e *rwEncoder) series_(name string, ls exposition.Labels, extra exposition.Label, body func([]byte) []byte) {
	// The labels to put in their places (__name__, extra and e.put),
	// in name order: each goes before the first label of ls not less
	// than it, as an insertion into the sorted labels would.
	put := [3]exposition.Label{{Name: "__name__", Value: name}, extra, e.put}
	for i := 1; i < len(put); i++ { // in name order, the unnamed last
		for j := i; j > 0 && put[j].Name != "" && (put[j-1].Name == "" || put[j].Name < put[j-1].Name); j-- {
			put[j], put[j-1] = put[j-1], put[j]
		}
	}
	next := 0
	b := e.buffers()
	lbuf := b.lbuf[:0]
	for _, l := range ls {
		for next < len(put) && put[next].Name != "" && put[next].Name <= l.Name {
			lbuf = appendLabel(lbuf, put[next])
			next++
		}
		lbuf = appendLabel(lbuf, l)
	}
	for ; next < len(put); next++ {
		if put[next].Name != "" {
			lbuf = appendLabel(lbuf, put[next])
		}
	}
	b.lbuf = lbuf
	if e.current != nil {
		h := maphash.Bytes(e.sink.seed, lbuf)
		if old, ok := e.current.prev[h]; ok && bytes.Equal(old, lbuf) {
			e.current.keys[h] = old
		} else if _, ok := e.current.keys[h]; !ok {
			e.current.keys[h] = bytes.Clone(lbuf)
		}
	}
	e.write(lbuf, body(b.body[:0]))
}

// stale writes the stale marker of the series of these encoded labels.
func (e *rwEncoder) stale(labels []byte, ts int64) {
	e.write(labels, appendSample(e.buffers().body[:0], math.Float64frombits(staleNaN), ts))
}

// write appends one TimeSeries of encoded labels and samples.
func (e *rwEncoder) write(labels, body []byte) {
	b := e.buffers()
	b.body = body
	b.buf = append(b.buf, 0x0a)
	b.buf = binary.AppendUvarint(b.buf, uint64(len(labels)+len(body)))
	b.buf = append(b.buf, labels...)
	b.buf = append(b.buf, body...)
	if e.series++; e.series >= maxSeriesPerRequest {
		e.flush()
	}
}

// appendSample appends a Sample field: a double and a varint.
func appendSample(b []byte, v float64, ts int64) []byte {
	var s [20]byte
	s[0] = 0x09
	binary.LittleEndian.PutUint64(s[1:], math.Float64bits(v))
	s[9] = 0x10
	n := 10 + binary.PutUvarint(s[10:], uint64(ts))
	return appendBytesField(b, 2, s[:n])
}

// appendLabel appends a Label field, unless its value is empty.
func appendLabel(b []byte, l exposition.Label) []byte {
	if l.Value == "" {
		return b
	}
	b = append(b, 0x0a)
	b = binary.AppendUvarint(b, uint64(labelSize(l)))
	b = appendString(b, 1, l.Name)
	return appendString(b, 2, l.Value)
}

// labelSize is the size of a Label message.
func labelSize(l exposition.Label) int {
	return 1 + uvarintLen(len(l.Name)) + len(l.Name) + 1 + uvarintLen(len(l.Value)) + len(l.Value)
}

// flush closes a WriteRequest as a batch.
func (e *rwEncoder) flush() {
	if e.series == 0 {
		return
	}
	b := e.buffers()
	// Compressed into the scratch, then copied: snappy's output has room
	// for the worst case, and a round's batches wait for its delivery.
	b.snappy = snappy.Encode(b.snappy[:cap(b.snappy)], b.buf)
	e.batches = append(e.batches, Batch{Body: bytes.Clone(b.snappy), Samples: e.series})
	b.buf, e.series = b.buf[:0], 0
}

func uvarintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

func appendString(b []byte, field byte, s string) []byte {
	b = append(b, field<<3|2)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytesField(b []byte, field byte, v []byte) []byte {
	b = append(b, field<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// Send writes one request.
func (r *RemoteWrite) Send(ctx context.Context, b Batch) error {
	h := http.Header{
		"Content-Encoding":                  {"snappy"},
		"Content-Type":                      {"application/x-protobuf"},
		"X-Prometheus-Remote-Write-Version": {"0.1.0"},
	}
	return r.send(ctx, Message{Header: h, Body: b.Body})
}
