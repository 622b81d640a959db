package output

import (
	"io"

	"github.com/monctl/monctl/pkg/exposition"
)

// WriteInflux merges sources (see exposition.Merge) and writes them as
// InfluxDB line protocol, in the layout of Telegraf's prometheus input
// (exposition.EncodeInflux), which the push verb's InfluxDB sink shares.
func WriteInflux(w io.Writer, sources []Source) ([]string, error) {
	fams, warns := exposition.Merge(sources)
	more, err := exposition.EncodeInflux(w, fams)
	return append(warns, more...), err
}
