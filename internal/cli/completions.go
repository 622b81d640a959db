package cli

import (
	"bytes"

	"github.com/monctl/monctl/internal/cli/cmdutil"
)

// Completions generates the shell completion scripts committed under
// completions/, keyed by file name.
func Completions(io cmdutil.IOStreams) map[string][]byte {
	root := NewRootCmd(io)
	out := map[string][]byte{}
	var b bytes.Buffer
	_ = root.GenBashCompletionV2(&b, true)
	out["monctl.bash"] = append([]byte(nil), b.Bytes()...)
	b.Reset()
	_ = root.GenZshCompletion(&b)
	out["_monctl"] = append([]byte(nil), b.Bytes()...)
	b.Reset()
	_ = root.GenFishCompletion(&b, true)
	out["monctl.fish"] = append([]byte(nil), b.Bytes()...)
	b.Reset()
	_ = root.GenPowerShellCompletionWithDesc(&b)
	out["monctl.ps1"] = append([]byte(nil), b.Bytes()...)
	return out
}
