package push

import (
	"bytes"
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/histogram"

	"github.com/monctl/monctl/pkg/exposition"
)

// Graphite writes Graphite's plaintext protocol with tags
// (https://graphite.readthedocs.io/en/latest/tags.html) to a Carbon
// listener over TCP (tcp://host:2003): one line per sample,
// "name;label=value;... value unix-seconds". Carbon 1.1, VictoriaMetrics
// and InfluxDB's Graphite input read the tags as labels.
type Graphite struct {
	*endpoint
}

// NewGraphite is a sink for the listener at e.URL (tcp://host:port), or a
// file:// URL to append the lines to.
func NewGraphite(e Endpoint) (*Graphite, error) {
	ep, err := e.open("graphite", "tcp", "file")
	if err != nil {
		return nil, err
	}
	return &Graphite{endpoint: ep}, nil
}

// Name says which sink.
func (g *Graphite) Name() string { return g.name }

// ID is this listener's spool directory.
func (g *Graphite) ID() string { return g.id("graphite") }

// graphiteTag keeps a tag value a value: no separator of the line (space,
// ';'), no '~' first (a Graphite tag query's), no control character.
var graphiteTag = strings.NewReplacer(" ", "_", ";", "_", "\t", "_", "\n", "_", "\r", "_")

// graphiteName keeps a metric or tag name a name: what Prometheus's
// legacy names are made of and dots, anything else (a UTF-8 name's space,
// ';', '=', '!', '^'...) as '_'.
func graphiteName(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == ':' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// Encode writes a line per sample, as Prometheus would store it
// (Family.StoredSeries: a histogram's _bucket with le, _sum and _count),
// in batches of about maxTextBatch bytes cut at family boundaries. A
// label with an empty value is left out (a Graphite tag needs one); NaN,
// ±Inf and native histograms, which the protocol cannot hold, are left
// out and said.
func (g *Graphite) Encode(sources []exposition.Source) ([]Batch, error) {
	fams := g.merge(sources)
	tb := textBatches{max: maxTextBatch}
	buf := &tb.buf
	skipped := 0
	for i := range fams {
		f := &fams[i]
		for j := range f.Metrics {
			m := &f.Metrics[j]
			at := f.Times[j]
			if m.HasTimestamp {
				at = time.UnixMilli(m.TimestampMs)
			}
			f.StoredSeries(m, func(name string, extra exposition.Label, v float64, h *histogram.FloatHistogram) {
				if h != nil || math.IsNaN(v) || math.IsInf(v, 0) {
					skipped++
					return
				}
				buf.WriteString(graphiteName(name))
				for _, l := range m.Labels {
					writeGraphiteTag(buf, l)
				}
				writeGraphiteTag(buf, extra)
				buf.WriteByte(' ')
				buf.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
				buf.WriteByte(' ')
				buf.WriteString(strconv.FormatInt(at.Unix(), 10))
				buf.WriteByte('\n')
				tb.samples++
			})
		}
		tb.endFamily(0)
	}
	if skipped > 0 {
		g.warnf("%d samples left out: NaN, ±Inf and native histograms have no Graphite form", skipped)
	}
	return tb.done(), nil
}

// writeGraphiteTag writes ;name=value, unless the value is empty.
func writeGraphiteTag(buf *bytes.Buffer, l exposition.Label) {
	if l.Name == "" || l.Value == "" {
		return
	}
	buf.WriteString(";" + graphiteName(l.Name) + "=" + strings.TrimLeft(graphiteTag.Replace(l.Value), "~"))
}

// Send writes one batch of lines.
func (g *Graphite) Send(ctx context.Context, b Batch) error {
	return g.send(ctx, Message{Body: b.Body})
}
