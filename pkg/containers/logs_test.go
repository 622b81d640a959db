package containers

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// record collects what a lineWriter hands on, as "time|message".
func record(framed bool) (*lineWriter, *[]string) {
	var got []string
	return &lineWriter{framed: framed, emit: func(t time.Time, b []byte) error {
		got = append(got, t.Format(time.RFC3339Nano)+"|"+string(b))
		return nil
	}}, &got
}

// TestLineWriter: lines are cut at newlines across writes (a TTY's
// stream), a TTY's \r is dropped, the engine's timestamp is split off,
// and a last line without its newline still counts.
func TestLineWriter(t *testing.T) {
	w, got := record(false)
	for _, part := range []string{"2026-11-22T08:00:00.5Z one\r\n2026-11-22T08:00:01Z t", "wo\n", "not a time\n2026-11-22T08:00:02Z last"} {
		w.Write([]byte(part))
	}
	w.flush()
	want := "2026-11-22T08:00:00.5Z|one;2026-11-22T08:00:01Z|two;0001-01-01T00:00:00Z|not a time;2026-11-22T08:00:02Z|last"
	if strings.Join(*got, ";") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(*got, ";"), want)
	}
}

// TestLineWriterJoinsPartialMessages: the engine sends a long line as
// messages of 16 KiB, each with a timestamp of its own; framed, the line
// comes whole, with its first part's time, and the next line has its own.
func TestLineWriterJoinsPartialMessages(t *testing.T) {
	w, got := record(true)
	for _, frame := range []string{"2026-11-22T08:00:00.100000000Z aaa", "2026-11-22T08:00:00.200000000Z bbb", "2026-11-22T08:00:00.300000000Z ccc\n",
		"2026-11-22T08:00:01.000000000Z next\n"} {
		if n, err := w.Write([]byte(frame)); n != len(frame) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	want := "2026-11-22T08:00:00.1Z|aaabbbccc;2026-11-22T08:00:01Z|next"
	if strings.Join(*got, ";") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(*got, ";"), want)
	}
}

// TestLineWriterBoundsALine: a line longer than maxLine is handed on in
// pieces of maxLine, each with the line's time; nothing is lost.
func TestLineWriterBoundsALine(t *testing.T) {
	var pieces [][]byte
	var times []time.Time
	w := &lineWriter{framed: true, emit: func(t time.Time, b []byte) error {
		pieces, times = append(pieces, bytes.Clone(b)), append(times, t)
		return nil
	}}
	long := bytes.Repeat([]byte("0123456789"), (5*maxLine/2)/10)
	w.Write([]byte("2026-11-22T08:00:00Z "))
	for rest := long; len(rest) > 0; rest = rest[min(len(rest), 16<<10):] {
		w.Write(append([]byte("2026-11-22T08:00:09Z "), rest[:min(len(rest), 16<<10)]...))
	}
	w.Write([]byte("2026-11-22T08:00:09Z \r\n"))
	if len(pieces) != 3 || len(pieces[0]) != maxLine || len(pieces[1]) != maxLine || !bytes.Equal(bytes.Join(pieces, nil), long) {
		t.Fatalf("%d pieces of %v bytes", len(pieces), func() (n []int) {
			for _, p := range pieces {
				n = append(n, len(p))
			}
			return
		}())
	}
	for _, at := range times {
		if !at.Equal(time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)) {
			t.Errorf("a piece has the time %v, want the line's", at)
		}
	}
}

// TestLineWriterFullLineWithCarriageReturn: a TTY's line of exactly
// maxLine bytes ends in \r\n; the \r past the bound makes no empty piece.
func TestLineWriterFullLineWithCarriageReturn(t *testing.T) {
	w, got := record(false)
	w.Write(append(append([]byte("2026-11-22T08:00:00Z "), bytes.Repeat([]byte("x"), maxLine)...), "\r\n2026-11-22T08:00:01Z \r\n"...))
	if len(*got) != 2 || len((*got)[0]) != len("2026-11-22T08:00:00Z|")+maxLine || (*got)[1] != "2026-11-22T08:00:01Z|" {
		t.Errorf("%d lines, want the full one and an empty one", len(*got))
	}
}
