// Package cmdtest runs one verb's command in a test as the root command
// runs it, so that each verb package tests itself from flags to behaviour.
package cmdtest

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/cli/cmdutil"
)

// Execute runs cmd with args: flag errors and cobra's own are usage
// errors (exit 2) and cobra prints nothing of its own, as under the root
// command.
func Execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.UsageError("%v", err) })
	err := cmd.ExecuteContext(context.Background())
	var ee *cmdutil.ExitError
	var se *cmdutil.SignalError
	if err != nil && !errors.As(err, &ee) && !errors.As(err, &se) {
		// cobra's own errors (flag groups, arguments) are usage errors
		// under the root command too.
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: err}
	}
	return err
}
