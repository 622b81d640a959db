package push

import "bytes"

// maxTextBatch is about how many bytes of a text protocol (line
// protocol, Graphite's) one message carries: InfluxDB's own clients send
// 5000 lines.
const maxTextBatch = 1 << 20

// textBatches cuts a text protocol's lines into batches of about max
// bytes, at family boundaries: an encoder writes a family's lines into
// buf, then calls endFamily.
type textBatches struct {
	max     int
	buf     bytes.Buffer
	samples int
	out     []Batch
}

// endFamily counts samples more and starts a new batch once this one is
// big enough.
func (t *textBatches) endFamily(samples int) {
	t.samples += samples
	if t.buf.Len() >= t.max {
		t.flush()
	}
}

func (t *textBatches) flush() {
	t.out = append(t.out, Batch{Body: bytes.Clone(t.buf.Bytes()), Samples: t.samples})
	t.buf.Reset()
	t.samples = 0
}

// done is every batch, the last one included.
func (t *textBatches) done() []Batch {
	if t.buf.Len() > 0 {
		t.flush()
	}
	return t.out
}
