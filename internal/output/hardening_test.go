package output

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	"github.com/monctl/monctl/pkg/exposition"
)

func gaugeFam(name string, ls exposition.Labels, v float64) exposition.Family {
	return exposition.Family{Name: name, Type: exposition.Gauge, Metrics: []exposition.Metric{{Labels: ls, Value: v}}}
}

// TestEscapeForTerminals: item 6 — nothing reaches a terminal raw.
func TestEscapeForTerminals(t *testing.T) {
	evil := "\x1b[2J\x1b]0;pwned\x07\rCR\nnext\u0085\xff"
	got := Escape(evil)
	for _, c := range []string{"\x1b", "\x07", "\r", "\n", "\u0085", "\xff"} {
		if strings.Contains(got, c) {
			t.Errorf("Escape left %q in %q", c, got)
		}
	}
	if got != `\x1b[2J\x1b]0;pwned\a\rCR\nnext\u0085\xff` {
		t.Errorf("Escape = %q", got)
	}
	if Escape("plain ünïcode") != "plain ünïcode" {
		t.Error("printable text must stay as it is")
	}

	var buf bytes.Buffer
	if err := WriteTable(&buf, Terminal{}, []string{"NAME", "LABELS"}, [][]string{{"evil\nname", `l="` + evil + `"`}}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), "\n") != 2 || strings.ContainsAny(buf.String(), "\x1b\x07\r") {
		t.Errorf("table let control characters through:\n%q", buf.String())
	}

	tmpl, err := ParseTemplate("{{.Name}} {{index .Labels \"l\"}}")
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	type rec struct {
		Name   string
		Labels map[string]string
	}
	if err := tmpl.Execute(&buf, []any{rec{Name: "a\nb", Labels: map[string]string{"l": evil}}}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), "\n") != 1 || strings.ContainsAny(buf.String(), "\x1b\x07\r") {
		t.Errorf("--format let control characters through: %q", buf.String())
	}

	buf.Reset()
	EscapingWriter(&buf).Write([]byte("monctl: " + evil + "\n"))
	if strings.ContainsAny(buf.String(), "\x1b\x07\r") || !strings.HasSuffix(buf.String(), "\n") {
		t.Errorf("stderr writer: %q", buf.String())
	}
}

// TestInfluxAgainstTheReference: item 7 — every line monctl writes
// decodes with influxdata's own decoder to the same name, tags, value and
// time; what line protocol cannot hold is left out with a warning.
func TestInfluxAgainstTheReference(t *testing.T) {
	at := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		name   string
		fam    exposition.Family
		ts     int64 // exposed timestamp in ms, 0 for none
		tags   map[string]string
		skip   bool
		reason string
	}{
		{"empty tag omitted", gaugeFam("a", exposition.Labels{{Name: "e", Value: ""}, {Name: "x", Value: "1"}}, 1), 0, map[string]string{"x": "1"}, false, ""},
		{"backslash inside", gaugeFam("a", exposition.Labels{{Name: "v", Value: `x\y`}}, 1), 0, map[string]string{"v": `x\y`}, false, ""},
		{"spaces, commas, equals", gaugeFam("m e,a=s", exposition.Labels{{Name: "k y,=", Value: "v a,l=ue"}}, 2), 0, map[string]string{"k y,=": "v a,l=ue"}, false, ""},
		{"trailing backslash", gaugeFam("a", exposition.Labels{{Name: "v", Value: `x\`}}, 1), 0, nil, true, "tag value"},
		{"raw tab", gaugeFam("a", exposition.Labels{{Name: "v", Value: "a\tb"}}, 1), 0, nil, true, "tag value"},
		{"comment name", gaugeFam("#c", nil, 1), 0, nil, true, "comment"},
		{"timestamp past 2262", gaugeFam("a", nil, 1), 1700000000000000, nil, true, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.fam
			if tc.ts != 0 {
				f.Metrics[0].TimestampMs, f.Metrics[0].HasTimestamp = tc.ts, true
			}
			var buf bytes.Buffer
			warns, err := WriteInflux(&buf, []Source{{Target: "t", Time: at, Families: []exposition.Family{f}}})
			if err != nil {
				t.Fatal(err)
			}
			if tc.skip {
				if buf.Len() != 0 || len(warns) != 1 || !strings.Contains(warns[0], tc.reason) {
					t.Errorf("wrote %q, warnings %q; want nothing and a warning saying %q", buf.String(), warns, tc.reason)
				}
				return
			}
			dec := lineprotocol.NewDecoderWithBytes(buf.Bytes())
			if !dec.Next() {
				t.Fatalf("no line in %q", buf.String())
			}
			m, err := dec.Measurement()
			if err != nil || string(m) != f.Name {
				t.Errorf("measurement %q (%v), want %q", m, err, f.Name)
			}
			tags := map[string]string{}
			for {
				k, v, err := dec.NextTag()
				if err != nil {
					t.Fatal(err)
				}
				if k == nil {
					break
				}
				tags[string(k)] = string(v)
			}
			if len(tags) != len(tc.tags) {
				t.Errorf("tags %v, want %v", tags, tc.tags)
			}
			for k, v := range tc.tags {
				if tags[k] != v {
					t.Errorf("tag %q = %q, want %q", k, tags[k], v)
				}
			}
			k, v, err := dec.NextField()
			if err != nil || string(k) != "value" || v.FloatV() != f.Metrics[0].Value {
				t.Errorf("field %q=%v (%v)", k, v, err)
			}
			dec.NextField()
			if ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{}); err != nil || !ts.Equal(at) {
				t.Errorf("time %v (%v), want %v", ts, err, at)
			}
		})
	}
}

// FuzzInflux: for any name, label and value, what WriteInflux writes
// decodes (influxdata's decoder is the oracle) to exactly what went in,
// or nothing is written and a warning says why.
func FuzzInflux(f *testing.F) {
	f.Add("a", "l", "v", 1.5)
	f.Add("#c", "l", "", 1.0)
	f.Add("a b", "l,=", `x\`, -2.0)
	f.Add("a", "l", "a\tb\nc", math.Inf(1))
	f.Fuzz(func(t *testing.T, name, lname, lvalue string, v float64) {
		fam := gaugeFam(name, exposition.Labels{{Name: lname, Value: lvalue}}, v)
		var buf bytes.Buffer
		warns, err := WriteInflux(&buf, []Source{{Target: "t", Time: time.Unix(1, 0), Families: []exposition.Family{fam}}})
		if err != nil {
			t.Fatal(err)
		}
		if buf.Len() == 0 {
			if len(warns) == 0 && !math.IsNaN(v) && !math.IsInf(v, 0) {
				t.Fatalf("nothing written and no warning for %q %q=%q %v", name, lname, lvalue, v)
			}
			return
		}
		dec := lineprotocol.NewDecoderWithBytes(buf.Bytes())
		if !dec.Next() {
			t.Fatalf("no line in %q", buf.String())
		}
		m, err := dec.Measurement()
		if err != nil || string(m) != name {
			t.Fatalf("measurement %q (%v), want %q in %q", m, err, name, buf.String())
		}
		k, val, err := dec.NextTag()
		switch {
		case err != nil:
			t.Fatalf("tag: %v in %q", err, buf.String())
		case lvalue == "" && k != nil:
			t.Fatalf("an empty tag was written: %q", buf.String())
		case lvalue != "" && (string(k) != lname || string(val) != lvalue):
			t.Fatalf("tag %q=%q, want %q=%q in %q", k, val, lname, lvalue, buf.String())
		}
		if lvalue != "" {
			if k, _, _ := dec.NextTag(); k != nil {
				t.Fatalf("a second tag in %q", buf.String())
			}
		}
		if _, fv, err := dec.NextField(); err != nil || fv.FloatV() != v {
			t.Fatalf("field %v (%v), want %v", fv, err, v)
		}
	})
}

// TestSeveralTargetsOneRule: item 8 — merging targets follows serve's
// target-label rule and writes no series twice.
func TestSeveralTargetsOneRule(t *testing.T) {
	srcs := []Source{
		{Target: "tc.prom", Families: []exposition.Family{gaugeFam("y", exposition.Labels{{Name: "target", Value: ""}}, 1)}},
		{Target: "b", Families: []exposition.Family{gaugeFam("y", exposition.Labels{{Name: "target", Value: "a"}}, 2)}},
		{Target: "b", Families: []exposition.Family{gaugeFam("y", exposition.Labels{{Name: "target", Value: "a"}}, 3)}},
	}
	var buf bytes.Buffer
	warns, err := WriteExposition(&buf, srcs, Prom)
	if err != nil {
		t.Fatal(err)
	}
	want := "# TYPE y gauge\ny{target=\"tc.prom\"} 1\ny{exported_target=\"a\",target=\"b\"} 2\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "twice") {
		t.Errorf("warnings %q should name the duplicate", warns)
	}
	buf.Reset()
	if _, err := WriteInflux(&buf, srcs[:2]); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "y,target=tc.prom value=1\ny,exported_target=a,target=b value=2\n" {
		t.Errorf("influx: %q", buf.String())
	}
}

// TestWritersWriteWhatTheModelHolds: items 9 and 10.
func TestWritersWriteWhatTheModelHolds(t *testing.T) {
	om := "# TYPE h histogram\nh_bucket{le=\"-1\"} 1\nh_bucket{le=\"+Inf\"} 2\n" +
		"# TYPE s summary\ns{quantile=\"0.5\"} 1\n" +
		"# TYPE c counter\nc_total 1 # {trace=\"x\"} 1 1.7268398142239082e+09\n# EOF\n"
	res, err := exposition.Parse([]byte(om), exposition.FormatOpenMetrics)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := WriteExposition(&buf, []Source{{Target: "t", Families: res.Families}}, OpenMetrics); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, bad := range []string{"h_sum", "h_count", "s_sum", "s_count"} {
		if strings.Contains(out, bad) {
			t.Errorf("OpenMetrics output invents %s:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "1.7268398142239082e+09") && !strings.Contains(out, "1726839814.2239082") {
		t.Errorf("exemplar time lost precision:\n%s", out)
	}
	if _, err := exposition.Parse(buf.Bytes(), exposition.FormatOpenMetrics); err != nil {
		t.Errorf("monctl cannot read its own OpenMetrics: %v\n%s", err, out)
	}

	// A native histogram: the text formats warn, protobuf carries it.
	native := exposition.Family{Name: "n", Type: exposition.Histogram}
	body := nativeBody(t)
	res, err = exposition.Parse(body, exposition.FormatProtobuf)
	if err != nil {
		t.Fatal(err)
	}
	native = res.Families[0]
	buf.Reset()
	warns, err := WriteExposition(&buf, []Source{{Families: []exposition.Family{native}}}, Prom)
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0], "native histograms written without their buckets") {
		t.Errorf("-o prom of a native histogram: warnings %q, %v", warns, err)
	}
	buf.Reset()
	if _, err := WriteExposition(&buf, []Source{{Families: []exposition.Family{native}}}, Protobuf); err != nil {
		t.Fatal(err)
	}
	back, err := exposition.Parse(buf.Bytes(), exposition.FormatProtobuf)
	if err != nil {
		t.Fatal(err)
	}
	got, want := back.Families[0].Metrics[0].Native, native.Metrics[0].Native
	if got == nil || got.String() != want.String() {
		t.Errorf("-o protobuf lost the native histogram: %v, want %v", got, want)
	}
}

// nativeBody is one native histogram as delimited protobuf.
func nativeBody(t *testing.T) []byte {
	t.Helper()
	h := &dto.Histogram{SampleCount: proto.Uint64(5), SampleSum: proto.Float64(3), Schema: proto.Int32(0), ZeroThreshold: proto.Float64(1e-128),
		ZeroCount: proto.Uint64(1), PositiveSpan: []*dto.BucketSpan{{Offset: proto.Int32(0), Length: proto.Uint32(2)}}, PositiveDelta: []int64{2, 0}}
	mf := &dto.MetricFamily{Name: proto.String("n"), Type: dto.MetricType_HISTOGRAM.Enum(), Metric: []*dto.Metric{{Histogram: h}}}
	var b bytes.Buffer
	if _, err := protodelim.MarshalTo(&b, mf); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
