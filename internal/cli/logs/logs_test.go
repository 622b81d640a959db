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
	w := &writer{p: &output.Printer{Format: output.Table, Term: output.Terminal{IsTTY: true, Color: true}}, out: bufio.NewWriter(&out), multi: true, prefix: true, colours: map[string]string{}}
	w.line(&ctr.LogLine{Host: "h1", ID: "a", Name: "web", Message: "hi \x1b[2Jthere"})
	w.line(&ctr.LogLine{Host: "h2", ID: "b", Name: "db\x07", Message: "ok"})
	w.line(&ctr.LogLine{Host: "h1", ID: "a", Name: "web", Message: "again"})
	w.flush()
	want := "\x1b[36mh1/web | \x1b[0mhi \\x1b[2Jthere\n\x1b[33mh2/db\\a | \x1b[0mok\n\x1b[36mh1/web | \x1b[0magain\n"
	if out.String() != want {
		t.Errorf("got  %q\nwant %q", out.String(), want)
	}
	out.Reset()
	w = &writer{p: &output.Printer{Format: output.Table}, out: bufio.NewWriter(&out), prefix: true, colours: map[string]string{}}
	stop := w.flushEvery(time.Hour)
	w.line(&ctr.LogLine{Host: "h1", Name: "web", Message: "plain"})
	stop()
	stop()
	if out.String() != "web | plain\n" || strings.Contains(out.String(), "\x1b") {
		t.Errorf("piped: %q", out.String())
	}
	// --no-log-prefix: the lines alone, escaped, on a terminal too.
	out.Reset()
	w = &writer{p: &output.Printer{Format: output.Table, Term: output.Terminal{IsTTY: true, Color: true}}, out: bufio.NewWriter(&out), colours: map[string]string{}}
	w.line(&ctr.LogLine{Host: "h1", Name: "web", Message: "bare \x1b[2J"})
	w.flush()
	if out.String() != "bare \\x1b[2J\n" {
		t.Errorf("without prefix: %q", out.String())
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
	if got := fileName("unix:///run/docker.sock", "web/1", ".log", 5); got != "unix____run_docker.sock_web_1.log" {
		t.Errorf("file name %q", got)
	}
}

// TestFileErrorsStayWithTheirContainer: a name too long for the file
// system is shortened so that its rotations fit too; a planted symlink
// is never written through (opening or rotating); a file that cannot be
// written stops only its own container, said once; a line cut short by
// a full disk is ended before the next run appends.
func TestFileErrorsStayWithTheirContainer(t *testing.T) {
	dir := t.TempDir()
	var errOut strings.Builder
	s := &fileSink{dir: dir, ext: ".log", max: 40, keep: 100, errOut: &errOut, files: map[string]*rotatingFile{}, broken: map[string]bool{}}
	defer s.Close()
	long1, long2 := strings.Repeat("a", 253), strings.Repeat("a", 252)+"b"
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("mine\n"), 0o600)
	os.Symlink(victim, filepath.Join(dir, "h_planted.log"))
	os.Symlink(victim, filepath.Join(dir, "h_rot.log.1"))
	for i := range 10 {
		for _, name := range []string{long1, long2, "planted", "rot"} {
			s.write("h", name, fmt.Sprintf("line %d of %s\n", i, name[:3]))
		}
	}
	if got := strings.Count(errOut.String(), "monctl: "); got != 1 || !strings.Contains(errOut.String(), "h/planted: writing its log file: ") ||
		!strings.Contains(errOut.String(), "symlink") {
		t.Errorf("want one error, for the planted symlink: %q", errOut.String())
	}
	if s.failed() != 1 {
		t.Errorf("%d containers failed, want 1", s.failed())
	}
	if b, _ := os.ReadFile(victim); string(b) != "mine\n" {
		t.Errorf("the victim of the symlinks was written: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	names := map[string]bool{}
	for _, e := range entries {
		if len(e.Name()) > nameMax {
			t.Errorf("a file name of %d bytes", len(e.Name()))
		}
		names[e.Name()] = true
	}
	a, b := fileName("h", long1, ".log", 100), fileName("h", long2, ".log", 100)
	if a == b || !names[a] || !names[b] || !names[a+".1"] || !names[b+".1"] {
		t.Errorf("the long names' files and their rotations: %v", names)
	}
	// A full disk cut the last line short: the next run ends it first.
	p := filepath.Join(dir, "h_cut.log")
	os.WriteFile(p, []byte("whole\nhal"), 0o600)
	r, err := openRotating(p, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	r.writeLine("next\n")
	r.Close()
	if got, _ := os.ReadFile(p); string(got) != "whole\nhal\nnext\n" {
		t.Errorf("after a cut line: %q", got)
	}
}
