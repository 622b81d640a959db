package push

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protodelim"

	"github.com/monctl/monctl/pkg/exposition"
)

// Pushgateway methods: PUT replaces the whole group, POST the families of
// the same name in it, DELETE removes the group.
const (
	MethodPut    = http.MethodPut
	MethodPost   = http.MethodPost
	MethodDelete = http.MethodDelete
)

// ScrapeSeries are the series a Prometheus scrape adds for every target,
// which push adds for each target it scrapes. A Pushgateway is itself
// scraped and Prometheus makes them for it: they are not pushed there.
var ScrapeSeries = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added"}

// Pushgateway pushes to a Prometheus Pushgateway, as its API says
// (https://github.com/prometheus/pushgateway#api).
type Pushgateway struct {
	*endpoint
	job      string
	grouping []exposition.Label // sorted by name
	method   string
	path     string
}

// NewPushgateway is a sink for the group of job and grouping at the
// Pushgateway at e.URL (its base: http://host:9091).
func NewPushgateway(e Endpoint, job string, grouping map[string]string, method string) (*Pushgateway, error) {
	ep, err := e.open("pushgateway")
	if err != nil {
		return nil, err
	}
	switch {
	case job == "":
		return nil, fmt.Errorf("%s: a push needs a job name", ep.name)
	case method != MethodPut && method != MethodPost && method != MethodDelete:
		return nil, fmt.Errorf("%s: method %q: want PUT, POST or DELETE", ep.name, method)
	}
	p := &Pushgateway{endpoint: ep, job: job, method: method}
	for k, v := range grouping {
		if k == "job" || !model.LabelName(k).IsValidLegacy() {
			return nil, fmt.Errorf("%s: grouping label %q: want a label name other than job", ep.name, k)
		}
		p.grouping = append(p.grouping, exposition.Label{Name: k, Value: v})
	}
	slices.SortFunc(p.grouping, func(a, b exposition.Label) int { return strings.Compare(a.Name, b.Name) })
	p.path = "/metrics/" + pathSegment("job", job)
	for _, l := range p.grouping {
		p.path += "/" + pathSegment(l.Name, l.Value)
	}
	return p, nil
}

// pathSegment is name/value in the group's path. A value with a / or an
// empty one goes base64url-encoded under name@base64, as the Pushgateway
// reads it ("=" stands for the empty value).
func pathSegment(name, value string) string {
	switch {
	case value == "":
		return name + "@base64/="
	case strings.Contains(value, "/"):
		return name + "@base64/" + base64.RawURLEncoding.EncodeToString([]byte(value))
	}
	return name + "/" + url.PathEscape(value)
}

// Name says which sink and group.
func (p *Pushgateway) Name() string { return p.name + " (" + p.path + ")" }

// ID is the spool directory of this group at this Pushgateway.
func (p *Pushgateway) ID() string { return p.id("pushgateway", p.path, p.method) }

// Encode writes one batch: the families in delimited protobuf, as the
// client libraries push them, without timestamps and without the job and
// grouping labels, which the Pushgateway rejects in the body. DELETE has
// no body.
func (p *Pushgateway) Encode(sources []exposition.Source) ([]Batch, error) {
	b := Batch{Key: p.path}
	if p.method == MethodDelete {
		return []Batch{b}, nil
	}
	fams := p.merge(sources)
	var buf bytes.Buffer
	for i := range fams {
		if slices.Contains(ScrapeSeries, fams[i].Name) {
			continue
		}
		mf := fams[i].DTO()
		for _, m := range mf.Metric {
			m.TimestampMs = nil
			m.Label = slices.DeleteFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == "job" || p.isGrouping(l.GetName()) })
		}
		if _, err := protodelim.MarshalTo(&buf, mf); err != nil {
			return nil, fmt.Errorf("%s: family %s: %w", p.name, fams[i].Name, err)
		}
		b.Samples += len(mf.Metric)
	}
	b.Body = buf.Bytes()
	return []Batch{b}, nil
}

func (p *Pushgateway) isGrouping(name string) bool {
	return slices.ContainsFunc(p.grouping, func(l exposition.Label) bool { return l.Name == name })
}

// Send makes the push.
func (p *Pushgateway) Send(ctx context.Context, b Batch) error {
	h := http.Header{"Content-Type": {"application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"}}
	var body []byte
	if p.method != MethodDelete {
		body = b.Body
	}
	return p.send(ctx, Message{Method: p.method, Path: p.path, Header: h, Body: body})
}
