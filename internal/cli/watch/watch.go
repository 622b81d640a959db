// Package watch is the 'monctl watch' noun group: each resource watched
// live is a package of its own (watch/containers, watch/targets) over the
// view they share (watch/live).
package watch

import (
	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/cli/watch/containers"
	"github.com/monctl/monctl/internal/cli/watch/targets"
)

// NewCmd builds 'monctl watch' with its resources.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "watch RESOURCE",
		Short: "Watch resources live: containers, targets",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return cmdutil.UsageError("watch what? try 'monctl watch containers' or 'monctl watch targets'")
		},
	}
	cmd.AddCommand(containers.NewCmd(f), targets.NewCmd(f))
	return cmd
}
