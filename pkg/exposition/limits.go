package exposition

import (
	"context"
	"errors"
	"fmt"
)

// Limits are Prometheus' per-target scrape limits (scrape_config's
// sample_limit, label_limit, label_name_length_limit,
// label_value_length_limit and bucket_limit), applied while parsing so
// that a target over one fails as a whole, early, and says which limit it
// broke. Zero means no limit. The body size limit is the Scraper's, since
// it applies before parsing.
type Limits struct {
	// Samples bounds the samples of one exposition: each line of the text
	// formats (every bucket, _count and _sum of a histogram counts), each
	// native histogram once.
	Samples int `yaml:"sample_limit,omitempty"`
	// Labels bounds the labels of one sample, __name__ and le/quantile
	// included, as Prometheus counts them.
	Labels int `yaml:"label_limit,omitempty"`
	// LabelNameLength and LabelValueLength bound a label's name and value,
	// in bytes.
	LabelNameLength  int `yaml:"label_name_length_limit,omitempty"`
	LabelValueLength int `yaml:"label_value_length_limit,omitempty"`
	// Buckets bounds the buckets of one histogram. Prometheus applies it to
	// native histograms; monctl applies it to classic ones too, since a
	// histogram with 300,000 buckets is as costly either way.
	Buckets int `yaml:"bucket_limit,omitempty"`
}

// LimitError says which limit an exposition broke.
type LimitError struct {
	Limit string // the scrape_config name: sample_limit, label_limit, ...
	Max   int
	// Detail names what broke it (a series, a count).
	Detail string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s of %d exceeded: %s", e.Limit, e.Max, e.Detail)
}

// ErrLimit matches every LimitError with errors.Is.
var ErrLimit = errors.New("scrape limit exceeded")

// Is makes errors.Is(err, ErrLimit) true for every LimitError.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// checkLabels applies the label limits to one sample's labels; __name__
// and extra more (le or quantile, when ls lacks them) count too.
func (l *Limits) checkLabels(name string, ls Labels, extra int) error {
	if l.Labels == 0 && l.LabelNameLength == 0 && l.LabelValueLength == 0 {
		return nil // asked for every sample: no limits is the common case
	}
	if n := len(ls) + 1 + extra; l.Labels > 0 && n > l.Labels {
		return &LimitError{"label_limit", l.Labels, fmt.Sprintf("%q has %d labels", abbrev(name), n)}
	}
	for _, lb := range ls {
		if l.LabelNameLength > 0 && len(lb.Name) > l.LabelNameLength {
			return &LimitError{"label_name_length_limit", l.LabelNameLength, fmt.Sprintf("%q has a label name of %d bytes (%q)", abbrev(name), len(lb.Name), abbrev(lb.Name))}
		}
		if l.LabelValueLength > 0 && len(lb.Value) > l.LabelValueLength {
			return &LimitError{"label_value_length_limit", l.LabelValueLength, fmt.Sprintf("%q has a value of %d bytes for label %q", abbrev(name), len(lb.Value), abbrev(lb.Name))}
		}
	}
	return nil
}

func (l *Limits) checkSamples(n int) error {
	if l.Samples > 0 && n > l.Samples {
		return &LimitError{"sample_limit", l.Samples, fmt.Sprintf("more than %d samples", l.Samples)}
	}
	return nil
}

func (l *Limits) checkBuckets(name string, n int) error {
	if l.Buckets > 0 && n > l.Buckets {
		return &LimitError{"bucket_limit", l.Buckets, fmt.Sprintf("histogram %q has more than %d buckets", abbrev(name), l.Buckets)}
	}
	return nil
}

// checkFamily applies every limit to a family parsed whole (protobuf).
func (l *Limits) checkFamily(f *Family, samples *int) error {
	if *l == (Limits{}) {
		return nil
	}
	extra := 0 // le or quantile
	if f.Type.HasQuantiles() {
		extra = 1
	}
	for i := range f.Metrics {
		m := &f.Metrics[i]
		if err := l.checkLabels(f.Name, m.Labels, extra); err != nil {
			return err
		}
		n := len(m.Buckets)
		if m.Native != nil {
			n = len(m.Native.PositiveBuckets) + len(m.Native.NegativeBuckets)
		}
		if err := l.checkBuckets(f.Name, n); err != nil {
			return err
		}
	}
	*samples += f.SeriesCount()
	return l.checkSamples(*samples)
}

// ctxCheckEvery is how many lines or entries a parser handles between two
// looks at its context: often enough to stop within milliseconds, rarely
// enough to cost nothing.
const ctxCheckEvery = 4096

// checkCtx is nil while ctx runs, else the reason it stopped, worded for
// a parse.
func checkCtx(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	return fmt.Errorf("parsing stopped: %w", context.Cause(ctx))
}
