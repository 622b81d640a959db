package cli

import "github.com/spf13/cobra"

// ExitCodesHelp is the text of 'monctl help exit-codes'; the README quotes it.
const ExitCodesHelp = `monctl's exit codes are stable; scripts and cron jobs may rely on them.

  0    ok: everything asked for was gathered and printed
  1    failure: nothing could be gathered (every target or engine failed,
       or the one that was asked for could not be reached)
  2    usage: bad flags, arguments, or configuration (file or environment)
  3    partial: some targets or containers failed; what could be gathered
       was printed, and each failure was reported (on stderr, and in the
       record's "error" field of json/jsonl/yaml output)
  4    a check failed: a --fail-if expression returned at least one
       series, a --rules alert fired, or logs --fail-if-match matched a
       line (what fired or matched was printed); this wins over 3. With --nagios the plugin's codes apply instead:
       0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
  130  interrupted by SIGINT (Ctrl-C)
  143  terminated by SIGTERM

monctl serve runs until it is stopped, so for it:

  0    stopped by SIGINT or SIGTERM after a graceful shutdown, or (with
       --once) one /metrics response was sent
  1    could not start (an engine cannot be reached, an address is in
       use) or stopped serving on an error; with --once, nobody scraped
       within --once-timeout
  2    bad flags or configuration, including the --web.config.file
  130/143  with --once: interrupted before anything was served

monctl push --every pushes until it is stopped, and then exits with
what its rounds did (not 130/143): 0 every round delivered everything,
1 no round gathered or delivered anything, 3 otherwise.
`

func exitCodesTopic() *cobra.Command {
	return &cobra.Command{
		Use:   "exit-codes",
		Short: "What monctl's exit codes mean",
		Long:  ExitCodesHelp,
		// A help topic: 'monctl help exit-codes' prints Long.
		Run: nil,
	}
}
