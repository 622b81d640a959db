// Package cmdtest runs one verb's command in a test as the root command
// runs it, so that each verb package tests itself from flags to behaviour.
package cmdtest

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/cli/cmdutil"
)

// Execute runs cmd with args: flag errors are usage errors (exit 2) and
// cobra prints nothing of its own, as under the root command.
func Execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.UsageError("%v", err) })
	return cmd.ExecuteContext(context.Background())
}
