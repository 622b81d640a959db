package exposition

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

func TestBucketQuantile(t *testing.T) {
	inf := math.Inf(1)
	bs := []Bucket{{0.1, 50, nil}, {0.5, 80, nil}, {1, 95, nil}, {inf, 100, nil}}
	for _, tc := range []struct {
		q, want float64
	}{
		{0.5, 0.1},                 // rank 50 ends the first bucket
		{0.25, 0.05},               // interpolated from 0
		{0.9, 0.5 + 0.5*(10.0/15)}, // inside the third bucket
		{0.99, 1},                  // in +Inf: the highest finite bound
		{-1, math.Inf(-1)},
		{2, inf},
	} {
		if got := BucketQuantile(tc.q, bs); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("q=%v: got %v, want %v", tc.q, got, tc.want)
		}
	}
	if !math.IsNaN(BucketQuantile(0.5, []Bucket{{1, 3, nil}})) {
		t.Error("without +Inf the quantile is undefined")
	}
	if !math.IsNaN(BucketQuantile(0.5, []Bucket{{1, 0, nil}, {inf, 0, nil}})) {
		t.Error("no observations: NaN")
	}
	// Non-monotonic buckets are smoothed like PromQL does.
	if got := BucketQuantile(0.5, []Bucket{{1, 10, nil}, {2, 8, nil}, {inf, 10, nil}}); got != 0.5 {
		t.Errorf("non-monotonic: got %v", got)
	}
	// A first bucket with a negative bound answers with that bound.
	if got := BucketQuantile(0.1, []Bucket{{-1, 5, nil}, {inf, 10, nil}}); got != -1 {
		t.Errorf("negative first bucket: got %v", got)
	}
}

func TestApplyRatesCountsResetsFromZero(t *testing.T) {
	prev := []Family{{Name: "c_total", Type: Counter, Metrics: []Metric{{Labels: Labels{{"a", "1"}}, Value: 100}, {Labels: Labels{{"a", "2"}}, Value: 10}}},
		{Name: "h", Type: Histogram, Metrics: []Metric{{Count: 10, Sum: 5}}}}
	cur := []Family{{Name: "c_total", Type: Counter, Metrics: []Metric{{Labels: Labels{{"a", "1"}}, Value: 4}, {Labels: Labels{{"a", "2"}}, Value: 30}, {Labels: Labels{{"a", "3"}}, Value: 1}}},
		{Name: "h", Type: Histogram, Metrics: []Metric{{Count: 30, Sum: 7}}}}
	ApplyRates(prev, cur, 2)
	c := cur[0].Metrics
	if c[0].Rate == nil || c[0].Rate.Value != 2 || !c[0].Rate.Reset {
		t.Errorf("reset: %+v", c[0].Rate)
	}
	if c[1].Rate.Value != 10 || c[1].Rate.Reset {
		t.Errorf("increase: %+v", c[1].Rate)
	}
	if c[2].Rate != nil {
		t.Errorf("a new series has no rate: %+v", c[2].Rate)
	}
	if h := cur[1].Metrics[0].Rate; h.Count != 10 || h.Sum != 1 {
		t.Errorf("histogram: %+v", h)
	}
}

func TestSelector(t *testing.T) {
	res, err := Parse([]byte("# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"2\"} 2\n# TYPE g gauge\ng 3\n"), FormatText)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		match, types []string
		want         string
	}{
		{[]string{`a_total{x="2"}`}, nil, "a_total:1"},
		{[]string{`a{x=~"1|2"}`}, nil, "a_total:2"}, // OpenMetrics spelling of the counter
		{[]string{`{__name__=~"a.*|g"}`}, nil, "a_total:2 g:1"},
		{[]string{`g`, `a_total{x="1"}`}, nil, "a_total:1 g:1"},
		{nil, []string{"gauge"}, "g:1"},
		{[]string{`{__name__!="g"}`}, nil, "a_total:2"},
	} {
		s, err := NewSelector(tc.match, tc.types)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range s.Filter(res.Families) {
			got = append(got, f.Name+":"+string(rune('0'+len(f.Metrics))))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%v %v: got %v, want %s", tc.match, tc.types, got, tc.want)
		}
	}
}

func TestProtobufWithNativeHistogram(t *testing.T) {
	mf := &dto.MetricFamily{
		Name: proto.String("lat_seconds"), Help: proto.String("h"), Type: dto.MetricType_HISTOGRAM.Enum(),
		Metric: []*dto.Metric{{
			Label: []*dto.LabelPair{{Name: proto.String("b"), Value: proto.String("2")}, {Name: proto.String("a"), Value: proto.String("1")}},
			Histogram: &dto.Histogram{
				SampleCount: proto.Uint64(10), SampleSum: proto.Float64(12), Schema: proto.Int32(0),
				ZeroThreshold: proto.Float64(0.001), ZeroCount: proto.Uint64(1),
				PositiveSpan:  []*dto.BucketSpan{{Offset: proto.Int32(0), Length: proto.Uint32(3)}},
				PositiveDelta: []int64{2, 1, 1}, // absolute 2, 3, 4 in (0.5,1], (1,2], (2,4]
			},
		}},
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeProtoDelim))
	if err := enc.Encode(mf); err != nil {
		t.Fatal(err)
	}
	res, err := Parse(buf.Bytes(), FormatProtobuf)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Families[0].Metrics[0]
	if m.Labels.String() != `{a="1", b="2"}` || m.Native == nil || m.Count != 10 {
		t.Fatalf("got %+v", m)
	}
	if got := m.Native.PositiveBuckets; len(got) != 3 || got[2] != 4 {
		t.Errorf("buckets %v", got)
	}
	// rank 5 of 10: zero bucket 1, (0.5,1] 2, then 2 more of 3 in (1,2]
	q := NativeQuantile(0.5, m.Native)
	if want := math.Exp2(2.0 / 3); math.Abs(q-want) > 1e-9 {
		t.Errorf("median %v, want %v (exponential interpolation)", q, want)
	}
}

func TestTextParserErrorsNameTheLine(t *testing.T) {
	for body, want := range map[string]string{
		"a 1\nb{x=\"1\" 2\n":               "line 2",
		"a 1\n\n# TYPE a gauge\n":          "TYPE line for metric family \"a\" after its samples",
		"# TYPE a nope\n":                  `unknown metric type "nope"`,
		"a{x=1} 1\n":                       "value must be quoted",
		"a one\n":                          `invalid value "one"`,
		"a 1 soon\n":                       `invalid timestamp "soon"`,
		"a{x=\"1\",x=\"2\"} 1\n":           `label "x" appears twice`,
		"# TYPE h histogram\nh_bucket 1\n": "missing le label",
		"a{x:y=\"1\"} 1\n":                 "label x: expected '=' at \":y",
	} {
		_, err := Parse([]byte(body), FormatText)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", body, err, want)
		}
	}
}

func TestTextFormatUTF8Names(t *testing.T) {
	res, err := Parse([]byte("# TYPE \"my.metric\" gauge\n{\"my.metric\",\"label.with.dots\"=\"v\"} 1\n"), FormatText)
	if err != nil {
		t.Fatal(err)
	}
	f := res.Families[0]
	if f.Name != "my.metric" || f.Type != Gauge || f.Metrics[0].Labels.Get("label.with.dots") != "v" {
		t.Fatalf("got %+v", f)
	}
}

func TestGuessContentType(t *testing.T) {
	mf := &dto.MetricFamily{Name: proto.String("g"), Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(1)}}}}
	var pb bytes.Buffer
	if err := expfmt.NewEncoder(&pb, expfmt.NewFormat(expfmt.TypeProtoDelim)).Encode(mf); err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string]Format{
		pb.String():           FormatProtobuf,
		"a 1\n# EOF\n":        FormatOpenMetrics,
		"# TYPE a gauge\na 1": FormatText,
	} {
		f, err := FormatFromContentType(GuessContentType([]byte(body)))
		if err != nil || f != want {
			t.Errorf("%q: guessed %v (%v), want %v", body, f, err, want)
		}
	}
}

func TestWithTargetLabel(t *testing.T) {
	for _, c := range []struct {
		in   Labels
		want string
	}{
		{nil, `{target="t"}`},
		{Labels{{"a", "1"}, {"z", "2"}}, `{a="1", target="t", z="2"}`},
		{Labels{{"A", "1"}, {"_x", "2"}}, `{A="1", _x="2", target="t"}`},
		{Labels{{"a", "1"}, {"target", ""}}, `{a="1", target="t"}`},                                                                  // empty counts as absent
		{Labels{{"target", "mine"}}, `{exported_target="mine", target="t"}`},                                                         // kept as exported_
		{Labels{{"exported_target", "x"}, {"target", "mine"}}, `{exported_exported_target="mine", exported_target="x", target="t"}`}, // and further out
		{Labels{{"z", "2"}, {"a", "1"}}, `{a="1", target="t", z="2"}`},                                                               // unsorted in, sorted out
	} {
		in := slices.Clone(c.in)
		if got := WithTargetLabel(c.in, "target", "t").String(); got != c.want {
			t.Errorf("%v: got %s, want %s", c.in, got, c.want)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("%v was changed", in)
		}
	}
}
