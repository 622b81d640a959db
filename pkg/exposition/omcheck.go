package exposition

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
)

// The rules below are the semantic part of OpenMetrics 1.0 that textparse
// (a lenient scraper's parser) does not enforce. They follow the reference
// parser's test suite, which internal/conformance loads.

// maxExemplarRunes is OpenMetrics' limit on an exemplar's label set.
const maxExemplarRunes = 128

func omCheckSample(f *Family, name, suffix string, ls *labels.Labels, raw []byte, v float64, ex *Exemplar) error {
	if ex != nil {
		allowed := (f.Type == Counter && suffix == "_total") || (f.Type.IsHistogram() && suffix == "_bucket")
		if !allowed {
			return fmt.Errorf("%s: exemplars are only allowed on counter _total and histogram _bucket samples", name)
		}
		n := 0
		for _, l := range ex.Labels {
			n += utf8.RuneCountInString(l.Name) + utf8.RuneCountInString(l.Value)
		}
		if n > maxExemplarRunes {
			return fmt.Errorf("%s: exemplar labels have %d characters, more than the %d allowed", name, n, maxExemplarRunes)
		}
	}
	notNegative := func(what string) error {
		if math.IsNaN(v) {
			return fmt.Errorf("%s: %s must not be NaN", name, what)
		}
		if v < 0 {
			return fmt.Errorf("%s: %s must not be negative, got %g", name, what, v)
		}
		return nil
	}
	switch f.Type {
	case Counter:
		if suffix == "_total" {
			return notNegative("a counter's value")
		}
	case Histogram, GaugeHistogram:
		switch suffix {
		case "_bucket":
			le := rawLabel(raw, "le")
			if le == nil {
				return fmt.Errorf("%s: histogram bucket without le label", name)
			}
			if !omNumber.Match(le) {
				return fmt.Errorf("%s: le=%q is not a valid OpenMetrics number", name, le)
			}
			return notNegative("a bucket count")
		case "_count", "_gcount":
			return notNegative("a histogram count")
		case "_sum":
			return notNegative("a histogram sum")
		case "_gsum":
			if math.IsNaN(v) {
				return fmt.Errorf("%s: a gauge histogram sum must not be NaN", name)
			}
		}
	case Summary:
		switch suffix {
		case "":
			q := ls.Get("quantile")
			if q == "" {
				return fmt.Errorf("%s: summary sample without quantile label", name)
			}
			qv, err := parseBound(q)
			if err != nil || qv < 0 || qv > 1 {
				return fmt.Errorf("%s: quantile=%q must be a number between 0 and 1", name, q)
			}
			if v < 0 {
				return fmt.Errorf("%s: a quantile's value must not be negative, got %g", name, v)
			}
		case "_count", "_sum":
			return notNegative("a summary " + suffix[1:])
		}
	case StateSet:
		if !ls.Has(f.Name) {
			return fmt.Errorf("%s: stateset sample without a %q label naming its state", name, f.Name)
		}
		if v != 0 && v != 1 {
			return fmt.Errorf("%s: a stateset value must be 0 or 1, got %g", name, v)
		}
	case Info:
		if v != 1 {
			return fmt.Errorf("%s: an info value must be 1, got %g", name, v)
		}
	}
	return nil
}

// omNumber is OpenMetrics' realnumber, as written in an le label.
var omNumber = regexp.MustCompile(`^(?:[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN)$`)

// rawLabel returns the unparsed value of a label in a series' text, so that
// spellings textparse normalises away (+INF) can still be judged.
func rawLabel(series []byte, name string) []byte {
	key := []byte(name + `="`)
	for off := 0; ; {
		i := bytes.Index(series[off:], key)
		if i < 0 {
			return nil
		}
		i += off
		if i > 0 && (series[i-1] == '{' || series[i-1] == ',') {
			v := series[i+len(key):]
			if j := bytes.IndexByte(v, '"'); j >= 0 {
				return v[:j]
			}
			return nil
		}
		off = i + len(key)
	}
}

// omCheckRepeat allows a series to appear again only with a timestamp no
// earlier than the one before.
func omCheckRepeat(prev *Metric, ts *int64) error {
	if ts == nil || !prev.HasTimestamp {
		return errors.New("a series may only repeat when every sample of it has a timestamp")
	}
	if *ts < prev.TimestampMs {
		return fmt.Errorf("timestamp %d ms is earlier than the previous sample's %d ms", *ts, prev.TimestampMs)
	}
	return nil
}

// omCheckNextBucket checks a bucket against the one exposed before it.
func omCheckNextBucket(prev Bucket, le, count float64) error {
	if err := checkNextBound(prev.UpperBound, le); err != nil {
		return err
	}
	if count < prev.Count {
		return fmt.Errorf("bucket le=%g has count %g, less than the %g of the bucket before; buckets are cumulative", le, count, prev.Count)
	}
	return nil
}

// omFinishMetric checks a histogram as a whole once all its lines are in.
func omFinishMetric(f *Family, m *Metric) error {
	if !f.Type.IsHistogram() {
		return nil
	}
	id := f.Name
	if len(m.Labels) > 0 {
		id += m.Labels.String()
	}
	count, sum := "_count", "_sum"
	if f.Type == GaugeHistogram {
		count, sum = "_gcount", "_gsum"
	}
	n := len(m.Buckets)
	if n == 0 || !math.IsInf(m.Buckets[n-1].UpperBound, 1) {
		return fmt.Errorf("histogram %s has no +Inf bucket", id)
	}
	if m.HasCount != m.HasSum {
		return fmt.Errorf("histogram %s must have both %s and %s or neither", id, count, sum)
	}
	if m.HasCount && m.Count != m.Buckets[n-1].Count {
		return fmt.Errorf("histogram %s: %s is %g but the +Inf bucket counts %g", id, count, m.Count, m.Buckets[n-1].Count)
	}
	negative := m.Buckets[0].UpperBound < 0
	switch {
	case f.Type == Histogram && negative && m.HasSum:
		return fmt.Errorf("histogram %s has negative buckets, so it must not have %s", id, sum)
	case f.Type == GaugeHistogram && !negative && m.Sum < 0:
		return fmt.Errorf("gauge histogram %s has no negative buckets, so %s must not be negative", id, sum)
	}
	return nil
}

// checkNextBound checks that a bucket's bound comes after the one exposed
// before it, as every format requires.
func checkNextBound(prev, le float64) error {
	switch {
	case le == prev:
		return fmt.Errorf("duplicate bucket le=%g", le)
	case le < prev:
		return fmt.Errorf("bucket le=%g comes after le=%g; buckets must be in increasing order", le, prev)
	}
	return nil
}

// duplicateQuantile returns a quantile that sorted qs holds twice.
func duplicateQuantile(qs []Quantile) (float64, bool) {
	for i := 1; i < len(qs); i++ {
		if qs[i].Quantile == qs[i-1].Quantile {
			return qs[i].Quantile, true
		}
	}
	return 0, false
}
