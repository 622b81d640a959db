package logs

import (
	"bytes"
	"strings"
	"testing"

	"github.com/monctl/monctl/internal/output"
	ctr "github.com/monctl/monctl/pkg/containers"
)

// TestWriterPrefixesAndEscapes: a prefix per container, host/name with
// several engines, a colour per container on a terminal only, control
// characters of names and lines escaped.
func TestWriterPrefixesAndEscapes(t *testing.T) {
	var out bytes.Buffer
	w := &writer{p: &output.Printer{Format: output.Table, Term: output.Terminal{IsTTY: true, Color: true}}, out: &out, multi: true, colours: map[string]string{}}
	w.line(&ctr.LogLine{Host: "h1", ID: "a", Name: "web", Message: "hi \x1b[2Jthere"})
	w.line(&ctr.LogLine{Host: "h2", ID: "b", Name: "db\x07", Message: "ok"})
	w.line(&ctr.LogLine{Host: "h1", ID: "a", Name: "web", Message: "again"})
	want := "\x1b[36mh1/web | \x1b[0mhi \\x1b[2Jthere\n\x1b[33mh2/db\\a | \x1b[0mok\n\x1b[36mh1/web | \x1b[0magain\n"
	if out.String() != want {
		t.Errorf("got  %q\nwant %q", out.String(), want)
	}
	out.Reset()
	w = &writer{p: &output.Printer{Format: output.Table}, out: &out, colours: map[string]string{}}
	w.line(&ctr.LogLine{Host: "h1", Name: "web", Message: "plain"})
	if out.String() != "web | plain\n" || strings.Contains(out.String(), "\x1b") {
		t.Errorf("piped: %q", out.String())
	}
}
