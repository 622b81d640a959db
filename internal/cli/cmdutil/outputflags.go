package cmdutil

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/output"
)

// OutputFlags are -o and --format, shared by every verb.
type OutputFlags struct {
	Output    string
	Template  string
	NoHeaders bool

	shapes output.Shape
	only   []string // with AddOutputFormats: the formats taken, no others
}

// AddOutputFlags registers -o/--output and --format on cmd, for a verb
// whose views have shapes: -o takes only the formats it can print.
func (o *OutputFlags) AddOutputFlags(cmd *cobra.Command, def string, shapes output.Shape) {
	o.Output, o.shapes = def, shapes
	names := output.FormatsOf(shapes)
	cmd.Flags().VarP(&formatValue{o}, "output", "o", "output format: "+strings.Join(names, "|"))
	if shapes&output.RowsShape != 0 {
		cmd.Flags().BoolVar(&o.NoHeaders, "no-headers", false, "tables without their header (nor watch's time line), as kubectl's --no-headers")
	}
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(names, cobra.ShellCompDirectiveNoFileComp))
	if shapes&output.RecordsShape != 0 {
		cmd.Flags().StringVar(&o.Template, "format", "", "Go template per record, like docker: 'table {{.Name}}\\t{{.Value}}', 'json' (the -o jsonl records), or '{{.Name}}'")
		_ = cmd.RegisterFlagCompletionFunc("format", cobra.NoFileCompletions)
		// One or the other: a --format that silently won over an -o
		// would print what was not asked for.
		cmd.MarkFlagsMutuallyExclusive("output", "format")
	}
}

// AddOutputFormats registers -o/--output on cmd for a verb that prints
// only the formats given (logs: its lines or their records), without
// --format: help, completion and validation offer just those.
func (o *OutputFlags) AddOutputFormats(cmd *cobra.Command, def output.Format, only ...output.Format) {
	o.Output, o.shapes = string(def), output.AllShapes
	for _, f := range only {
		o.only = append(o.only, string(f))
	}
	cmd.Flags().VarP(&formatValue{o}, "output", "o", "output format: "+strings.Join(o.only, "|"))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(o.only, cobra.ShellCompDirectiveNoFileComp))
}

// Resolve validates the flags: the format, or the parsed template.
func (o *OutputFlags) Resolve() (output.Format, *output.Template, error) {
	if o.Template == "json" {
		// docker's --format json: a record per line, as -o jsonl.
		return output.JSONL, nil, nil
	}
	if o.Template != "" {
		t, err := output.ParseTemplate(o.Template)
		if err != nil {
			return "", nil, UsageError("%v", err)
		}
		return "", t, nil
	}
	f, err := o.parse(o.Output)
	if err != nil {
		return "", nil, UsageError("%v", err)
	}
	return f, nil, nil
}

// parse is an -o value this verb prints.
func (o *OutputFlags) parse(s string) (output.Format, error) {
	f, err := output.ParseFormatOf(s, o.shapes)
	if err == nil && o.only != nil && !slices.Contains(o.only, string(f)) {
		err = fmt.Errorf("output format %q is not available here (want one of %s)", s, strings.Join(o.only, ", "))
	}
	return f, err
}

// Printer resolves the flags into the printer of io.Out; stream says that
// one view follows another (see output.Printer). A --format template is
// run once on example, a record of the kind it will get, so that one
// naming a field records lack fails before any work.
func (o *OutputFlags) Printer(io IOStreams, stream bool, example any) (*output.Printer, error) {
	format, tmpl, err := o.Resolve()
	if err != nil {
		return nil, err
	}
	if tmpl != nil {
		if err := tmpl.Check(example); err != nil {
			return nil, UsageError("%v", err)
		}
	}
	return &output.Printer{Out: io.Out, ErrOut: io.ErrOut, Format: format, Template: tmpl, Term: io.Terminal(), Stream: stream, NoHeaders: o.NoHeaders}, nil
}

// formatValue checks an -o value when it is set, so that a bad one in the
// environment or the config file is named there, before any work.
type formatValue struct{ o *OutputFlags }

func (f *formatValue) String() string { return f.o.Output }
func (f *formatValue) Type() string   { return "string" }

func (f *formatValue) Set(s string) error {
	if _, err := f.o.parse(s); err != nil {
		return err
	}
	f.o.Output = s
	return nil
}
