package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Shape is what a format needs from a verb's data.
type Shape int

// The three shapes: rows of cells, records for programs, metric families.
const (
	RowsShape Shape = 1 << iota
	RecordsShape
	FamiliesShape
)

// AllShapes is what a verb offers when it fills every part of a View.
const AllShapes = RowsShape | RecordsShape | FamiliesShape

// formats declares every -o value once, with the shape it takes.
var formats = []struct {
	format Format
	shape  Shape
}{
	{Table, RowsShape}, {Wide, RowsShape}, {JSON, RecordsShape}, {JSONL, RecordsShape},
	{CSV, RowsShape}, {YAML, RecordsShape}, {Prom, FamiliesShape}, {OpenMetrics, FamiliesShape},
	{Protobuf, FamiliesShape}, {Influx, FamiliesShape}, {Markdown, RowsShape},
}

// FormatsOf lists the -o values a verb offering shapes takes, for help,
// completion and validation.
func FormatsOf(shapes Shape) []string {
	var out []string
	for _, f := range formats {
		if f.shape&shapes != 0 {
			out = append(out, string(f.format))
		}
	}
	return out
}

// ParseFormatOf validates an -o value for a verb offering shapes: an
// unknown value and one the verb cannot print are both errors.
func ParseFormatOf(s string, shapes Shape) (Format, error) {
	for _, f := range formats {
		if !strings.EqualFold(s, string(f.format)) {
			continue
		}
		if f.shape&shapes == 0 {
			return "", fmt.Errorf("output format %q is not available here (want one of %s)", s, strings.Join(FormatsOf(shapes), ", "))
		}
		return f.format, nil
	}
	return "", fmt.Errorf("unknown output format %q (want one of %s)", s, strings.Join(FormatsOf(shapes), ", "))
}

// View is a verb's data in the shapes the formats take; the verb fills the
// parts its formats need (see docs/architecture.md).
type View struct {
	// Title is a line above the table; in a stream of views it tells the
	// intervals apart (watch's time line).
	Title string
	// Rows gives the header and cells for table, wide and markdown (cells
	// in units for people) and csv (exact numbers): f says which.
	Rows func(f Format) (header []string, rows [][]string)
	// Text, when set, is what table and wide print instead of Rows.
	Text func(w io.Writer) error
	// Records are the objects --format templates see; json prints them as
	// an array, jsonl one per line and yaml as a list, unless Document
	// or Lines say otherwise.
	Records func() []any
	// Document writes the json and yaml document itself.
	Document func(jw *JSONWriter)
	// Lines writes the jsonl lines itself.
	Lines func(jw *JSONWriter)
	// Families are what prom, openmetrics, protobuf and influx write.
	Families func() []Source
}

// Printer is the one place that turns a View into an -o format. It prints
// one view (scrape) or a stream of them (watch: one per interval).
type Printer struct {
	Out, ErrOut io.Writer
	Format      Format
	Template    *Template
	Term        Terminal
	// Stream says that views follow one another: tables are separated by
	// a blank line, yaml documents start with ---, csv writes its header
	// once.
	Stream bool
	// NoHeaders leaves out a table's header and title (--no-headers).
	NoHeaders bool

	printed int
}

// Print writes v in the printer's format.
func (p *Printer) Print(v View) error {
	defer func() { p.printed++ }()
	if p.Template != nil {
		if v.Records == nil {
			return p.unsupported("--format")
		}
		return p.Template.Execute(p.Out, v.Records())
	}
	switch p.Format {
	case Table, Wide:
		return p.table(v)
	case CSV:
		return p.csv(v)
	case Markdown:
		return p.markdown(v)
	case JSON, YAML:
		return p.document(v)
	case JSONL:
		jw := NewJSONWriter(p.Out, false)
		switch {
		case v.Lines != nil:
			v.Lines(jw)
		case v.Records != nil:
			for _, r := range v.Records() {
				b, err := json.Marshal(r)
				if err != nil {
					return err
				}
				jw.Raw(b)
				jw.Newline()
			}
		default:
			return p.unsupported("-o jsonl")
		}
		return jw.Flush()
	case Prom, OpenMetrics, Protobuf, Influx:
		if v.Families == nil {
			return p.unsupported("-o " + string(p.Format))
		}
		var warnings []string
		var err error
		if p.Format == Influx {
			warnings, err = WriteInflux(p.Out, v.Families())
		} else {
			warnings, err = WriteExposition(p.Out, v.Families(), p.Format)
		}
		for _, w := range warnings {
			fmt.Fprintf(p.ErrOut, "monctl: warning: %s\n", w)
		}
		return err
	}
	return p.unsupported("-o " + string(p.Format))
}

func (p *Printer) unsupported(what string) error {
	return fmt.Errorf("%s is not available for this command", what)
}

func (p *Printer) table(v View) error {
	var buf bytes.Buffer
	if p.Stream && p.printed > 0 {
		buf.WriteByte('\n')
	}
	if v.Title != "" && !p.NoHeaders {
		buf.WriteString(Escape(v.Title) + "\n")
	}
	switch {
	case v.Text != nil:
		if err := v.Text(&buf); err != nil {
			return err
		}
	case v.Rows != nil:
		header, rows := v.Rows(p.Format)
		var table bytes.Buffer
		if err := WriteTable(&table, p.Term, header, rows); err != nil {
			return err
		}
		body := table.Bytes()
		if p.NoHeaders {
			_, body, _ = bytes.Cut(body, []byte("\n"))
		}
		buf.Write(body)
	default:
		return p.unsupported("-o " + string(p.Format))
	}
	_, err := p.Out.Write(buf.Bytes())
	return err
}

func (p *Printer) csv(v View) error {
	if v.Rows == nil {
		return p.unsupported("-o csv")
	}
	header, rows := v.Rows(CSV)
	cw := csv.NewWriter(p.Out)
	if !p.Stream || p.printed == 0 {
		names := make([]string, len(header))
		for i, h := range header {
			names[i] = CSVName(h)
		}
		if err := cw.Write(names); err != nil {
			return err
		}
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

// csvNames are the parts of a table's column names that read as words
// in a csv header.
var csvNames = strings.NewReplacer("%", " percent ", "/s", " per s", "I/O", "io")

// CSVName is a table's column name as every csv header writes it, in
// snake case as the JSON fields are: "SCRAPE DURATION" is
// scrape_duration, "CPU %" cpu_percent, "NET RX/s" net_rx_per_s.
func CSVName(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(csvNames.Replace(name)) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			sep = false
			continue
		}
		sep = true
	}
	return b.String()
}

// document writes json and yaml: the view's own document, or its records
// as an array.
func (p *Printer) document(v View) error {
	var buf bytes.Buffer
	switch {
	case v.Document != nil:
		jw := NewJSONWriter(&buf, false)
		v.Document(jw)
		if err := jw.Flush(); err != nil {
			return err
		}
		if p.Format == JSON {
			buf.WriteByte('\n')
		}
	case v.Records != nil:
		recs := v.Records()
		if recs == nil {
			recs = []any{}
		}
		var b []byte
		var err error
		if p.Format == JSON {
			b, err = json.MarshalIndent(recs, "", "  ")
		} else {
			b, err = json.Marshal(recs)
		}
		if err != nil {
			return err
		}
		buf.Write(b)
		if p.Format == JSON {
			buf.WriteByte('\n')
		}
	default:
		return p.unsupported("-o " + string(p.Format))
	}
	if p.Format == JSON {
		_, err := p.Out.Write(buf.Bytes())
		return err
	}
	if p.Stream {
		if _, err := io.WriteString(p.Out, "---\n"); err != nil {
			return err
		}
	}
	return JSONToYAML(p.Out, buf.Bytes())
}
