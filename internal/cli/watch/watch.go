// Package watch is the 'monctl watch' noun group: each resource watched
// live is a package of its own (watch/containers, watch/targets) over the
// view they share (watch/live). A resource is added here, by its NewCmd,
// and nowhere else.
package watch

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/cli/watch/containers"
	"github.com/monctl/monctl/internal/cli/watch/host"
	"github.com/monctl/monctl/internal/cli/watch/k8s"
	"github.com/monctl/monctl/internal/cli/watch/targets"
)

// NewCmd builds 'monctl watch' with its resources; its help and its
// "watch what?" name them as they are registered.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	resources := []*cobra.Command{containers.NewCmd(f), targets.NewCmd(f), host.NewCmd(f), k8s.NewCmd(f)}
	names, tries := make([]string, len(resources)), make([]string, len(resources))
	for i, r := range resources {
		names[i] = r.Name()
		tries[i] = "'monctl watch " + r.Name() + "'"
	}
	cmd := &cobra.Command{
		Use:   "watch RESOURCE",
		Short: "Watch resources live: " + strings.Join(names, ", "),
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return cmdutil.UsageError("watch what? try %s", strings.Join(tries, " or "))
		},
	}
	cmd.AddCommand(resources...)
	return cmd
}
