package logs

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monctl/monctl/pkg/objectstore"
)

// TestObjectSinkPieces: lines for a bucket are cut into pieces of at most
// --max-size, sealed (gzipped with --compress) into the queue whole, a
// piece an earlier run left open is sealed as it is, and every line is in
// exactly one piece. Nothing is sent: the store names a closed port.
func TestObjectSinkPieces(t *testing.T) {
	dest, _ := objectstore.ParseDest("s3://b/p")
	store, err := objectstore.Open(dest, objectstore.Config{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	queue := t.TempDir()
	os.MkdirAll(filepath.Join(queue, "open"), 0o700)
	left := filepath.Join(queue, "open", "h_web.20261207T100000.000Z.log")
	os.WriteFile(left, []byte("line left\n"), 0o600)

	var errOut bytes.Buffer
	files := &fileSink{ext: ".log", max: 100, errOut: &errOut, files: map[string]*rotatingFile{}, broken: map[string]bool{}}
	s, err := newObjectSink(files, store, queue, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newObjectSink(files, store, queue, true, 0); err == nil || !strings.Contains(err.Error(), "another monctl logs") {
		t.Errorf("a second sink on the same queue: %v", err)
	}
	for i := range 40 {
		files.write("h", "web", fmt.Sprintf("line %d\n", i))
	}
	s.Close() // the upload fails: the pieces stay in ready
	pieces, _ := filepath.Glob(filepath.Join(queue, "ready", "*"))
	seen := map[string]int{}
	for _, p := range pieces {
		if !strings.HasPrefix(filepath.Base(p), "h_web.2") || !strings.HasSuffix(p, "Z.log.gz") {
			t.Errorf("piece %s", filepath.Base(p))
		}
		f, _ := os.Open(p)
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		b, _ := io.ReadAll(zr)
		f.Close()
		if len(b) > 100 {
			t.Errorf("%s: %d bytes, over max", p, len(b))
		}
		for l := range strings.Lines(string(b)) {
			seen[l]++
		}
	}
	if len(seen) != 41 || seen["line left\n"] != 1 || seen["line 39\n"] != 1 {
		t.Errorf("%d pieces hold %d distinct lines, want 41 each once: %v", len(pieces), len(seen), seen)
	}
	for l, n := range seen {
		if n != 1 {
			t.Errorf("%q %d times", l, n)
		}
	}
	if open, _ := os.ReadDir(filepath.Join(queue, "open")); len(open) != 0 {
		t.Errorf("%d pieces left open after Close", len(open))
	}
	if !strings.Contains(errOut.String(), "kept in "+filepath.Join(queue, "ready")) {
		t.Errorf("the failed upload is not said: %s", errOut.String())
	}
	if got := pieceTime("h_web.x.20261207T100000.000Z.jsonl.gz"); got != "20261207T100000.000Z" {
		t.Errorf("pieceTime: %q", got)
	}
}
