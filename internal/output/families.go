package output

import (
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protodelim"

	"github.com/monctl/monctl/pkg/exposition"
)

// Source is one set of families and where they came from.
type Source struct {
	Target   string
	Time     time.Time
	Families []exposition.Family
}

// TargetLabel is added to every series when several sources are merged,
// by the rule monctl serve follows (exposition.WithTargetLabel).
const TargetLabel = "target"

// merge puts the families of every source together by the name and type
// they are written under. With several sources each series gets a target
// label. A family whose type differs from the first one of its name, and
// a series already written, are left out and named in the warnings.
func merge(sources []Source) ([]mergedFamily, []string) {
	addTarget := len(sources) > 1
	var (
		out      []mergedFamily
		byName   = map[string]int{}
		series   = map[string]bool{}
		warnings warnings
	)
	for _, src := range sources {
		for i := range src.Families {
			f := &src.Families[i]
			name, typ := f.ExposedAs()
			j, ok := byName[name]
			if !ok {
				j = len(out)
				byName[name] = j
				out = append(out, mergedFamily{Family: exposition.Family{Name: f.Name, Type: f.Type, Help: f.Help, Unit: f.Unit}})
			} else if _, prev := out[j].ExposedAs(); prev != typ {
				warnings.add(fmt.Sprintf("%s: family %s is a %s here but a %s elsewhere; left out",
					src.Target, f.Name, strings.ToLower(typ.String()), strings.ToLower(prev.String())))
				continue
			}
			for _, m := range f.Metrics {
				if addTarget {
					m.Labels = exposition.WithTargetLabel(m.Labels, TargetLabel, src.Target)
				}
				key := name + m.Labels.String()
				if series[key] {
					warnings.add(fmt.Sprintf("%s: series %s%s is there twice; the first is kept", src.Target, name, m.Labels))
					continue
				}
				series[key] = true
				out[j].Metrics = append(out[j].Metrics, m)
				out[j].times = append(out[j].times, src.Time)
			}
		}
	}
	return out, warnings.list
}

// mergedFamily is a family of several sources, with the scrape time of
// each metric's source (line protocol gives every line a time).
type mergedFamily struct {
	exposition.Family
	times []time.Time
}

// warnings collects what a writer left out, ten at most and a count.
type warnings struct {
	list []string
	n    int
}

func (w *warnings) add(s string) {
	w.n++
	switch {
	case w.n <= 10:
		w.list = append(w.list, s)
	case w.n == 11:
		w.list = append(w.list, "more left out")
	}
}

// WriteExposition writes sources as Prometheus text (Prom), OpenMetrics
// 1.0 or delimited protobuf, merging families of the same name (see
// merge). It writes exactly what the model holds: no _sum or _count the
// input did not have, exemplar times at full precision. What a format
// cannot hold (native histogram buckets in the text formats, series that
// OpenMetrics forbids) is left out and said in the warnings.
func WriteExposition(w io.Writer, sources []Source, format Format) ([]string, error) {
	fams, warns := merge(sources)
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
	warns = append(warns, tw.warnings.list...)
	_, err := w.Write(tw.buf)
	return warns, err
}
