// Package cli is monctl's command line: the root command, configuration,
// exit codes and the signal-aware context. Each verb lives in a sub-package
// and only wires a source to a sink.
package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/monctl/monctl/internal/buildinfo"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/cli/events"
	"github.com/monctl/monctl/internal/cli/logs"
	"github.com/monctl/monctl/internal/cli/push"
	"github.com/monctl/monctl/internal/cli/scrape"
	"github.com/monctl/monctl/internal/cli/serve"
	"github.com/monctl/monctl/internal/cli/targets"
	"github.com/monctl/monctl/internal/cli/version"
	"github.com/monctl/monctl/internal/cli/watch"
	"github.com/monctl/monctl/internal/output"
)

// Main runs monctl with args (without the program name) and returns the
// exit code.
func Main(args []string, io cmdutil.IOStreams) int {
	// Messages and logs quote what targets and engines say: none of it
	// may act on the terminal.
	io.ErrOut = output.EscapingWriter(io.ErrOut)
	ctx, stop := signalContext(context.Background())
	defer stop()
	cmd := NewRootCmd(io)
	if len(args) > 0 && strings.HasPrefix(args[0], cobra.ShellCompRequestCmd) {
		completeValues(cmd) // only a shell's completion request needs it
	}
	cmd.SetArgs(args)
	ran, err := cmd.ExecuteContextC(ctx)
	var ee *cmdutil.ExitError
	graceful := errors.As(err, &ee) && ee.Graceful
	if cause := context.Cause(ctx); cause != nil && err != nil && !graceful {
		var se *cmdutil.SignalError
		if errors.As(cause, &se) {
			fmt.Fprintf(io.ErrOut, "monctl: %v\n", se)
			return se.Code()
		}
	}
	if err == nil {
		return cmdutil.ExitOK
	}
	if !errors.As(err, &ee) {
		// cobra's own errors: unknown commands and flags, bad arguments.
		ee = &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: err}
	}
	if ee.Err != nil { // nil: already reported
		fmt.Fprintf(io.ErrOut, "monctl: %v\n", ee.Err)
		if ee.Code == cmdutil.ExitUsage && !ee.InConfig {
			// The help of the command that was wrong, as docker and
			// kubectl point at it.
			fmt.Fprintf(io.ErrOut, "See '%s --help'.\n", ran.CommandPath())
		}
	}
	return ee.Code
}

// NewRootCmd builds the command tree.
func NewRootCmd(io cmdutil.IOStreams) *cobra.Command {
	f := cmdutil.NewFactory(io)
	var configFlag string
	root := &cobra.Command{
		Use:   "monctl",
		Short: "Monitor containers and Prometheus exporters from the command line",
		Long: `monctl watches many kinds of resources from one place: Docker containers
through the Engine API and Prometheus-style exporter endpoints through the
exposition formats. It prints tables for people and JSON (and friends) for
scripts and cron, with stable exit codes (see 'monctl help exit-codes').`,
		Version:       buildinfo.Get().Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			path, named := cmdutil.ConfigPath(configFlag)
			cfg, err := cmdutil.LoadConfig(path, named, knownKeys(cmd.Root()))
			if err != nil {
				return err
			}
			f.Config = cfg
			return cfg.ApplyToFlags(cmd, section(cmd))
		},
	}
	root.SetVersionTemplate("monctl {{.Version}}\n") // the first line of 'monctl version'
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	root.PersistentFlags().Var(f.IO.Color, "color", "colour: auto (on a terminal, unless NO_COLOR), always (into a pager; also FORCE_COLOR=1) or never")
	_ = root.RegisterFlagCompletionFunc("color", cobra.FixedCompletions([]string{"auto", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))
	root.PersistentFlags().StringVar(&configFlag, "config", "", "config file (default $MONCTL_CONFIG, else $XDG_CONFIG_HOME/monctl/config.yaml)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: err}
	})
	root.AddCommand(watch.NewCmd(f), scrape.NewCmd(f), serve.NewCmd(f), push.NewCmd(f), logs.NewCmd(f), events.NewCmd(f), targets.NewCmd(f), version.NewCmd(f))
	root.AddCommand(exitCodesTopic())
	return root
}

// completeValues makes the shell offer file names only where a file is
// meant: a flag named like one (--config, --rules, *-file, *.file) takes
// files, *-dir directories; any other flag that takes a value and has no
// completion of its own offers nothing rather than the directory's files.
func completeValues(cmd *cobra.Command) {
	fl := cmd.LocalNonPersistentFlags()
	if cmd == cmd.Root() {
		fl = cmd.PersistentFlags()
	}
	fl.VisitAll(func(f *pflag.Flag) {
		if _, ok := cmd.GetFlagCompletionFunc(f.Name); ok || f.NoOptDefVal != "" || f.Annotations[cobra.BashCompFilenameExt] != nil {
			return // completed already, or a boolean
		}
		switch {
		case f.Name == "config" || f.Name == "rules" || strings.HasSuffix(f.Name, "-file") || strings.HasSuffix(f.Name, ".file"):
			_ = cmd.MarkFlagFilename(f.Name)
		case strings.HasSuffix(f.Name, "-dir"):
			_ = cmd.MarkFlagDirname(f.Name)
		default:
			_ = cmd.RegisterFlagCompletionFunc(f.Name, cobra.NoFileCompletions)
		}
	})
	for _, sub := range cmd.Commands() {
		completeValues(sub)
	}
}

// section is the config section of a verb: "scrape", "watch.containers".
func section(cmd *cobra.Command) string {
	path := strings.Fields(cmd.CommandPath())
	if len(path) <= 1 {
		return ""
	}
	return strings.Join(path[1:], ".")
}

// knownKeys lists what a config file may set: every flag name at the top
// level, and per verb a section with that verb's flags; and which of the
// push section's keys list sinks.
func knownKeys(root *cobra.Command) cmdutil.ConfigKeys {
	known := map[string]map[string]bool{"": {}}
	sinks := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		sec := section(c)
		add := func(fl *pflag.Flag) {
			if fl.Name == "config" || fl.Name == "help" || fl.Name == "version" && c == c.Root() {
				return
			}
			known[""][fl.Name] = true
			if _, ok := fl.Annotations[cmdutil.SinkAnnotation]; ok && sec == "push" {
				sinks[fl.Name] = true
			}
			if sec != "" {
				if known[sec] == nil {
					known[sec] = map[string]bool{}
				}
				known[sec][fl.Name] = true
			}
		}
		c.LocalFlags().VisitAll(add)
		c.InheritedFlags().VisitAll(add)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return cmdutil.ConfigKeys{Flags: known, Sinks: sinks}
}
