// Command genexposition writes the benchmark exposition to standard output.
package main

import (
	"fmt"
	"os"

	"github.com/monctl/monctl/internal/benchdata"
)

func main() {
	if err := benchdata.Write(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
