package output

import (
	"bytes"
	"strings"
)

// markdownSpecial are the characters a cell's text could start markup
// with in a Markdown renderer: a column, emphasis, code, an HTML tag or
// entity, a link, strikethrough. Each is escaped with a backslash, so
// that what a target sent is shown as text wherever the table is pasted.
var markdownSpecial = strings.NewReplacer(
	`\`, `\\`, `|`, `\|`, `*`, `\*`, `_`, `\_`, "`", "\\`", `<`, `\<`, `>`, `\>`,
	`[`, `\[`, `]`, `\]`, `&`, `\&`, `~`, `\~`)

// markdownCell is a cell of a Markdown table: control characters escaped
// as in a terminal, markup characters with a backslash.
func markdownCell(s string) string {
	return markdownSpecial.Replace(Escape(s))
}

// markdown writes the rows as a GitHub-flavoured Markdown table (cells in
// units for people, as a table's), under the title as a paragraph.
func (p *Printer) markdown(v View) error {
	if v.Rows == nil {
		return p.unsupported("-o markdown")
	}
	header, rows := v.Rows(Markdown)
	var buf bytes.Buffer
	if p.Stream && p.printed > 0 {
		buf.WriteByte('\n')
	}
	if v.Title != "" && !p.NoHeaders {
		buf.WriteString(markdownCell(v.Title) + "\n\n")
	}
	line := func(cells []string) {
		buf.WriteByte('|')
		for _, c := range cells {
			buf.WriteString(" " + markdownCell(c) + " |")
		}
		buf.WriteByte('\n')
	}
	// A Markdown table cannot do without its header: --no-headers
	// leaves out the title only.
	line(header)
	buf.WriteByte('|')
	for range header {
		buf.WriteString(" --- |")
	}
	buf.WriteByte('\n')
	for _, r := range rows {
		line(r)
	}
	_, err := p.Out.Write(buf.Bytes())
	return err
}
