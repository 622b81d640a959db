package output

import (
	"bytes"
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// WriteTable writes a borderless, left-aligned table like kubectl's, with
// three spaces between columns and no trailing blanks. Every cell is
// escaped (see Escape): a table is for people, piped or not.
func WriteTable(w io.Writer, term Terminal, header []string, rows [][]string) error {
	for _, row := range rows {
		for i, cell := range row {
			row[i] = Escape(cell)
		}
	}
	var buf bytes.Buffer
	tb := tablewriter.NewTable(&buf,
		tablewriter.WithRendition(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Lines: tw.LinesNone, Separators: tw.SeparatorsNone},
		}),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: "   ", Overwrite: true}),
		tablewriter.WithTrimSpace(tw.Off),
	)
	tb.Header(header)
	if err := tb.Bulk(rows); err != nil {
		return err
	}
	if err := tb.Render(); err != nil {
		return err
	}
	lines := bytes.SplitAfter(buf.Bytes(), []byte("\n"))
	var out bytes.Buffer
	for i, l := range lines {
		l = bytes.TrimRight(l, " \n")
		if len(l) == 0 && i == len(lines)-1 {
			break
		}
		if i == 0 {
			out.WriteString(term.Style(Bold, string(l)))
		} else {
			out.Write(l)
		}
		out.WriteByte('\n')
	}
	_, err := w.Write(out.Bytes())
	return err
}
