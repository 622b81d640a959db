package exposition

import "strings"

// The bookkeeping both text parsers share: which sample names a family
// owns, and which family a sample name belongs to.

// owns reports whether a family of type t owns the sample name suffix in
// format f ("" is the family's own name). OpenMetrics is strict (a
// counter is only name_total and name_created); the text format knows
// histograms and summaries, and lets every family use its own name. It
// is asked for every sample, so it allocates nothing.
func owns(t Type, f Format, suffix string) bool {
	if f == FormatOpenMetrics {
		switch t {
		case Counter:
			return suffix == "_total" || suffix == "_created"
		case Histogram:
			return suffix == "_bucket" || suffix == "_count" || suffix == "_sum" || suffix == "_created"
		case GaugeHistogram:
			return suffix == "_bucket" || suffix == "_gcount" || suffix == "_gsum"
		case Summary:
			return suffix == "" || suffix == "_count" || suffix == "_sum" || suffix == "_created"
		case Info:
			return suffix == "_info"
		}
		return suffix == ""
	}
	switch suffix {
	case "":
		return true
	case "_count", "_sum":
		return t == Histogram || t == Summary
	case "_bucket":
		return t == Histogram
	}
	return false
}

// ownedSuffixes lists the suffixes a family of type t owns in format f.
func ownedSuffixes(t Type, f Format) []string {
	var out []string
	if owns(t, f, "") {
		out = append(out, "")
	}
	for _, s := range sampleSuffixes() {
		if owns(t, f, s) {
			out = append(out, s)
		}
	}
	return out
}

// sampleSuffixes are every suffix a sample name may carry after its
// family's name, in either format.
func sampleSuffixes() [8]string {
	return [8]string{"_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info"}
}

// familyOf finds the family sample name belongs to in format f: the
// current family cur first (the common case), then a family named name,
// then one named name less a suffix. typeOf says whether a family of a
// name is known, and its type.
func familyOf(name string, f Format, cur string, typeOf func(family string) (Type, bool)) (family, suffix string, ok bool) {
	try := func(fam string) (string, bool) {
		suf, ok := strings.CutPrefix(name, fam)
		if !ok {
			return "", false
		}
		t, known := typeOf(fam)
		return suf, known && owns(t, f, suf)
	}
	if cur != "" {
		if suf, ok := try(cur); ok {
			return cur, suf, true
		}
	}
	if suf, ok := try(name); ok {
		return name, suf, true
	}
	for _, s := range sampleSuffixes() {
		if base, cut := strings.CutSuffix(name, s); cut {
			if suf, ok := try(base); ok {
				return base, suf, true
			}
		}
	}
	return "", "", false
}
