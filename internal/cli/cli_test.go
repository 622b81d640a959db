package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spf13/pflag"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/conformance"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// runCLI runs monctl in-process, exactly as the binary does, and returns
// what it printed and its exit code.
func runCLI(t *testing.T, stdin io.Reader, args ...string) (string, string, int) {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errOut bytes.Buffer
	code := Main(args, cmdutil.IOStreams{In: stdin, Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), code
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func isolateConfig(t *testing.T) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("MONCTL_CONFIG", "")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "MONCTL_") && k != "MONCTL_CONFIG" {
			t.Setenv(k, "")
		}
	}
}

// TestOpenMetricsConformanceCLI drives every conformance case through
// 'monctl scrape --content-type ... -' as the suite's README prescribes.
func TestOpenMetricsConformanceCLI(t *testing.T) {
	isolateConfig(t)
	cases, err := conformance.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	good, bad := 0, 0
	for _, c := range cases {
		_, stderr, code := runCLI(t, bytes.NewReader(c.Body), "scrape", "--content-type", "application/openmetrics-text; version=1.0.0", "-")
		switch {
		case c.ShouldParse && code != 0:
			t.Errorf("%s: good case exited %d: %s", c.Name, code, stderr)
		case !c.ShouldParse && code == 0:
			t.Errorf("%s: bad case exited 0", c.Name)
		case !c.ShouldParse && !strings.Contains(stderr, "monctl: parsing stdin as openmetrics: "):
			t.Errorf("%s: bad case gave no reason on stderr: %q", c.Name, stderr)
		case c.ShouldParse:
			good++
		default:
			bad++
		}
	}
	if good != 44 || bad != 167 {
		t.Errorf("passed %d good and %d bad cases, want 44 and 167", good, bad)
	}
}

// TestGolden renders one fixture in every output format.
func TestGolden(t *testing.T) {
	isolateConfig(t)
	fixture := filepath.Join("testdata", "sample.prom")
	cases := map[string][]string{
		"table":          {"-o", "table"},
		"wide":           {"-o", "wide"},
		"json":           {"-o", "json"},
		"jsonl":          {"-o", "jsonl"},
		"csv":            {"-o", "csv"},
		"yaml":           {"-o", "yaml"},
		"prom":           {"-o", "prom"},
		"openmetrics":    {"-o", "openmetrics"},
		"influx":         {"-o", "influx"},
		"template":       {"--format", `{{.Name}} {{.Type}} {{index .Labels "code"}} {{.Value}}`},
		"template-table": {"--format", `table {{.Name}}\t{{.Type}}\t{{.P90}}`},
		"template-json":  {"--format", "json", "--match", "http_requests_total"},
		"match":          {"--match", `http_requests_total{code=~"5.."}`, "--match", `{__name__="queue_length"}`},
		"type":           {"--type", "histogram,summary"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, nil, append([]string{"scrape", fixture}, args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if strings.Contains(stdout, "\x1b[") {
				t.Errorf("escape codes in output that is not a terminal")
			}
			stdout = normalize(stdout)
			golden := filepath.Join("testdata", "golden", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/cli -run TestGolden -update)", err)
			}
			if stdout != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", golden, stdout, want)
			}
		})
	}
}

// TestRoundTrip re-parses what -o prom and -o openmetrics print and checks
// that the same families and values come back.
func TestRoundTrip(t *testing.T) {
	isolateConfig(t)
	for _, src := range []string{filepath.Join("testdata", "sample.prom"), filepath.Join("..", "..", "pkg", "exposition", "testdata", "openmetrics", "cases", "roundtrip", "metrics")} {
		want, stderr, code := runCLI(t, nil, "scrape", "-o", "jsonl", src)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", src, code, stderr)
		}
		for _, format := range []string{"prom", "openmetrics"} {
			exposed, stderr, code := runCLI(t, nil, "scrape", "-o", format, src)
			if code != 0 {
				t.Fatalf("%s -o %s: exit %d: %s", src, format, code, stderr)
			}
			ct := map[string]string{"prom": "text/plain; version=0.0.4", "openmetrics": "application/openmetrics-text; version=1.0.0"}[format]
			got, stderr, code := runCLI(t, strings.NewReader(exposed), "scrape", "-o", "jsonl", "--content-type", ct, "-")
			if code != 0 {
				t.Fatalf("%s: re-parsing -o %s: exit %d: %s\n%s", src, format, code, stderr, exposed)
			}
			got = strings.ReplaceAll(got, `"target":"stdin"`, `"target":"`+src+`"`)
			expect := want
			if format == "prom" { // the text format has no _created lines
				expect = regexp.MustCompile(`,"created":[^,}]+`).ReplaceAllString(want, "")
			}
			if got != expect {
				t.Errorf("%s: -o %s does not round-trip:\n--- got\n%s\n--- want\n%s", src, format, got, want)
			}
		}
	}
}

func TestExitCodesAndErrors(t *testing.T) {
	isolateConfig(t)
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte("timeout: 5s\noutput: [json\n"), 0o644)
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("timeout: 5s\ntimout: 3s\n"), 0o644)
	badValue := filepath.Join(dir, "badvalue.yaml")
	os.WriteFile(badValue, []byte("scrape:\n  timeout: soon\n"), 0o644)
	badTarget := filepath.Join(dir, "badtarget.yaml")
	os.WriteFile(badTarget, []byte("targets:\n  - url: http://127.0.0.1:1/metrics\n    http_config:\n      bearer_token: a\n      bearer_token_file: b\n"), 0o644)
	fixture := filepath.Join("testdata", "sample.prom")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown flag", []string{"scrape", "--nope", fixture}, 2, "unknown flag: --nope"},
		{"bad output", []string{"scrape", "-o", "xml", fixture}, 2, `unknown output format "xml"`},
		{"bad match", []string{"scrape", "--match", "{a=", fixture}, 2, `--match "{a="`},
		{"bad type", []string{"scrape", "--type", "gauges", fixture}, 2, `--type "gauges"`},
		{"bad template", []string{"scrape", "--format", "{{.Name", fixture}, 2, "--format"},
		{"no such file", []string{"scrape", "no/such/file"}, 2, `"no/such/file" is not a URL, host:port or readable file`},
		{"nothing to scrape", []string{"scrape"}, 2, "nothing to scrape"},
		{"broken config", []string{"--config", broken, "scrape", fixture}, 2, "config file " + broken + ": line "},
		{"unknown config key", []string{"--config", unknown, "scrape", fixture}, 2, `line 2: unknown setting "timout"`},
		{"bad config value", []string{"--config", badValue, "scrape", fixture}, 2, "config file " + badValue + ": scrape.timeout"},
		{"bad http_config", []string{"--config", badTarget, "scrape"}, 2, "line 2: targets[0]"},
		{"missing named config", []string{"--config", filepath.Join(dir, "none.yaml"), "version"}, 2, "cannot read config file"},
		{"unreachable", []string{"scrape", "http://127.0.0.1:1/metrics"}, 1, "cannot connect to http://127.0.0.1:1/metrics"},
		{"partial", []string{"scrape", fixture, "http://127.0.0.1:1/metrics"}, 3, "connection refused"},
		{"ok", []string{"scrape", fixture}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, nil, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q does not say %q", stderr, tc.stderr)
			}
		})
	}
}

func TestConfigPrecedence(t *testing.T) {
	isolateConfig(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	fixture, _ := filepath.Abs(filepath.Join("testdata", "sample.prom"))
	os.WriteFile(cfg, []byte("output: csv\nscrape:\n  type: [counter]\ntargets:\n  - url: "+fixture+"\n"), 0o644)

	// file: csv, counters only, target from the file
	out, stderr, code := runCLI(t, nil, "--config", cfg, "scrape")
	if code != 0 || !strings.HasPrefix(out, "target,name,type") || strings.Contains(out, "gauge") {
		t.Fatalf("file settings not applied (exit %d, %s):\n%s", code, stderr, out)
	}
	// env beats file
	t.Setenv("MONCTL_OUTPUT", "jsonl")
	out, _, _ = runCLI(t, nil, "--config", cfg, "scrape")
	if !strings.HasPrefix(out, `{"target"`) {
		t.Fatalf("MONCTL_OUTPUT did not beat the file:\n%s", out)
	}
	// the verb's own env key beats the global one
	t.Setenv("MONCTL_SCRAPE_TYPE", "gauge")
	out, _, _ = runCLI(t, nil, "--config", cfg, "scrape")
	if strings.Contains(out, `"counter"`) || !strings.Contains(out, `"gauge"`) {
		t.Fatalf("MONCTL_SCRAPE_TYPE not applied:\n%s", out)
	}
	// flags beat everything
	out, _, _ = runCLI(t, nil, "--config", cfg, "scrape", "-o", "table", "--type", "summary")
	if !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "rpc_latency_seconds") || strings.Contains(out, "gauge") {
		t.Fatalf("flags did not win:\n%s", out)
	}
	// MONCTL_CONFIG names the file when --config does not
	t.Setenv("MONCTL_OUTPUT", "")
	t.Setenv("MONCTL_SCRAPE_TYPE", "")
	t.Setenv("MONCTL_CONFIG", cfg)
	out, _, _ = runCLI(t, nil, "scrape")
	if !strings.HasPrefix(out, "target,name,type") {
		t.Fatalf("MONCTL_CONFIG not used:\n%s", out)
	}
}

func TestHelpExitCodes(t *testing.T) {
	isolateConfig(t)
	out, _, code := runCLI(t, nil, "help", "exit-codes")
	if code != 0 || !strings.Contains(out, "3    partial") || !strings.Contains(out, "130  interrupted") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), ExitCodesHelp) {
		t.Errorf("README.md does not quote 'monctl help exit-codes' verbatim")
	}
}

func TestVersion(t *testing.T) {
	isolateConfig(t)
	out, _, code := runCLI(t, nil, "version", "-o", "json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["version"] == "" || v["go_version"] == "" {
		t.Fatalf("exit %d: %s", code, out)
	}
	out, _, _ = runCLI(t, nil, "version", "-o", "prom")
	if !strings.Contains(out, "monctl_build_info{goversion=") {
		t.Fatalf("no build info metric:\n%s", out)
	}
}

// normalize replaces what differs from run to run (how long a scrape took,
// the scrape time that stands in for missing timestamps) with fixed values.
func normalize(s string) string {
	s = regexp.MustCompile(`("scrape_duration_seconds":|scrape_duration_seconds: )[0-9.e+-]+`).ReplaceAllString(s, "${1}0.001")
	return regexp.MustCompile(`(?m) 1[0-9]{18}$`).ReplaceAllString(s, " 1800000000000000000")
}

// TestWatchConfigSection: 'watch containers' reads its own section of the
// config file, nested as the command is; a misspelt key there is named.
func TestWatchConfigSection(t *testing.T) {
	isolateConfig(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("watch:\n  containers:\n    sortt: cpu\n"), 0o600)
	_, errOut, code := runCLI(t, nil, "--config", bad, "watch", "containers", "--once")
	if code != 2 || !strings.Contains(errOut, "line 3: watch.containers has no setting \"sortt\"") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("watch:\n  containers:\n    host: [unix:///nonexistent/a.sock, unix:///nonexistent/b.sock]\n"), 0o600)
	_, errOut, code = runCLI(t, nil, "--config", good, "watch", "containers", "--once")
	if code != 1 || strings.Count(errOut, "monctl: cannot reach the Docker engine at unix:///nonexistent/") != 2 {
		t.Errorf("both engines of the config file should be tried and reported: exit %d, stderr %q", code, errOut)
	}
	t.Setenv("MONCTL_WATCH_CONTAINERS_SORT", "size")
	if _, errOut, code = runCLI(t, nil, "watch", "containers", "--once"); code != 2 || !strings.Contains(errOut, `--sort "size"`) {
		t.Errorf("env: exit %d, stderr %q", code, errOut)
	}
}

// TestPushConfigSinks: the push section lists sinks with their
// http_config (files relative to the config file); the flags add to
// them; a broken sink names its place; no secret is printed.
func TestPushConfigSinks(t *testing.T) {
	isolateConfig(t)
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		auth.Store(u + ":" + p)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	dir := t.TempDir()
	writeFile(t, dir, "pw", "s3cr3t\n")
	file := writeFile(t, dir, "in.prom", "up 1\n")
	cfg := writeFile(t, dir, "c.yaml", "push:\n  queue-dir: ''\n  remote-write:\n    - url: "+srv.URL+"/api/v1/write\n      http_config:\n        basic_auth: {username: u, password_file: pw}\n")
	_, errOut, code := runCLI(t, nil, "--config", cfg, "push", file)
	if code != 0 || auth.Load() != "u:s3cr3t" || strings.Contains(errOut, "s3cr3t") {
		t.Errorf("exit %d, auth %v: %s", code, auth.Load(), errOut)
	}
	bad := writeFile(t, dir, "bad.yaml", "push:\n  influx:\n    - url: http://127.0.0.1:1/write?db=x\n      http_config: {bogus: 1}\n")
	if _, errOut, code := runCLI(t, nil, "--config", bad, "push", file); code != 2 || !strings.Contains(errOut, "line 3: push.influx[0]") {
		t.Errorf("a broken sink: exit %d, %s", code, errOut)
	}
}

// TestEverySinkKindIsAFlagAConfigKeyAndHelp: each flag push marks as a
// sink is listed in its help and in the "push where?" message, and under
// its name the config file's push section holds a sink with its own
// http_config (a mapping there is a sink, not a flag's value).
func TestEverySinkKindIsAFlagAConfigKeyAndHelp(t *testing.T) {
	isolateConfig(t)
	pushCmd, _, err := NewRootCmd(cmdutil.IOStreams{}).Find([]string{"push"})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	pushCmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if _, ok := fl.Annotations[cmdutil.SinkAnnotation]; ok {
			kinds = append(kinds, fl.Name)
		}
	})
	if len(kinds) < 3 {
		t.Fatalf("sink flags %q, want pushgateway, remote-write and influx at least", kinds)
	}
	dir := t.TempDir()
	file := writeFile(t, dir, "in.prom", "up 1\n")
	_, where, _ := runCLI(t, nil, "push", file)
	for _, kind := range kinds {
		if !strings.Contains(pushCmd.Long, "--"+kind+" URL") || !strings.Contains(where, "--"+kind) {
			t.Errorf("--%s: not in push's help or in %q", kind, where)
		}
		// The sink is built from the config file: with an HTTP URL, its
		// http_config names a file that is not there; with a line
		// protocol's, nothing listens.
		sink := "    - url: http://127.0.0.1:1/write?db=x\n      http_config:\n        basic_auth: {username: u, password_file: missing-pw}\n"
		want := "missing-pw"
		if kind == "graphite" {
			sink, want = "    - url: tcp://127.0.0.1:1\n", "graphite tcp://127.0.0.1:1"
		}
		cfg := writeFile(t, dir, kind+".yaml", "push:\n  queue-dir: ''\n  retries: 0\n  "+kind+":\n"+sink)
		_, errOut, code := runCLI(t, nil, "--config", cfg, "push", file)
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("--%s in the config file: exit %d, %s", kind, code, errOut)
		}
	}
}

// TestWatchNamesItsResources: 'monctl watch' alone is a usage error that
// names every resource registered, as its help does.
func TestWatchNamesItsResources(t *testing.T) {
	isolateConfig(t)
	watch, _, err := NewRootCmd(cmdutil.IOStreams{}).Find([]string{"watch"})
	if err != nil || len(watch.Commands()) < 2 {
		t.Fatalf("watch: %v, %d resources", err, len(watch.Commands()))
	}
	_, errOut, code := runCLI(t, nil, "watch")
	for _, r := range watch.Commands() {
		if code != cmdutil.ExitUsage || !strings.Contains(errOut, "'monctl watch "+r.Name()+"'") || !strings.Contains(watch.Short, r.Name()) {
			t.Errorf("%s: exit %d, %q; help %q", r.Name(), code, errOut, watch.Short)
		}
	}
}

// TestConventionsFromDockerAndKubectl: --version on the root says what
// the first line of 'monctl version' says, and a usage error points at
// the help of the command that was wrong.
func TestConventionsFromDockerAndKubectl(t *testing.T) {
	isolateConfig(t)
	version, _, _ := runCLI(t, nil, "version")
	for _, flag := range []string{"--version", "-v"} {
		if out, _, code := runCLI(t, nil, flag); code != 0 || out != strings.SplitAfter(version, "\n")[0] {
			t.Errorf("%s: exit %d, %q; want the first line of 'monctl version', %q", flag, code, out, strings.SplitAfter(version, "\n")[0])
		}
	}
	for _, c := range []struct {
		args []string
		help string
	}{
		{[]string{"scrape", "--nope"}, "See 'monctl scrape --help'."},
		{[]string{"watch", "containers", "--bogus"}, "See 'monctl watch containers --help'."},
		{[]string{"push", "--queue-size", "lots", "-"}, "See 'monctl push --help'."},
		{[]string{"nosuchverb"}, "See 'monctl --help'."},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			if _, errOut, code := runCLI(t, nil, c.args...); code != 2 || !strings.HasSuffix(errOut, c.help+"\n") {
				t.Errorf("exit %d, stderr %q; want exit 2 ending %q", code, errOut, c.help)
			}
		})
	}
}

// TestColour: colour follows --color, then FORCE_COLOR/CLICOLOR_FORCE,
// then NO_COLOR (only when set to something), and is off when piped.
func TestColour(t *testing.T) {
	isolateConfig(t)
	file := writeFile(t, t.TempDir(), "a.prom", "a 1\n")
	for _, c := range []struct {
		name  string
		env   map[string]string
		args  []string
		color bool
	}{
		{"piped", nil, nil, false},
		{"--color always", nil, []string{"--color", "always"}, true},
		{"FORCE_COLOR", map[string]string{"FORCE_COLOR": "1"}, nil, true},
		{"FORCE_COLOR=0", map[string]string{"FORCE_COLOR": "0"}, nil, false},
		{"CLICOLOR_FORCE", map[string]string{"CLICOLOR_FORCE": "1"}, nil, true},
		{"NO_COLOR wins over FORCE_COLOR", map[string]string{"FORCE_COLOR": "1", "NO_COLOR": "1"}, nil, false},
		{"an empty NO_COLOR does not count", map[string]string{"FORCE_COLOR": "1", "NO_COLOR": ""}, nil, true},
		{"--color never wins over FORCE_COLOR", map[string]string{"FORCE_COLOR": "1"}, []string{"--color", "never"}, false},
		{"--color always wins over NO_COLOR", map[string]string{"NO_COLOR": "1"}, []string{"--color", "always"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("FORCE_COLOR", "")
			t.Setenv("CLICOLOR_FORCE", "")
			t.Setenv("NO_COLOR", "")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			out, errOut, code := runCLI(t, nil, append([]string{"scrape", file}, c.args...)...)
			if code != 0 || strings.Contains(out, "\x1b[1m") != c.color {
				t.Errorf("exit %d, %q (%s); want colour %v", code, out, errOut, c.color)
			}
		})
	}
	if _, errOut, code := runCLI(t, nil, "scrape", "--color", "sometimes", file); code != 2 || !strings.Contains(errOut, "want auto, always or never") {
		t.Errorf("--color sometimes: exit %d, %s", code, errOut)
	}
}

// TestFormatConventions: --format json is the -o jsonl record, .Labels
// prints as tables show labels, and --format with -o is a usage error.
func TestFormatConventions(t *testing.T) {
	isolateConfig(t)
	file := writeFile(t, t.TempDir(), "a.prom", "# TYPE m gauge\nm{mode=\"idle\",cpu=\"0\"} 1\n")
	jsonl, _, _ := runCLI(t, nil, "scrape", "-o", "jsonl", file)
	if out, _, code := runCLI(t, nil, "scrape", "--format", "json", file); code != 0 || out != jsonl {
		t.Errorf("--format json: %q, want -o jsonl's %q", out, jsonl)
	}
	if out, _, _ := runCLI(t, nil, "scrape", "--format", "{{.Name}} {{.Labels}} {{.Labels.cpu}}", file); out != "m cpu=\"0\", mode=\"idle\" 0\n" {
		t.Errorf(".Labels: %q", out)
	}
	if _, errOut, code := runCLI(t, nil, "scrape", "-o", "json", "--format", "{{.Name}}", file); code != 2 || !strings.Contains(errOut, "[format output] were all set") {
		t.Errorf("-o with --format: exit %d, %s", code, errOut)
	}
}

// TestNoHeaders: --no-headers leaves a table's rows alone, as kubectl's.
func TestNoHeaders(t *testing.T) {
	isolateConfig(t)
	file := writeFile(t, t.TempDir(), "a.prom", "a 1\nb 2\n")
	out, _, code := runCLI(t, nil, "scrape", "--no-headers", file)
	if code != 0 || strings.Contains(out, "NAME") || len(strings.Split(strings.TrimSpace(out), "\n")) != 2 {
		t.Errorf("exit %d: %q", code, out)
	}
	if out, _, _ := runCLI(t, nil, "watch", "targets", "--once", "--interval", "0.1", "--no-headers", file); strings.Contains(out, "TARGET") || strings.Contains(out, "targets, ") || !strings.Contains(out, file) {
		t.Errorf("watch targets --no-headers: %q", out)
	}
}
