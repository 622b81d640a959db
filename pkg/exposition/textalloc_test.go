package exposition

import (
	"fmt"
	"strings"
	"testing"
)

func TestSeriesIndexForgetsTheLastFamily(t *testing.T) {
	x := newSeriesIndex()
	for i := range 10_000 {
		x.put(uint64(i)<<20, i) // hashes that share their low bits
	}
	for _, i := range []int{0, 4_999, 9_999} {
		if got, ok := x.get(uint64(i) << 20); !ok || got != i {
			t.Fatalf("get(%d) = %d, %v; want %d", i, got, ok, i)
		}
	}
	if _, ok := x.get(12345); ok {
		t.Fatal("a hash never put was found")
	}
	x.reset()
	if _, ok := x.get(0); ok {
		t.Fatal("an entry of the family before reset was found")
	}
	x.put(7, 3)
	if got, ok := x.get(7); !ok || got != 3 {
		t.Fatalf("after reset: get(7) = %d, %v", got, ok)
	}
	if _, ok := x.get(1 << 20); ok {
		t.Fatal("an old entry came back after a new put")
	}
}

func TestSlabSlicesDoNotShareRoom(t *testing.T) {
	var s slab[Label]
	a := s.take(2, 4096)
	b := s.take(2, 4096)
	if cap(a) != 2 || cap(b) != 2 {
		t.Fatalf("caps %d and %d, want 2: appending would write into a neighbour", cap(a), cap(b))
	}
	a = append(a, Label{"x", "y"})
	b[0] = Label{"b", "0"}
	if a[0] == b[0] {
		t.Fatal("two slices share their first element")
	}
	if big := s.take(2000, 4096); len(big) != 2000 || cap(big) != 2000 {
		t.Fatalf("a large request got len %d cap %d", len(big), cap(big))
	}
}

// A family larger than a chunk, between two small ones, comes out whole
// and in order, and the family after it does not see its metrics.
func TestParseFamiliesAcrossChunks(t *testing.T) {
	var b strings.Builder
	b.WriteString("# TYPE small gauge\nsmall{a=\"1\"} 1\nsmall{a=\"2\"} 2\n")
	b.WriteString("# TYPE big counter\n")
	const n = 3<<chunkBits + 17
	for i := range n {
		fmt.Fprintf(&b, "big_total{i=\"%d\"} %d\n", i, i)
	}
	b.WriteString("# TYPE h histogram\n")
	for _, s := range []string{"x", "y"} {
		fmt.Fprintf(&b, "h_bucket{s=%q,le=\"1\"} 1\nh_bucket{s=%q,le=\"+Inf\"} 2\nh_count{s=%q} 2\nh_sum{s=%q} 3\n", s, s, s, s)
	}
	res, err := Parse([]byte(b.String()), FormatText)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Families) != 3 {
		t.Fatalf("%d families, want 3", len(res.Families))
	}
	small, big, h := res.Families[0], res.Families[1], res.Families[2]
	if len(small.Metrics) != 2 || small.Metrics[1].Value != 2 {
		t.Fatalf("small: %+v", small.Metrics)
	}
	if len(big.Metrics) != n {
		t.Fatalf("big has %d metrics, want %d", len(big.Metrics), n)
	}
	for _, i := range []int{0, 1 << chunkBits, n - 1} {
		m := big.Metrics[i]
		if m.Value != float64(i) || m.Labels.Get("i") != fmt.Sprint(i) {
			t.Fatalf("big metric %d: %v %v", i, m.Labels, m.Value)
		}
	}
	if len(h.Metrics) != 2 || len(h.Metrics[1].Buckets) != 2 || h.Metrics[1].Labels.Get("s") != "y" || h.Metrics[1].Count != 2 {
		t.Fatalf("h: %+v", h.Metrics)
	}
	// Appending to one family's metrics leaves the next family alone.
	small.Metrics = append(small.Metrics, Metric{Value: 99})
	if big.Metrics[0].Value != 0 {
		t.Fatal("appending to one family changed another")
	}
}

// A duplicate of the first series of a family is found even when the
// family before had many series (the index is reset, not left stale).
func TestParseDuplicateAfterALargeFamily(t *testing.T) {
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "a{i=\"%d\"} 1\n", i)
	}
	b.WriteString("b{i=\"0\"} 1\nb{i=\"1\"} 1\nb{i=\"0\"} 2\n")
	res, err := Parse([]byte(b.String()), FormatText)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Families[1].Metrics); got != 2 {
		t.Fatalf("b has %d metrics, want 2 (the duplicate left out)", got)
	}
	if res.Families[1].Metrics[0].Value != 1 {
		t.Fatal("the duplicate replaced the first sample")
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "duplicate series b{i=\"0\"}") {
		t.Fatalf("warnings %q", res.Warnings)
	}
}
