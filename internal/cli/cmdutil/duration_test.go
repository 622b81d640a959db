package cmdutil

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestDurationTakesSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"5": 5 * time.Second, "0.5": 500 * time.Millisecond, "0": 0,
		"5s": 5 * time.Second, "250ms": 250 * time.Millisecond, "1m30s": 90 * time.Second,
	} {
		var d time.Duration
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		DurationVar(fs, &d, "interval", time.Second, "")
		if err := fs.Parse([]string{"--interval", in}); err != nil || d != want {
			t.Errorf("--interval %s: %v, %v; want %v", in, d, err, want)
		}
	}
	for _, in := range []string{"5x", "NaN", "1e300", "Inf", ""} {
		var d time.Duration
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		DurationVar(fs, &d, "interval", time.Second, "")
		if err := fs.Parse([]string{"--interval", in}); err == nil || !strings.Contains(err.Error(), "interval") {
			t.Errorf("--interval %q: %v, %v; want an error", in, d, err)
		}
	}
}
