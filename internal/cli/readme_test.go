package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/cli/scrape"
	"github.com/monctl/monctl/internal/cli/watch/containers"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/discovery"
	"github.com/monctl/monctl/pkg/query"
)

// example is a command of the README's code blocks, with the output
// shown under it (for a "$ monctl ..." line).
type example struct {
	line   int
	text   string
	output []string
}

// readmeExamples reads every monctl command of the README's indented code
// blocks: the "$ " lines of a block that shows output, or every line of
// a block of commands, each stage of a pipeline that runs monctl.
func readmeExamples(t *testing.T) []example {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "    ") || i > 0 && strings.TrimSpace(lines[i-1]) != "" {
			continue
		}
		// A block: indented lines, blank lines inside it included.
		var block []int
		for j := i; j < len(lines) && (strings.HasPrefix(lines[j], "    ") || strings.TrimSpace(lines[j]) == "" && j+1 < len(lines) && strings.HasPrefix(lines[j+1], "    ")); j++ {
			block = append(block, j)
		}
		i = block[len(block)-1]
		shows := slices.ContainsFunc(block, func(j int) bool { return strings.HasPrefix(lines[j], "    $ ") })
		for k, j := range block {
			text := strings.TrimPrefix(lines[j], "    ")
			if shows {
				if !strings.HasPrefix(text, "$ ") {
					continue
				}
				ex := example{line: j + 1, text: strings.TrimPrefix(strings.TrimPrefix(text, "$ "), "bin/")}
				for _, o := range block[k+1:] {
					if strings.HasPrefix(lines[o], "    $ ") {
						break
					}
					ex.output = append(ex.output, strings.TrimPrefix(lines[o], "    "))
				}
				out = append(out, ex)
			} else if strings.Contains(" "+text, " monctl ") {
				out = append(out, example{line: j + 1, text: text})
			}
		}
	}
	return out
}

// shellWords splits a command line as a POSIX shell would, into the
// words of each stage of its pipeline; a redirection or a comment ends
// the stage's words.
func shellWords(line string) [][]string {
	var stages [][]string
	var words []string
	var word strings.Builder
	inWord, ended := false, false
	flush := func() {
		if inWord && !ended {
			words = append(words, word.String())
		}
		word.Reset()
		inWord = false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			word.WriteString(line[i+1 : i+1+j])
			i, inWord = i+1+j, true
		case c == '"':
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`+"`", line[i+1]) >= 0 {
					i++
				}
				word.WriteByte(line[i])
			}
			inWord = true
		case c == ' ' || c == '\t':
			flush()
		case c == '|':
			flush()
			stages, words, ended = append(stages, words), nil, false
		case c == '>' || c == '#' && !inWord:
			flush()
			ended = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return append(stages, words)
}

// TestReadmeCommandsParse: every monctl command the README shows names a
// real verb with real flags, values they take (an -o the verb prints, a
// duration, a number) and arguments the verb accepts.
func TestReadmeCommandsParse(t *testing.T) {
	isolateConfig(t)
	examples := readmeExamples(t)
	if len(examples) < 25 {
		t.Fatalf("found %d examples in the README: the reader is broken", len(examples))
	}
	for _, ex := range examples {
		for _, words := range shellWords(ex.text) {
			if len(words) == 0 || words[0] != "monctl" {
				continue
			}
			root := NewRootCmd(cmdutil.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
			cmd, rest, err := root.Find(words[1:])
			if err == nil {
				err = cmd.ParseFlags(rest)
			}
			if err == nil {
				err = cmd.ValidateArgs(cmd.Flags().Args())
			}
			if err != nil {
				t.Errorf("README.md:%d: %s: %v", ex.line, ex.text, err)
			}
		}
	}
}

// nodeFixture serves a few of node_exporter's series, its counters
// growing with each scrape, so that rates have the units of a real run.
func nodeFixture(t *testing.T) string {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := float64(n.Add(1))
		fmt.Fprintf(w, "# HELP go_gc_duration_seconds A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.\n# TYPE go_gc_duration_seconds summary\n")
		for _, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
			fmt.Fprintf(w, "go_gc_duration_seconds{quantile=%q} 6.15e-05\n", q)
		}
		fmt.Fprintf(w, "go_gc_duration_seconds_sum %g\ngo_gc_duration_seconds_count %g\n", 0.0006+k*3e-6, 4+k)
		fmt.Fprintf(w, "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter\n")
		for _, cpu := range []string{"0", "1"} {
			for _, mode := range []string{"idle", "system", "user"} {
				fmt.Fprintf(w, "node_cpu_seconds_total{cpu=%q,mode=%q} %g\n", cpu, mode, 720+k*0.05)
			}
		}
		fmt.Fprintf(w, "# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1 1.28\n")
		fmt.Fprintf(w, "# HELP node_network_receive_bytes_total Network device statistic receive_bytes.\n# TYPE node_network_receive_bytes_total counter\n")
		fmt.Fprintf(w, "node_network_receive_bytes_total{device=\"lo\"} %g\n", 3.35e8+k*1000)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// The kinds of cell valueShape tells apart, and a header's column names
// (words with single spaces between them).
var (
	durationCell = regexp.MustCompile(`^([\d.]+(h|m|s|ms|µs|ns))+$`)
	bytesCell    = regexp.MustCompile(`^[\d.]+(B|KiB|MiB|GiB|TiB|kB|MB|GB)$`)
	headerCell   = regexp.MustCompile(`\S+( \S+)*`)
)

// valueShape is what kind of value a table cell shows: a duration, bytes,
// a plain number, each maybe per second; a summary's parts each so.
func valueShape(cell string) string {
	var parts []string
	for _, f := range strings.FieldsFunc(cell, func(r rune) bool { return r == ' ' || r == ',' }) {
		key, v, ok := strings.Cut(f, "=")
		if !ok {
			key, v = "", f
		}
		if v == "count" || v == "sum" {
			parts = append(parts, v)
			continue
		}
		rate := strings.HasSuffix(v, "/s")
		v = strings.TrimSuffix(v, "/s")
		kind := "number"
		switch {
		case durationCell.MatchString(v):
			kind = "duration"
		case bytesCell.MatchString(v):
			kind = "bytes"
		}
		if rate {
			kind += "/s"
		}
		parts = append(parts, key+kind)
	}
	return strings.Join(parts, " ")
}

// tableShape is a table's header and, per row, its first keyCols cells as
// they are and the shapes of the others.
func tableShape(lines []string, keyCols int) []string {
	if len(lines) == 0 {
		return nil
	}
	header := lines[0]
	var starts []int
	var names []string
	for _, m := range headerCell.FindAllStringIndex(header, -1) {
		starts, names = append(starts, m[0]), append(names, header[m[0]:m[1]])
	}
	starts[0] = 0 // the first column starts at the line's start
	out := []string{strings.Join(names, " | ")}
	for _, l := range lines[1:] {
		var row []string
		for c, s := range starts {
			end := len(l)
			if c+1 < len(starts) && starts[c+1] < len(l) {
				end = starts[c+1]
			}
			cell := ""
			if s < len(l) {
				cell = strings.TrimSpace(l[s:min(end, len(l))])
			}
			if c < keyCols {
				row = append(row, cell)
			} else {
				row = append(row, valueShape(cell))
			}
		}
		out = append(out, strings.Join(row, " | "))
	}
	return out
}

// groups sorts the rows of a table shape after its header by their first
// row, a row and the indented rows under it (a target and its series)
// staying together: watch targets orders its targets by name, and the
// fixtures' names sort otherwise than the README's.
func groups(shape []string, raw []string) []string {
	var gs [][]string
	for i, r := range shape[1:] {
		if !strings.HasPrefix(raw[i+1], " ") || len(gs) == 0 {
			gs = append(gs, nil)
		}
		gs[len(gs)-1] = append(gs[len(gs)-1], r)
	}
	slices.SortFunc(gs, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	out := shape[:1:1]
	for _, g := range gs {
		out = append(out, g...)
	}
	return out
}

// jsonKeys is the keys of a JSON document in order, at every depth, with
// the values of target and url.
func jsonKeys(t *testing.T, doc string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(doc))
	var out []string
	var walk func()
	walk = func() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%v in %s", err, doc)
		}
		switch tok {
		case json.Delim('{'):
			out = append(out, "{")
			for dec.More() {
				key, _ := dec.Token()
				out = append(out, fmt.Sprint(key))
				if key == "target" || key == "url" {
					v, _ := dec.Token()
					out = append(out, fmt.Sprintf("%s=%v", key, v))
					continue
				}
				walk()
			}
			dec.Token()
			out = append(out, "}")
		case json.Delim('['):
			out = append(out, "[")
			for dec.More() {
				walk()
			}
			dec.Token()
			out = append(out, "]")
		}
	}
	walk()
	return out
}

// TestReadmeOutputsMatchTheBinary runs every README example that shows
// its output (but watch containers, which needs an engine: the e2e tests
// run it) against local fixtures in place of the node_exporters, and
// compares what it prints with what the README shows: the same table
// header, rows, and kind of value in each cell (a duration, bytes, a
// number, per second or not), the same JSON keys in the same order, the
// same exit code.
func TestReadmeOutputsMatchTheBinary(t *testing.T) {
	isolateConfig(t)
	node, dead := nodeFixture(t), freeAddr(t)
	checked := 0
	for _, ex := range readmeExamples(t) {
		words := shellWords(ex.text)[0]
		if len(ex.output) == 0 || len(words) < 2 || words[0] != "monctl" || words[1] == "watch" && words[2] == "containers" {
			continue
		}
		args := slices.Clone(words[1:])
		for i, w := range args {
			switch {
			case w == "localhost:9100":
				args[i] = node
			case w == "localhost:9101":
				args[i] = dead
			case i > 0 && args[i-1] == "--rate":
				args[i] = "300ms"
			case i > 0 && args[i-1] == "--interval":
				args[i] = "0.3"
			}
		}
		out, errOut, code := runCLI(t, nil, args...)
		got := strings.Split(strings.TrimRight(out, "\n"), "\n")
		back := strings.NewReplacer(node, "localhost:9100", dead, "localhost:9101")
		want := ex.output
		for len(want) > 0 && strings.TrimSpace(want[len(want)-1]) == "" {
			want = want[:len(want)-1]
		}
		wantCode := 0
		if slices.ContainsFunc(want, func(l string) bool { return strings.Contains(l, "DOWN") }) {
			wantCode = 3
		}
		var g, w []string
		switch {
		case strings.HasPrefix(want[0], "{") || strings.HasPrefix(want[0], "["):
			g, w = jsonKeys(t, back.Replace(out)), jsonKeys(t, strings.Join(want, "\n"))
		case words[1] == "version":
			for _, l := range got {
				g = append(g, strings.Fields(l)[0])
			}
			for _, l := range want {
				w = append(w, strings.Fields(l)[0])
			}
		case words[1] == "watch":
			stamp := regexp.MustCompile(`^\S+Z  `)
			shape := tableShape(got[1:], 2)
			for i := range shape {
				shape[i] = back.Replace(shape[i]) // before ordering: the README's names order the targets
			}
			g = append([]string{stamp.ReplaceAllString(got[0], "")}, groups(shape, got[1:])...)
			w = append([]string{stamp.ReplaceAllString(want[0], "")}, groups(tableShape(want[1:], 2), want[1:])...)
		default:
			g, w = tableShape(got, 3), tableShape(want, 3)
		}
		for i := range g {
			g[i] = back.Replace(g[i]) // cut into cells first: the fixtures' addresses are longer
		}
		if !slices.Equal(g, w) || code != wantCode {
			t.Errorf("README.md:%d: %s\nexit %d (want %d), stderr %s\nthe binary prints:\n%s\nthe README shows:\n%s\nshapes:\n%s\nwant:\n%s",
				ex.line, ex.text, code, wantCode, errOut, strings.Join(got, "\n"), strings.Join(want, "\n"), strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
		checked++
	}
	if checked < 5 {
		t.Errorf("checked %d examples with output, want the README's 6 at least", checked)
	}
}

// TestReadmeListsTemplateFields: the fields the README says --format
// templates take are the records' own, all of them.
func TestReadmeListsTemplateFields(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.Join(strings.Fields(string(b)), " ")
	between := func(from, to string) string {
		_, rest, _ := strings.Cut(readme, from)
		part, _, _ := strings.Cut(rest, to)
		return part
	}
	for _, c := range []struct {
		rec  any
		text string
		name func(string) string
	}{
		{containers.Record{}, between("with docker stats' fields", "JSON fields:"), func(f string) string { return "`" + f + "`|" + regexp.QuoteMeta(f) + `\b` }},
		{scrape.Record{}, between("a scrape record has", ")"), func(f string) string { return `\b` + strings.TrimPrefix(f, ".") + `\b` }},
	} {
		if c.text == "" {
			t.Fatalf("the README no longer lists the fields of %T where this test looks", c.rec)
		}
		for _, f := range output.TemplateFields(c.rec) {
			if !regexp.MustCompile(c.name(f)).MatchString(c.text) {
				t.Errorf("the README does not name %s among the fields of %T: %q", f, c.rec, c.text)
			}
		}
	}
}

// TestReadmeShowsTheDefaultRules: the rules the README gives to copy
// are the ones a Docker job, and a Kubernetes pod job, without rules
// gets.
func TestReadmeShowsTheDefaultRules(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, rules := range map[string]string{"DockerRulesYAML": discovery.DockerRulesYAML(), "KubernetesPodRulesYAML": discovery.KubernetesPodRulesYAML()} {
		var want strings.Builder
		for _, l := range strings.Split(strings.TrimSuffix(rules, "\n"), "\n") {
			want.WriteString("        " + l + "\n")
		}
		if !strings.Contains(string(b), "        relabel_configs:\n"+want.String()) {
			t.Errorf("the README's default rules are not discovery.%s():\n%s", name, want.String())
		}
	}
}

// TestReadmeRuleFilesLoad: every rule file the README shows (an indented
// block that starts with groups:) is one monctl loads.
func TestReadmeRuleFilesLoad(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	found := 0
	for i, l := range lines {
		if strings.TrimSpace(l) != "groups:" || !strings.HasPrefix(l, "    ") {
			continue
		}
		indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
		var block []string
		for _, m := range lines[i:] {
			if strings.TrimSpace(m) != "" && !strings.HasPrefix(m, indent) {
				break
			}
			block = append(block, strings.TrimPrefix(m, indent))
		}
		file := filepath.Join(t.TempDir(), "rules.yml")
		if err := os.WriteFile(file, []byte(strings.Join(block, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := query.LoadRules(file); err != nil {
			t.Errorf("README line %d: %v", i+1, err)
		}
		found++
	}
	if found == 0 {
		t.Error("the README shows no rule file")
	}
}
