package cmdutil

import (
	"os"
	"path/filepath"
)

// StateDir is $XDG_STATE_HOME/monctl/sub (~/.local/state when unset):
// where what a cron job leaves for its next run lives; "" when there is
// no home.
func StateDir(sub string) string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "monctl", sub)
}
