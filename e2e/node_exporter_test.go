//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// A textfile-collector file gives node_exporter series whose values do not
// change between scrapes, so text and protobuf can be compared exactly.
const textfile = `# HELP monctl_e2e_jobs_total Jobs run.
# TYPE monctl_e2e_jobs_total counter
monctl_e2e_jobs_total{queue="a b",result="ok"} 1234
monctl_e2e_jobs_total{queue="c\"d",result="fail"} 5
# HELP monctl_e2e_temperature Temperature.
# TYPE monctl_e2e_temperature gauge
monctl_e2e_temperature{sensor="x"} -3.25
# HELP monctl_e2e_latency_seconds Latency.
# TYPE monctl_e2e_latency_seconds histogram
monctl_e2e_latency_seconds_bucket{le="0.1"} 3
monctl_e2e_latency_seconds_bucket{le="1"} 7
monctl_e2e_latency_seconds_bucket{le="+Inf"} 8
monctl_e2e_latency_seconds_sum 4.5
monctl_e2e_latency_seconds_count 8
# HELP monctl_e2e_size_bytes Sizes.
# TYPE monctl_e2e_size_bytes summary
monctl_e2e_size_bytes{quantile="0.5"} 100
monctl_e2e_size_bytes{quantile="0.99"} 900
monctl_e2e_size_bytes_sum 12000
monctl_e2e_size_bytes_count 60
`

type scrapeDoc []struct {
	Up       bool   `json:"up"`
	Format   string `json:"format"`
	Error    string `json:"error"`
	Families []struct {
		Name    string            `json:"name"`
		Type    string            `json:"type"`
		Metrics []json.RawMessage `json:"metrics"`
	} `json:"families"`
}

func TestNodeExporterTextAndProtobufAgree(t *testing.T) {
	ne := tool(t, "node_exporter")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "e2e.prom"), []byte(textfile), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "http://"+addr+"/metrics", ne, "--web.listen-address="+addr, "--collector.textfile.directory="+dir)

	scrape := func(proto string) (scrapeDoc, map[string]string) {
		out, stderr, code := monctl(t, "scrape", "-o", "json", "--protocol", proto, addr)
		if code != 0 {
			t.Fatalf("--protocol %s: exit %d: %s", proto, code, stderr)
		}
		var doc scrapeDoc
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if !doc[0].Up || doc[0].Format != proto {
			t.Fatalf("--protocol %s: up=%v format=%s error=%s", proto, doc[0].Up, doc[0].Format, doc[0].Error)
		}
		// family -> type and, per metric, its labels (and values where stable)
		shape := map[string]string{}
		for _, f := range doc[0].Families {
			var keys []string
			for _, m := range f.Metrics {
				var mm map[string]json.RawMessage
				json.Unmarshal(m, &mm)
				k := string(mm["labels"])
				if strings.HasPrefix(f.Name, "monctl_e2e_") || f.Name == "node_memory_MemTotal_bytes" || f.Name == "node_uname_info" {
					k = string(m) // the whole metric, values included
				}
				keys = append(keys, k)
			}
			sort.Strings(keys)
			shape[f.Name] = f.Type + " " + strings.Join(keys, "\n")
		}
		return doc, shape
	}
	_, text := scrape("text")
	_, pb := scrape("protobuf")
	if len(text) < 100 {
		t.Fatalf("only %d families from node_exporter", len(text))
	}
	for name, want := range text {
		if got, ok := pb[name]; !ok {
			t.Errorf("family %s is missing from the protobuf scrape", name)
		} else if got != want {
			t.Errorf("family %s differs:\ntext:     %s\nprotobuf: %s", name, want, got)
		}
	}
	for name := range pb {
		if _, ok := text[name]; !ok {
			t.Errorf("family %s is only in the protobuf scrape", name)
		}
	}
	for _, name := range []string{"monctl_e2e_jobs_total", "monctl_e2e_latency_seconds", "monctl_e2e_size_bytes", "node_cpu_seconds_total"} {
		if _, ok := text[name]; !ok {
			t.Errorf("family %s not scraped", name)
		}
	}
	if !strings.Contains(text["monctl_e2e_latency_seconds"], `"estimates":{"0.5":0.325,"0.9":1,"0.99":1}`) {
		t.Errorf("histogram estimate: %s", text["monctl_e2e_latency_seconds"])
	}
}

// TestNodeExporterRate checks --rate against a counter that moves: node's
// CPU seconds grow by about one per second per CPU across all modes.
func TestNodeExporterRate(t *testing.T) {
	ne := tool(t, "node_exporter")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "http://"+addr+"/metrics", ne, "--web.listen-address="+addr)
	out, stderr, code := monctl(t, "scrape", "-o", "jsonl", "--rate", "2s", "--match", `node_cpu_seconds_total{cpu="0"}`, addr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sum := 0.0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m struct {
			Rate struct {
				Value   float64 `json:"value"`
				Seconds float64 `json:"seconds"`
			} `json:"rate"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m.Rate.Value < 0 || m.Rate.Seconds < 1.5 {
			t.Errorf("bad rate in %s", line)
		}
		sum += m.Rate.Value
	}
	if sum < 0.5 || sum > 1.5 {
		t.Errorf("cpu 0 spends %.2f seconds per second over all modes, want about 1", sum)
	}
}
