package output

import (
	"io"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// Escape makes s safe to show on a terminal: control characters (C0, DEL,
// C1, which move the cursor, clear the screen or set the window title) and
// invalid UTF-8 are written as Go escapes (\n, \x1b, \u0085), so that
// nothing a target or a label says can act on the terminal or split a
// line. A string without them is returned as it is.
func Escape(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if isUnsafe(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	b = append(b, s[:i]...)
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\x`...)
			b = append(b, "0123456789abcdef"[s[i]>>4], "0123456789abcdef"[s[i]&15])
		case isUnsafe(r, n):
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\n', '\u0085'
			b = append(b, q[1:len(q)-1]...)
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}

func isUnsafe(r rune, n int) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r == utf8.RuneError && n == 1)
}

// escapeWriter escapes what passes through it but newlines and tabs: for
// messages and logs on stderr, whose own lines are the writer's to keep.
type escapeWriter struct{ w io.Writer }

// EscapingWriter returns a writer that escapes control characters (but
// \n and \t) before they reach w.
func EscapingWriter(w io.Writer) io.Writer { return escapeWriter{w} }

func (e escapeWriter) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p))
	for _, c := range p {
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			q := strconv.QuoteRuneToASCII(rune(c))
			out = append(out, q[1:len(q)-1]...)
			continue
		}
		out = append(out, c)
	}
	if _, err := e.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// EscapeStrings returns a copy of v (a record handed to a --format
// template) with every string in it, map keys included, escaped, so that
// a template prints them safely. Other values are shared, not copied.
func EscapeStrings(v any) any {
	if v == nil {
		return nil
	}
	return escapeValue(reflect.ValueOf(v)).Interface()
}

func escapeValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		return reflect.ValueOf(Escape(v.String())).Convert(v.Type())
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		for i := range c.NumField() {
			if f := c.Field(i); f.CanSet() {
				f.Set(escapeValue(f))
			}
		}
		return c
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			c.SetMapIndex(escapeValue(it.Key()), escapeValue(it.Value()))
		}
		return c
	case reflect.Slice:
		if v.IsNil() || v.Type().Elem().Kind() == reflect.Uint8 {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			c.Index(i).Set(escapeValue(v.Index(i)))
		}
		return c
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(escapeValue(v.Elem()))
		return c
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		e := escapeValue(v.Elem())
		c := reflect.New(v.Type()).Elem()
		c.Set(e)
		return c
	}
	return v
}
