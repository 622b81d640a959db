// Package version implements 'monctl version'.
package version

import (
	"bytes"
	"encoding/csv"
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
	opts.Out.AddOutputFlags(cmd, "table")
	return cmd
}

func run(opts *Options) error {
	format, tmpl, err := opts.Out.Resolve()
	if err != nil {
		return err
	}
	return write(opts.IO.Out, format, tmpl, buildinfo.Get())
}

func write(w io.Writer, format output.Format, tmpl *output.Template, i buildinfo.Info) error {
	if tmpl != nil {
		return tmpl.Execute(w, []any{i})
	}
	switch format {
	case output.JSON, output.JSONL, output.YAML:
		b, err := json.Marshal(i)
		if err != nil {
			return err
		}
		switch format {
		case output.YAML:
			return output.JSONToYAML(w, b)
		case output.JSON:
			var buf bytes.Buffer
			if err := json.Indent(&buf, b, "", "  "); err != nil {
				return err
			}
			b = buf.Bytes()
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case output.CSV:
		cw := csv.NewWriter(w)
		cw.Write([]string{"version", "commit", "date", "go_version", "platform"})
		cw.Write([]string{i.Version, i.Commit, i.Date, i.GoVersion, i.Platform})
		cw.Flush()
		return cw.Error()
	case output.Prom, output.OpenMetrics, output.Protobuf, output.Influx:
		src := []output.Source{{Target: "monctl", Time: time.Now(), Families: []exposition.Family{BuildInfoFamily(i)}}}
		var err error
		if format == output.Influx {
			_, err = output.WriteInflux(w, src)
		} else {
			_, err = output.WriteExposition(w, src, format)
		}
		return err
	}
	_, err := fmt.Fprintf(w, "monctl %s\n  commit:   %s\n  built:    %s\n  go:       %s\n  platform: %s\n",
		i.Version, i.Commit, i.Date, i.GoVersion, i.Platform)
	return err
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
