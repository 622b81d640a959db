package targets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monctl/monctl/internal/cli/cmdtest"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/pkg/discovery"
	"github.com/monctl/monctl/pkg/exposition"
)

// execute runs 'monctl targets' with the jobs of doc as the config file's.
func execute(t *testing.T, doc string, args ...string) (string, string, int) {
	t.Helper()
	jobs, err := discovery.ParseJobs([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{Out: &out, ErrOut: &errOut})
	f.Config = &cmdutil.Config{Jobs: jobs}
	err = cmdtest.Execute(NewCmd(f), args...)
	return out.String(), errOut.String() + fmt.Sprint(err), cmdutil.CodeOf(err)
}

func TestExplainTargets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte(`[{"targets": ["127.0.0.1:9100", "127.0.0.1:9200"], "labels": {"team": "x"}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := `scrape_configs:
- job_name: node
  file_sd_configs: [{files: ['` + filepath.Join(dir, "*.json") + `']}]
  relabel_configs:
  - {source_labels: [__address__], regex: '.*:9200', action: drop}
`
	out, errOut, code := execute(t, doc, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var recs []Record
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(recs) != 2 {
		t.Fatalf("records: %s", out)
	}
	kept, dropped := recs[0], recs[1]
	if kept.State != "kept" || kept.URL != "http://127.0.0.1:9100/metrics" || kept.Labels["team"] != "x" || kept.Labels["instance"] != "127.0.0.1:9100" {
		t.Errorf("kept: %+v", kept)
	}
	if dropped.State != "dropped" || dropped.DroppedBy == nil || dropped.DroppedBy.Number != 1 || dropped.DroppedBy.Action != "drop" || dropped.DroppedBy.Default || len(dropped.Labels) != 0 {
		t.Errorf("dropped: %+v", dropped)
	}
	if dropped.DiscoveredLabels["__meta_filepath"] != filepath.Join(dir, "a.json") {
		t.Errorf("discovered labels lack the file's meta label: %v", dropped.DiscoveredLabels)
	}
	table, _, _ := execute(t, doc)
	if !strings.Contains(table, "2 targets, 1 kept") || !strings.Contains(table, "dropped by rule 1 (drop)") {
		t.Errorf("table:\n%s", table)
	}
	if _, errOut, code := execute(t, "", "--timeout", "1s"); code != cmdutil.ExitUsage || !strings.Contains(errOut, "nothing to discover") {
		t.Errorf("nothing to discover: exit %d, %s", code, errOut)
	}
}

func TestExplainSeries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "go_goroutines 8\nnode_load1 0.5\nup_time 1\n")
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	doc := `scrape_configs:
- job_name: n
  static_configs: [{targets: ['` + addr + `'], labels: {team: ops}}]
  metric_relabel_configs:
  - {source_labels: [__name__], regex: 'go_.*', action: drop}
  - {source_labels: [__name__], regex: 'node_load(.*)', target_label: __name__, replacement: 'load_$1'}
`
	out, errOut, code := execute(t, doc, "--series", addr, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var traces []exposition.SeriesTrace
	if err := json.Unmarshal([]byte(out), &traces); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	want := fmt.Sprint([]exposition.SeriesTrace{
		{Before: `{__name__="go_goroutines", team="ops"}`, DroppedBy: 1},
		{Before: `{__name__="node_load1", team="ops"}`, After: `{__name__="load_1", team="ops"}`, ChangedBy: []int{2}},
		{Before: `{__name__="up_time", team="ops"}`, After: `{__name__="up_time", team="ops"}`},
	})
	if fmt.Sprint(traces) != want {
		t.Errorf("traces %v\nwant %s", traces, want)
	}
	table, _, _ := execute(t, doc, "--series", addr)
	if !strings.Contains(table, "3 series, 1 dropped, 1 changed") || !strings.Contains(table, "dropped by rule 1 (drop)") || !strings.Contains(table, "unchanged") {
		t.Errorf("table:\n%s", table)
	}
	if _, errOut, code := execute(t, doc, "--series", "nope:1"); code != cmdutil.ExitUsage || !strings.Contains(errOut, "no kept target") {
		t.Errorf("an unknown target: exit %d, %s", code, errOut)
	}
}
