package output

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/pkg/exposition"
)

func TestJSONWriterMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"plain", "quote\" back\\slash", "nl\n tab\t cr\r", "\x00\x1f ctl", "ünïcödé ☃", "bad \xff utf8", "line\u2028sep", "<&>"} {
		var buf bytes.Buffer
		jw := NewJSONWriter(&buf, false)
		jw.String(s)
		jw.Flush()
		var back string
		if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
			t.Fatalf("%q: invalid JSON %s: %v", s, buf.Bytes(), err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Errorf("%q round-trips to %q", s, back)
		}
	}
	var buf bytes.Buffer
	jw := NewJSONWriter(&buf, true)
	jw.BeginObject()
	jw.Key("n")
	jw.Float(math.NaN())
	jw.Key("list")
	jw.BeginArray()
	jw.Float(1.5)
	jw.Float(math.Inf(-1))
	jw.Int(7)
	jw.EndArray()
	jw.Key("empty")
	jw.BeginObject()
	jw.EndObject()
	jw.EndObject()
	jw.Flush()
	want := "{\n  \"n\": \"NaN\",\n  \"list\": [\n    1.5,\n    \"-Inf\",\n    7\n  ],\n  \"empty\": {}\n}"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestHumanUnits(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Bytes(0), "0B"}, {Bytes(1536), "1.5KiB"}, {Bytes(64 << 20), "64MiB"},
		{Seconds(0.0005), "500µs"}, {Seconds(1.5), "1.5s"}, {Seconds(3700), "1h1m40s"},
		{Short(1234567), "1.23M"}, {Short(0.5), "0.5"}, {Short(math.NaN()), "NaN"},
		{Human("x_bytes", "", 2048), "2KiB"}, {Human("node_boot_time_seconds", "", 1.7e9), "2023-11-14T22:13:20Z"}, {Human("x_seconds_total", "", 90), "1m30s"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestInfluxEscapingAndSkippedValues(t *testing.T) {
	fams := []exposition.Family{{Name: "m", Type: exposition.Gauge, Metrics: []exposition.Metric{
		{Labels: exposition.Labels{{Name: "k", Value: "a b,c=d"}}, Value: 1},
		{Labels: exposition.Labels{{Name: "k", Value: "nan"}}, Value: math.NaN()},
	}}}
	var buf bytes.Buffer
	if _, err := WriteInflux(&buf, []Source{{Target: "t", Time: time.Unix(1, 0), Families: fams}}); err != nil {
		t.Fatal(err)
	}
	if want := "m,k=a\\ b\\,c\\=d value=1 1000000000\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestTemplateTableHeader(t *testing.T) {
	tmpl, err := ParseTemplate(`table {{.Name}}\t{{.CPUPerc}}`)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tmpl.Execute(&buf, []any{struct{ Name, CPUPerc string }{"web", "12%"}})
	if got := buf.String(); got != "NAME   CPU PERC\nweb    12%\n" {
		t.Errorf("got %q", got)
	}
}

// TestDockerUnits: docker stats' and docker ps' own units (go-units).
func TestDockerUnits(t *testing.T) {
	for v, want := range map[float64]string{0: "0B", 999: "999B", 1500: "1.5kB", 33693696: "33.7MB", 123456789: "123MB", 2e12: "2TB"} {
		if got := DecimalBytes(v); got != want {
			t.Errorf("DecimalBytes(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0B", 1023: "1023B", 1294336: "1.234MiB", 68157440: "65MiB", 25276510208: "23.54GiB"} {
		if got := Bytes(v); got != want {
			t.Errorf("Bytes(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]string{0: "Up Less than a second", 59.9: "Up 59 seconds", 360: "Up 6 minutes", 5400: "Up 2 hours", 90061: "Up 25 hours", 4 * 86400: "Up 4 days"} {
		if got := Uptime(v); got != want {
			t.Errorf("Uptime(%v) = %q, want %q", v, got, want)
		}
	}
	if got := Truncate("héllo", 2); got != "hé" || Width("héllo") != 5 {
		t.Errorf("Truncate: %q", got)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 targets", 1: "1 target", 2: "2 targets"} {
		if got := Count(n, "target"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestTemplateFuncsAsDocker: pad and truncate take docker's arguments;
// truncate counts characters.
func TestTemplateFuncsAsDocker(t *testing.T) {
	for _, c := range []struct{ tmpl, want string }{
		{`[{{pad .Name 2 3}}]`, "[  web   ]"},
		{`[{{pad .Empty 2 3}}]`, "[]"},
		{`{{truncate .Name 2}}`, "we"},
		{`{{truncate .Wide 2}}`, "żó"},
		{`{{truncate .Name 10}}`, "web"},
	} {
		tmpl, err := ParseTemplate(c.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		rec := struct{ Name, Empty, Wide string }{"web", "", "żółw"}
		if err := tmpl.Execute(&out, []any{rec}); err != nil || out.String() != c.want+"\n" {
			t.Errorf("%s: %q, %v; want %q", c.tmpl, out.String(), err, c.want)
		}
	}
}
