package exposition

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"
)

// manyLabels is one series with n labels, in the text format.
func manyLabels(n int) []byte {
	var b bytes.Buffer
	b.WriteString("wide{")
	for i := range n {
		fmt.Fprintf(&b, `l%06d="v",`, n-i) // reverse order: the worst case for an insertion sort
	}
	b.WriteString("} 1\n")
	return b.Bytes()
}

// manyBuckets is one histogram with n buckets, in reverse order.
func manyBuckets(n int) []byte {
	var b bytes.Buffer
	b.WriteString("# TYPE h histogram\n")
	for i := n; i > 0; i-- {
		fmt.Fprintf(&b, "h_bucket{le=\"%d\"} %d\n", i, i)
	}
	fmt.Fprintf(&b, "h_bucket{le=\"+Inf\"} %d\nh_count %d\nh_sum 1\n", n, n)
	return b.Bytes()
}

// TestParseTimeIsLinear compares the work of a shape at n and 8n: a
// quadratic parser does 64 times the work, a linear one 8 (with slack for
// n log n and noise, 30). Allocations, unlike time, do not depend on the
// machine's load.
func TestParseTimeIsLinear(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  func(int) []byte
		n    int
	}{
		{"labels per series", manyLabels, 8000},
		{"buckets per histogram", manyBuckets, 8000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := func(n int) time.Duration {
				body := tc.gen(n)
				best := time.Duration(math.MaxInt64)
				for range 5 {
					start := time.Now()
					if _, err := Parse(body, FormatText); err != nil {
						t.Fatal(err)
					}
					best = min(best, time.Since(start))
				}
				return best
			}
			small, large := work(tc.n), work(8*tc.n)
			// Both timings come from the same moment on the same machine:
			// the ratio, not the time, is what is judged.
			if ratio := float64(large) / float64(max(small, time.Microsecond)); ratio > 30 {
				t.Errorf("8× the input took %.0f× the time (%s vs %s): not linear", ratio, large, small)
			}
		})
	}
}

func TestParseStopsWithContext(t *testing.T) {
	body := bytes.Repeat([]byte("a_total 1\n"), 100000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ParseWith(ctx, body, FormatText, Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled parse: %v", err)
	}
}

func TestLimits(t *testing.T) {
	hist := "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_count 3\nh_sum 1\n"
	for _, tc := range []struct {
		name, body string
		lim        Limits
		want       string // the limit named, "" for none
	}{
		{"samples", "a 1\nb 2\nc 3\n", Limits{Samples: 2}, "sample_limit"},
		{"samples at the limit", "a 1\nb 2\n", Limits{Samples: 2}, ""},
		{"histogram lines count", hist, Limits{Samples: 4}, "sample_limit"},
		{"labels", `a{x="1",y="2"} 1` + "\n", Limits{Labels: 2}, "label_limit"},
		{"labels with name", `a{x="1"} 1` + "\n", Limits{Labels: 2}, ""},
		{"name length", `a{long_name="1"} 1` + "\n", Limits{LabelNameLength: 4}, "label_name_length_limit"},
		{"value length", `a{x="12345"} 1` + "\n", Limits{LabelValueLength: 4}, "label_value_length_limit"},
		{"buckets", hist, Limits{Buckets: 2}, "bucket_limit"},
		{"buckets at the limit", hist, Limits{Buckets: 3}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			formats := map[Format][]byte{FormatText: []byte(tc.body)}
			if res, err := Parse([]byte(tc.body), FormatText); err == nil {
				formats[FormatProtobuf] = toProtobuf(t, res.Families)
				formats[FormatOpenMetrics] = []byte(tc.body + "# EOF\n")
			}
			for f, body := range formats {
				_, err := ParseWith(context.Background(), body, f, tc.lim)
				var le *LimitError
				switch {
				case tc.want == "" && err != nil:
					t.Errorf("%s: %v", f, err)
				case tc.want != "" && (!errors.As(err, &le) || le.Limit != tc.want):
					t.Errorf("%s: got %v, want %s", f, err, tc.want)
				case tc.want != "" && !errors.Is(err, ErrLimit):
					t.Errorf("%s: %v is not ErrLimit", f, err)
				}
			}
		})
	}
}

func toProtobuf(t *testing.T, fams []Family) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, f := range fams {
		mf := &dto.MetricFamily{Name: proto.String(f.Name), Type: dto.MetricType_UNTYPED.Enum()}
		for _, m := range f.Metrics {
			pm := &dto.Metric{}
			for _, l := range m.Labels {
				pm.Label = append(pm.Label, &dto.LabelPair{Name: proto.String(l.Name), Value: proto.String(l.Value)})
			}
			if f.Type == Histogram {
				mf.Type = dto.MetricType_HISTOGRAM.Enum()
				h := &dto.Histogram{SampleCount: proto.Uint64(uint64(m.Count)), SampleSum: proto.Float64(m.Sum)}
				for _, bk := range m.Buckets[:len(m.Buckets)-1] {
					h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: proto.Float64(bk.UpperBound), CumulativeCount: proto.Uint64(uint64(bk.Count))})
				}
				pm.Histogram = h
			} else {
				pm.Untyped = &dto.Untyped{Value: proto.Float64(m.Value)}
			}
			mf.Metric = append(mf.Metric, pm)
		}
		if _, err := protodelim.MarshalTo(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// TestSplitFamiliesKeepTheFirst: a family whose samples come back after
// another family's keeps its first group and warns, in every mode, and
// what is kept writes out as valid exposition.
func TestSplitFamiliesKeepTheFirst(t *testing.T) {
	for _, tc := range []struct {
		name, body, want, warn string
		err                    string
	}{
		{"repeated family", "a 1\nb 1\na 2\n", "a=1 b=1", "a{} ignored", ""},
		{"repeated series in a new group", "# TYPE c counter\nc 1\nd 1\nc 5\n", "c=1 d=1", "c{} ignored", ""},
		{"TYPE after samples and another family", "a 1\nb 1\n# TYPE a counter\n", "", "", "TYPE line for metric family \"a\" after its samples"},
		{"HELP after samples and another family", "a 1\nb 1\n# HELP a late\n", "a=1 b=1", "HELP line", ""},
		{"plain sample inside a histogram", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh 5\n", "", "", "needs one of the suffixes"},
		{"le on a histogram's sum", "# TYPE a histogram\na_sum{le=\"0\"} 0\n", "", "", "only a_bucket carries a le label"},
		{"quantile on a summary's count", "# TYPE s summary\ns_count{quantile=\"0.5\"} 1\n", "", "", "carries a quantile label"},
		{"second _count", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_count 2\n", "h=1", "duplicate series h_count", ""},
		{"duplicate bucket", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\n", "h=3", `le="1"`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Parse([]byte(tc.body), FormatText)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Families {
				for _, m := range f.Metrics {
					v := m.Value
					if f.Type.IsHistogram() {
						v = m.Count
					}
					got = append(got, fmt.Sprintf("%s=%g", f.Name, v))
				}
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("kept %v, want %s", got, tc.want)
			}
			if !strings.Contains(strings.Join(res.Warnings, "\n"), tc.warn) {
				t.Errorf("warnings %q should mention %q", res.Warnings, tc.warn)
			}
			if tc.name == "duplicate bucket" && len(res.Families[0].Metrics[0].Buckets) != 2 {
				t.Errorf("buckets %v: the duplicate should be gone", res.Families[0].Metrics[0].Buckets)
			}
		})
	}
}

// TestStreamingKeepsNoFamilies: streaming a body of many one-series
// families holds little beyond the body (issue 9, item 5: 1.5M families
// peaked at 10× the body).
func TestStreamingKeepsNoFamilies(t *testing.T) {
	var b bytes.Buffer
	const n = 200000
	for i := range n {
		fmt.Fprintf(&b, "# HELP fam_%d Help.\n# TYPE fam_%d gauge\nfam_%d 1\n", i, i, i)
	}
	body := b.Bytes()
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	seen, held := 0, uint64(0)
	if _, err := ParseStream(context.Background(), body, FormatText, Limits{}, func(*Family) error {
		if seen++; seen == n {
			held = heap() - min(before, heap())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen != n {
		t.Fatalf("emitted %d families, want %d", seen, n)
	}
	// What grows with the families seen is a set of name hashes; the
	// families themselves are gone once emitted.
	if held > uint64(len(body))/2 {
		t.Errorf("the parser holds %d bytes for a body of %d: it keeps what it emitted", held, len(body))
	}
}

// TestProtobufValidation: the protobuf path refuses what the text formats
// cannot even express.
func TestProtobufValidation(t *testing.T) {
	gauge := func(name string, labels ...string) *dto.MetricFamily {
		m := &dto.Metric{Gauge: &dto.Gauge{Value: proto.Float64(1)}}
		for i := 0; i+1 < len(labels); i += 2 {
			m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(labels[i]), Value: proto.String(labels[i+1])})
		}
		return &dto.MetricFamily{Name: proto.String(name), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{m}}
	}
	hist := func(bounds ...float64) *dto.MetricFamily {
		h := &dto.Histogram{SampleCount: proto.Uint64(9), SampleSum: proto.Float64(1)}
		for i, b := range bounds {
			h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: proto.Float64(b), CumulativeCount: proto.Uint64(uint64(i + 1))})
		}
		return &dto.MetricFamily{Name: proto.String("h"), Type: dto.MetricType_HISTOGRAM.Enum(), Metric: []*dto.Metric{{Histogram: h}}}
	}
	for _, tc := range []struct {
		name string
		mf   *dto.MetricFamily
		want string
	}{
		{"empty name", gauge(""), "without a name"},
		{"invalid UTF-8 value", gauge("g", "a", "\xff"), "UTF-8"},
		{"invalid UTF-8 name", gauge("g\xff"), "UTF-8"},
		{"duplicate label", gauge("g", "a", "1", "a", "2"), `label "a" appears twice`},
		{"__name__ label", gauge("g", "__name__", "x"), "invalid label name"},
		{"duplicate bucket", hist(1, 1), "duplicate bucket"},
		{"decreasing buckets", hist(2, 1), "increasing order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if _, err := protodelim.MarshalTo(&b, tc.mf); err != nil {
				t.Fatal(err)
			}
			_, err := Parse(b.Bytes(), FormatProtobuf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	// A family sent twice keeps the first, as the text parser does.
	var b bytes.Buffer
	for _, v := range []float64{1, 2} {
		mf := gauge("g")
		mf.Metric[0].Gauge.Value = proto.Float64(v)
		protodelim.MarshalTo(&b, mf)
	}
	res, err := Parse(b.Bytes(), FormatProtobuf)
	if err != nil || len(res.Families) != 1 || res.Families[0].Metrics[0].Value != 1 || len(res.Warnings) != 1 {
		t.Fatalf("family sent twice: %+v, %v", res, err)
	}
}

// TestGuessFallsBack: a valid text exposition that ends in "# EOF" (as
// Prometheus' own promtestdata.txt does) is read as text when it is not
// valid OpenMetrics, and a NUL byte does not make text unreadable.
func TestGuessFallsBack(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body string
		want       Format
	}{
		{"text ending in # EOF", "# TYPE a counter\na 1\n# TYPE a_created gauge\na_created 5\n# EOF\n", FormatText},
		{"real OpenMetrics", "# TYPE a counter\na_total 1\n# EOF\n", FormatOpenMetrics},
		{"text with a NUL in a label", "a{x=\"\x00\"} 1\n", FormatText},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := dir + "/" + strings.ReplaceAll(tc.name, " ", "_")
			if err := writeFile(path, tc.body); err != nil {
				t.Fatal(err)
			}
			tg, err := ParseTargetArg(path)
			if err != nil {
				t.Fatal(err)
			}
			r := (&Scraper{}).Scrape(context.Background(), &tg)
			if r.Err != nil || r.Format != tc.want {
				t.Fatalf("format %s, err %v; want %s", r.Format, r.Err, tc.want)
			}
		})
	}
}

// TestWrittenTextParsesBack: what the text parser keeps is valid for
// expfmt as well (item 12: monctl's output of split families must parse).
func TestWrittenTextParsesBack(t *testing.T) {
	res, err := Parse([]byte("a 1\nb 1\na 2\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"), FormatText)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, f := range res.Families {
		for _, m := range f.Metrics {
			if f.Type == Histogram {
				for _, bk := range m.Buckets {
					fmt.Fprintf(&b, "h_bucket{le=\"%g\"} %g\n", bk.UpperBound, bk.Count)
				}
				continue
			}
			fmt.Fprintf(&b, "%s %g\n", f.Name, m.Value)
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	if _, err := p.TextToMetricFamilies(&b); err != nil {
		t.Fatalf("expfmt refuses what monctl kept: %v\n%s", err, b.String())
	}
}

func writeFile(path, body string) error {
	return os.WriteFile(path, []byte(body), 0o644)
}

// TestContentLengthIsNotTrusted: a server that claims 67 MB and sends 4
// bytes makes monctl allocate nothing near 67 MB (item 5).
func TestContentLengthIsNotTrusted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "67000000")
		w.Write([]byte("a 1\n"))
	}))
	defer srv.Close()
	tg, err := ParseTargetArg(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := &Scraper{}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := s.Scrape(context.Background(), &tg)
	runtime.ReadMemStats(&after)
	if r.Err == nil {
		t.Error("a body cut short of its Content-Length should fail")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("allocated %d bytes for a 4-byte body", grew)
	}
}

// TestBodyOverTheLimitCostsLittleMore: a gzip bomb and a plain body just
// over the limit are refused, and reading them allocates about the limit
// in all (chunks, never copied); a bytes.Buffer's doubling allocated four
// times it. A body within the limit still reads whole.
func TestBodyOverTheLimitCostsLittleMore(t *testing.T) {
	const limit = 8 << 20
	var bomb bytes.Buffer
	gz := gzip.NewWriter(&bomb)
	gz.Write(bytes.Repeat([]byte("a 1\n"), 64<<20/4)) // 64 MiB of text
	gz.Close()
	plain := bytes.Repeat([]byte("a 1\n"), (limit+1<<20)/4) // 9 MiB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bomb" {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb.Bytes())
			return
		}
		w.Write(plain)
	}))
	defer srv.Close()
	for _, path := range []string{"/bomb", "/plain"} {
		tg, err := ParseTargetArg(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		s := &Scraper{BodySizeLimit: limit}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := s.Scrape(context.Background(), &tg)
		runtime.ReadMemStats(&after)
		if !errors.Is(r.Err, ErrBodyTooLarge) {
			t.Errorf("%s: %v, want the body size limit", path, r.Err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > limit+limit/4 {
			t.Errorf("%s: allocated %.1f MiB for a limit of %d MiB", path, float64(grew)/(1<<20), limit>>20)
		}
	}
	for _, n := range []int{0, 1, 64 << 10, 64<<10 + 1, 3<<20 + 5, limit} {
		body := bytes.Repeat([]byte("x"), n)
		for _, hint := range []int64{-1, int64(n / 2), int64(n), int64(n) + 10} {
			got, err := readLimited(bytes.NewReader(body), limit, hint)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("a body of %d bytes (hint %d): %d bytes read, %v", n, hint, len(got), err)
			}
		}
	}
	if _, err := readLimited(bytes.NewReader(make([]byte, limit+1)), limit, limit); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("one byte over the limit with a hint of the limit: %v", err)
	}
}

// TestParsersBoundsParsing: with Parsers, no more bodies are parsed at
// once than it has room for, however many targets are fetched at once;
// a scrape whose turn does not come before its timeout says so.
func TestParsersBoundsParsing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "# TYPE a gauge\na 1\n# TYPE b gauge\nb 2\n")
	}))
	defer srv.Close()
	s := &Scraper{Parsers: make(chan struct{}, 1)}
	var active, most atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			r := s.ScrapeStream(t.Context(), &Target{URL: srv.URL}, nil, func(*Family) error {
				n := active.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				runtime.Gosched() // give another parse the chance to overlap
				active.Add(-1)
				return nil
			})
			if r.Err != nil {
				t.Error(r.Err)
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m != 1 {
		t.Errorf("%d bodies parsed at once, want 1", m)
	}

	s.Parsers <- struct{}{} // every turn taken
	s.Timeout = 50 * time.Millisecond
	r := s.ScrapeStream(t.Context(), &Target{URL: srv.URL}, nil, func(*Family) error { return nil })
	var te *TimeoutError
	if !errors.As(r.Err, &te) || !te.Parsing {
		t.Errorf("waiting for a turn past the timeout: %v, want a timeout while parsing", r.Err)
	}
}
