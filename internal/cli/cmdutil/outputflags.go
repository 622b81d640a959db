package cmdutil

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/output"
)

// OutputFlags are -o and --format, shared by every verb.
type OutputFlags struct {
	Output   string
	Template string
}

// AddOutputFlags registers -o/--output and --format on cmd.
func (o *OutputFlags) AddOutputFlags(cmd *cobra.Command, def string) {
	o.Output = def
	cmd.Flags().VarP((*formatValue)(&o.Output), "output", "o", "output format: "+strings.Join(output.Formats, "|"))
	cmd.Flags().StringVar(&o.Template, "format", "", "Go template per record, like docker: 'table {{.Name}}\\t{{.Value}}', 'json', or '{{.Name}}'")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(output.Formats, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.NoFileCompletions)
}

// Resolve validates the flags: the format, or the parsed template.
func (o *OutputFlags) Resolve() (output.Format, *output.Template, error) {
	if o.Template != "" {
		t, err := output.ParseTemplate(o.Template)
		if err != nil {
			return "", nil, UsageError("%v", err)
		}
		return "", t, nil
	}
	f, err := output.ParseFormat(o.Output)
	if err != nil {
		return "", nil, UsageError("%v", err)
	}
	return f, nil, nil
}

// formatValue checks an -o value when it is set, so that a bad one in the
// environment or the config file is named there, before any work.
type formatValue string

func (f *formatValue) String() string { return string(*f) }
func (f *formatValue) Type() string   { return "string" }

func (f *formatValue) Set(s string) error {
	if _, err := output.ParseFormat(s); err != nil {
		return err
	}
	*f = formatValue(s)
	return nil
}
