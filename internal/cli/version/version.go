// Package version implements 'monctl version'.
package version

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/buildinfo"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
)

// Options of 'monctl version'.
type Options struct {
	IO  cmdutil.IOStreams
	Out cmdutil.OutputFlags
}

// NewCmd builds the command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print monctl's version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(opts)
		},
	}
	opts.Out.AddOutputFlags(cmd, "table", output.AllShapes)
	return cmd
}

func run(opts *Options) error {
	p, err := opts.Out.Printer(opts.IO, false, buildinfo.Get())
	if err != nil {
		return err
	}
	return p.Print(view(buildinfo.Get()))
}

// view is the build information in every shape.
func view(i buildinfo.Info) output.View {
	return output.View{
		Text: func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "monctl %s\n  commit:   %s\n  built:    %s\n  go:       %s\n  platform: %s\n",
				i.Version, i.Commit, i.Date, i.GoVersion, i.Platform)
			return err
		},
		Rows: func(output.Format) ([]string, [][]string) {
			return []string{"version", "commit", "date", "go_version", "platform"},
				[][]string{{i.Version, i.Commit, i.Date, i.GoVersion, i.Platform}}
		},
		Records: func() []any { return []any{i} },
		Document: func(jw *output.JSONWriter) {
			b, _ := json.MarshalIndent(i, "", "  ") // plain strings: cannot fail
			jw.Raw(b)
		},
		Families: func() []output.Source {
			return []output.Source{{Target: "monctl", Time: time.Now(), Families: []exposition.Family{BuildInfoFamily(i)}}}
		},
	}
}

// BuildInfoFamily is the conventional monctl_build_info gauge.
func BuildInfoFamily(i buildinfo.Info) exposition.Family {
	return exposition.Family{
		Name: "monctl_build_info",
		Type: exposition.Gauge,
		Help: "A metric with a constant '1' value labeled by version, revision and goversion from which monctl was built.",
		Metrics: []exposition.Metric{{
			Labels: exposition.Labels{{Name: "goversion", Value: i.GoVersion}, {Name: "revision", Value: i.Commit}, {Name: "version", Value: i.Version}},
			Value:  1,
		}},
	}
}
