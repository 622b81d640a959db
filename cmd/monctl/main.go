// Command monctl monitors containers and Prometheus exporters from the command line.
package main

import (
	"os"

	"github.com/monctl/monctl/internal/cli"
	"github.com/monctl/monctl/internal/cli/cmdutil"
)

func main() { os.Exit(cli.Main(os.Args[1:], cmdutil.System())) }
