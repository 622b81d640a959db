package output

import (
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// JSONWriter streams JSON without reflection, so that large scrapes are
// written at the speed of the parser and without a second copy in memory.
// Numbers are raw; NaN and ±Inf, which JSON cannot carry, become the
// strings "NaN", "+Inf" and "-Inf" (as in the Prometheus HTTP API).
type JSONWriter struct {
	w      io.Writer
	buf    []byte
	err    error
	indent bool
	stack  []bool // per open container: has an element been written
	key    bool   // a key was just written; the value needs no comma
}

// NewJSONWriter writes to w; indent pretty-prints with two spaces.
func NewJSONWriter(w io.Writer, indent bool) *JSONWriter {
	return &JSONWriter{w: w, buf: make([]byte, 0, 64<<10), indent: indent}
}

func (j *JSONWriter) newline() {
	if j.indent {
		j.buf = append(j.buf, '\n')
		for range j.stack {
			j.buf = append(j.buf, ' ', ' ')
		}
	}
}

// sep writes what goes before a value: a comma and, when indenting, a newline.
func (j *JSONWriter) sep() {
	if j.key {
		j.key = false
		return
	}
	if n := len(j.stack); n > 0 {
		if j.stack[n-1] {
			j.buf = append(j.buf, ',')
		}
		j.stack[n-1] = true
		j.newline()
	}
}

// BeginObject opens an object.
func (j *JSONWriter) BeginObject() {
	j.sep()
	j.buf = append(j.buf, '{')
	j.stack = append(j.stack, false)
}

// EndObject closes an object.
func (j *JSONWriter) EndObject() { j.end('}') }

// BeginArray opens an array.
func (j *JSONWriter) BeginArray() {
	j.sep()
	j.buf = append(j.buf, '[')
	j.stack = append(j.stack, false)
}

// EndArray closes an array.
func (j *JSONWriter) EndArray() { j.end(']') }

func (j *JSONWriter) end(c byte) {
	had := j.stack[len(j.stack)-1]
	j.stack = j.stack[:len(j.stack)-1]
	if had {
		j.newline()
	}
	j.buf = append(j.buf, c)
	j.maybeFlush()
}

// Key writes an object key; the next call writes its value.
func (j *JSONWriter) Key(k string) {
	j.sep()
	j.buf = appendJSONString(j.buf, k)
	j.buf = append(j.buf, ':')
	if j.indent {
		j.buf = append(j.buf, ' ')
	}
	j.key = true
}

// String writes a string value.
func (j *JSONWriter) String(s string) { j.sep(); j.buf = appendJSONString(j.buf, s) }

// Float writes a number (or "NaN"/"+Inf"/"-Inf").
func (j *JSONWriter) Float(v float64) {
	j.sep()
	j.buf = appendJSONFloat(j.buf, v)
}

func appendJSONFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(b, `"+Inf"`...)
	case math.IsInf(v, -1):
		return append(b, `"-Inf"`...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// JSONFloat is a number in a record marshalled by encoding/json, written
// as JSONWriter writes numbers: NaN and ±Inf as strings, where
// encoding/json would fail.
type JSONFloat float64

// MarshalJSON implements json.Marshaler.
func (f JSONFloat) MarshalJSON() ([]byte, error) { return appendJSONFloat(nil, float64(f)), nil }

// Int writes an integer.
func (j *JSONWriter) Int(v int64) { j.sep(); j.buf = strconv.AppendInt(j.buf, v, 10) }

// Bool writes true or false.
func (j *JSONWriter) Bool(v bool) { j.sep(); j.buf = strconv.AppendBool(j.buf, v) }

// Null writes null.
func (j *JSONWriter) Null() { j.sep(); j.buf = append(j.buf, "null"...) }

// Raw writes an encoded JSON value as it is.
func (j *JSONWriter) Raw(b []byte) { j.sep(); j.buf = append(j.buf, b...); j.maybeFlush() }

// Newline ends one document of a JSON-lines stream.
func (j *JSONWriter) Newline() { j.buf = append(j.buf, '\n'); j.maybeFlush() }

func (j *JSONWriter) maybeFlush() {
	if len(j.buf) >= 60<<10 {
		j.Flush()
	}
}

// Err returns the first write error, so that a producer can stop early.
func (j *JSONWriter) Err() error { return j.err }

// Flush writes what is buffered and returns the first write error.
func (j *JSONWriter) Flush() error {
	if j.err == nil && len(j.buf) > 0 {
		_, j.err = j.w.Write(j.buf)
	}
	j.buf = j.buf[:0]
	return j.err
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does (invalid UTF-8 becomes
// U+FFFD), without escaping <, > and & since nothing here is HTML.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
