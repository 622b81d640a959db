package output

import (
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protodelim"

	"github.com/monctl/monctl/pkg/exposition"
)

// Source is one set of families and where they came from.
type Source = exposition.Source

// WriteExposition writes sources as Prometheus text (Prom), OpenMetrics
// 1.0 or delimited protobuf, merging families of the same name (see
// merge). It writes exactly what the model holds: no _sum or _count the
// input did not have, exemplar times at full precision. What a format
// cannot hold (native histogram buckets in the text formats, series that
// OpenMetrics forbids) is left out and said in the warnings.
func WriteExposition(w io.Writer, sources []Source, format Format) ([]string, error) {
	fams, warns := exposition.Merge(sources)
	if format == Protobuf {
		for i := range fams {
			if _, err := protodelim.MarshalTo(w, fams[i].Family.DTO()); err != nil {
				return warns, fmt.Errorf("writing family %s: %w", fams[i].Name, err)
			}
		}
		return warns, nil
	}
	tw := &textWriter{om: format == OpenMetrics}
	for i := range fams {
		tw.family(&fams[i].Family)
		if len(tw.buf) > 64<<10 {
			if _, err := w.Write(tw.buf); err != nil {
				return warns, err
			}
			tw.buf = tw.buf[:0]
		}
	}
	if tw.om {
		tw.buf = append(tw.buf, "# EOF\n"...)
	}
	if tw.natives > 0 {
		warns = append(warns, fmt.Sprintf("%d native histograms written without their buckets, which %s cannot hold (-o protobuf or -o json carry them)", tw.natives, format))
	}
	warns = append(warns, tw.warnings.List...)
	_, err := w.Write(tw.buf)
	return warns, err
}
