package containers

import (
	"strings"
	"testing"
	"time"
)

// TestLineWriter: lines are cut at newlines across writes, a TTY's \r is
// dropped, the engine's timestamp is split off, and a last line without
// its newline still counts.
func TestLineWriter(t *testing.T) {
	var got []string
	w := &lineWriter{emit: func(b []byte) error {
		ts, msg := splitTimestamp(b)
		got = append(got, ts.Format(time.RFC3339Nano)+"|"+msg)
		return nil
	}}
	for _, part := range []string{"2026-11-22T08:00:00.5Z one\r\n2026-11-22T08:00:01Z t", "wo\n", "not a time\n2026-11-22T08:00:02Z last"} {
		w.Write([]byte(part))
	}
	w.flush()
	want := "2026-11-22T08:00:00.5Z|one;2026-11-22T08:00:01Z|two;0001-01-01T00:00:00Z|not a time;2026-11-22T08:00:02Z|last"
	if strings.Join(got, ";") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, ";"), want)
	}
}
