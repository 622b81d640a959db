package logs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/internal/output"
	ctr "github.com/monctl/monctl/pkg/containers"
)

// TestWriterPrefixesAndEscapes: a prefix per container, host/name with
// several engines, a colour per container on a terminal only, control
// characters of names and lines escaped.
func TestWriterPrefixesAndEscapes(t *testing.T) {
	var out bytes.Buffer
	w := &writer{p: &output.Printer{Format: output.Table, Term: output.Terminal{IsTTY: true, Color: true}}, out: bufio.NewWriter(&out), multi: true, colours: map[string]string{}}
	w.line(&ctr.LogLine{Host: "h1", ID: "a", Name: "web", Message: "hi \x1b[2Jthere"})
	w.line(&ctr.LogLine{Host: "h2", ID: "b", Name: "db\x07", Message: "ok"})
	w.line(&ctr.LogLine{Host: "h1", ID: "a", Name: "web", Message: "again"})
	w.flush()
	want := "\x1b[36mh1/web | \x1b[0mhi \\x1b[2Jthere\n\x1b[33mh2/db\\a | \x1b[0mok\n\x1b[36mh1/web | \x1b[0magain\n"
	if out.String() != want {
		t.Errorf("got  %q\nwant %q", out.String(), want)
	}
	out.Reset()
	w = &writer{p: &output.Printer{Format: output.Table}, out: bufio.NewWriter(&out), colours: map[string]string{}}
	stop := w.flushEvery(time.Hour)
	w.line(&ctr.LogLine{Host: "h1", Name: "web", Message: "plain"})
	stop()
	stop()
	if out.String() != "web | plain\n" || strings.Contains(out.String(), "\x1b") {
		t.Errorf("piped: %q", out.String())
	}
}

// TestRotatingFileKeepsEveryLine: lines appended across runs, rotated
// before a line would pass the size, at most keep old files, no line
// split, lost (within what is kept) or repeated.
func TestRotatingFileKeepsEveryLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "h_web.log")
	write := func(from, to int) {
		r, err := openRotating(path, 100, 2)
		if err != nil {
			t.Fatal(err)
		}
		for i := from; i < to; i++ {
			if err := r.writeLine(fmt.Sprintf("line %03d\n", i)); err != nil { // 9 bytes
				t.Fatal(err)
			}
		}
		r.Close()
	}
	write(0, 20)
	write(20, 40) // a second run appends
	var all []string
	for _, name := range []string{"h_web.log.2", "h_web.log.1", "h_web.log"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 100 {
			t.Errorf("%s has %d bytes, over 100", name, len(b))
		}
		all = append(all, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	if _, err := os.Stat(filepath.Join(dir, "h_web.log.3")); err == nil {
		t.Error("more files kept than --max-files")
	}
	// 11 lines fit in 100 bytes: the three files hold the last 11+11+7.
	for i, l := range all {
		if want := fmt.Sprintf("line %03d", 40-len(all)+i); l != want {
			t.Fatalf("line %d of the kept files is %q, want %q", i, l, want)
		}
	}
	if len(all) != 29 {
		t.Errorf("%d lines kept, want 29", len(all))
	}
	if got := fileName("unix:///run/docker.sock", "web/1", ".log"); got != "unix____run_docker.sock_web_1.log" {
		t.Errorf("file name %q", got)
	}
}
