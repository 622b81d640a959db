package exposition

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// Format is an exposition format.
type Format int

// The formats monctl parses.
const (
	FormatText        Format = iota // text/plain; version=0.0.4
	FormatOpenMetrics               // application/openmetrics-text; version=1.0.0
	FormatProtobuf                  // application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited
)

func (f Format) String() string {
	switch f {
	case FormatOpenMetrics:
		return "openmetrics"
	case FormatProtobuf:
		return "protobuf"
	default:
		return "text"
	}
}

// ErrContentType is a content type monctl cannot parse; ErrFormatUnknown
// an input whose format was guessed, and which no parser takes. The verbs
// say how to name the format.
var (
	ErrContentType   = errors.New("no parser for the content type")
	ErrFormatUnknown = errors.New("the format could not be guessed")
)

// tagged is err, which errors.Is also finds to be tag, its message
// unchanged.
type tagged struct {
	error
	tag error
}

func (t tagged) Unwrap() []error { return []error{t.error, t.tag} }

// FormatFromContentType maps a Content-Type header to a format. An empty
// content type means the text format, as Prometheus assumes for old targets.
func FormatFromContentType(ct string) (Format, error) {
	if strings.TrimSpace(ct) == "" {
		return FormatText, nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return FormatText, fmt.Errorf("cannot parse content type %q: %w", ct, err)
	}
	switch mt {
	case "text/plain":
		return FormatText, nil
	case "application/openmetrics-text":
		return FormatOpenMetrics, nil
	case "application/vnd.google.protobuf":
		if p := params["proto"]; p != "" && p != "io.prometheus.client.MetricFamily" {
			return FormatText, fmt.Errorf("unsupported protobuf message %q in content type %q", p, ct)
		}
		if e := params["encoding"]; e != "" && e != "delimited" {
			return FormatText, fmt.Errorf("unsupported protobuf encoding %q in content type %q (only delimited is)", e, ct)
		}
		return FormatProtobuf, nil
	}
	return FormatText, fmt.Errorf("unsupported content type %q (want text/plain, application/openmetrics-text or application/vnd.google.protobuf)", ct)
}

// ParseResult is what parsing one exposition yields.
type ParseResult struct {
	Families []Family
	// Warnings are problems that did not stop the parse, such as duplicate
	// series (the first one is kept, as Prometheus keeps the first sample).
	Warnings []string
}

// ParseError is a parse failure with the line it happened on.
type ParseError struct {
	Line int
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parse parses a whole exposition body with no limits. Label strings of
// the text format point into body, so the caller must not modify body
// while it uses the result.
func Parse(body []byte, f Format) (*ParseResult, error) {
	return ParseWith(context.Background(), body, f, Limits{})
}

// ParseWith parses a whole body within ctx and lim.
func ParseWith(ctx context.Context, body []byte, f Format, lim Limits) (*ParseResult, error) {
	res := &ParseResult{}
	var err error
	res.Warnings, err = ParseStream(ctx, body, f, lim, func(fam *Family) error {
		res.Families = append(res.Families, *fam)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ParseStream parses body and hands each family to emit as soon as it is
// complete (for the text format; the others are parsed whole first), so
// that a large exposition can be written out without holding its model.
// It stops when ctx ends or an exposition breaks one of lim (a
// *LimitError). It returns the warnings; an error from emit stops the parse.
func ParseStream(ctx context.Context, body []byte, f Format, lim Limits, emit func(*Family) error) ([]string, error) {
	if f == FormatText {
		return parsePromText(ctx, body, lim, emit)
	}
	var res *ParseResult
	var err error
	if f == FormatProtobuf {
		res, err = parseProtobuf(ctx, body, lim)
	} else {
		res, err = parseOpenMetrics(ctx, body, lim)
	}
	if err != nil {
		return nil, err
	}
	for i := range res.Families {
		if err := emit(&res.Families[i]); err != nil {
			return res.Warnings, err
		}
	}
	return res.Warnings, nil
}

// parseOpenMetrics runs textparse's OpenMetrics parser and the builder.
// textparse panics on some malformed label sets (such as "{A} 0" at
// v0.307.3); a body must never take monctl down, so a panic of the
// parser is an error about that body.
func parseOpenMetrics(ctx context.Context, body []byte, lim Limits) (res *ParseResult, err error) {
	b := newBuilder(ctx, lim)
	b.body = body
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, &ParseError{Line: b.errorLine(body), Err: fmt.Errorf("the OpenMetrics parser cannot read this line (%v)", r)}
		}
	}()
	if err := b.run(textparse.NewOpenMetricsParser(body, labels.NewSymbolTable())); err != nil {
		return nil, &ParseError{Line: b.errorLine(body), Err: err}
	}
	return &ParseResult{Families: b.fams}, nil
}
