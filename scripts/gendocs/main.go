// Command gendocs writes monctl's shell completions and man pages from the
// command tree, so that they can never drift from the flags.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra/doc"

	"github.com/monctl/monctl/internal/cli"
	"github.com/monctl/monctl/internal/cli/cmdutil"
)

func main() {
	completions := flag.String("completions", "", "directory to write bash, zsh, fish and powershell completions to")
	man := flag.String("man", "", "directory to write man pages to")
	flag.Parse()
	if err := run(*completions, *man); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(completions, man string) error {
	if completions != "" {
		if err := os.MkdirAll(completions, 0o755); err != nil {
			return err
		}
		for name, data := range cli.Completions(cmdutil.System()) {
			if err := os.WriteFile(filepath.Join(completions, name), data, 0o644); err != nil {
				return err
			}
		}
	}
	if man != "" {
		if err := os.MkdirAll(man, 0o755); err != nil {
			return err
		}
		root := cli.NewRootCmd(cmdutil.System())
		root.DisableAutoGenTag = true
		header := &doc.GenManHeader{Title: "MONCTL", Section: "1", Source: "monctl", Manual: "monctl manual"}
		if err := doc.GenManTree(root, header, man); err != nil {
			return err
		}
	}
	return nil
}
