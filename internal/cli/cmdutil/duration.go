package cmdutil

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// DurationVar defines a duration flag that also takes a bare number as
// seconds, as podman, glances and k9s take --interval 5; "500ms" and
// "1m30s" keep working.
func DurationVar(fs *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*seconds)(p), name, usage)
}

type seconds time.Duration

func (s *seconds) String() string { return time.Duration(*s).String() }
func (s *seconds) Type() string   { return "duration" }

func (s *seconds) Set(v string) error {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || math.Abs(f) > float64(math.MaxInt64/int64(time.Second)) {
			return fmt.Errorf("%q seconds is out of range", v)
		}
		*s = seconds(time.Duration(f * float64(time.Second)))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q: want a duration such as 5s, 500ms, 1m, or a number of seconds", v)
	}
	*s = seconds(d)
	return nil
}
