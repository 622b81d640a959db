package output

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"

	"github.com/monctl/monctl/pkg/exposition"
)

// Float writes a number exactly (shortest representation that round-trips),
// the way the Prometheus text format does.
func Float(v float64) string { return exposition.FormatFloat(v) }

// Short writes a number with at most 4 significant digits for people.
func Short(v float64) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return Float(v)
	}
	a := math.Abs(v)
	if a != 0 && (a >= 1e15 || a < 1e-3) {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	if a >= 1e4 {
		for _, u := range []struct {
			d float64
			s string
		}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
			if a >= u.d {
				return trimZeros(strconv.FormatFloat(v/u.d, 'f', 2, 64)) + u.s
			}
		}
	}
	return trimZeros(strconv.FormatFloat(v, 'f', 3, 64))
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// Bytes writes a byte count with binary units as docker stats writes
// memory: four significant digits, 1294336 is 1.234MiB.
func Bytes(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Float(v)
	}
	return units.BytesSize(v)
}

// Seconds writes a duration given in seconds for people.
func Seconds(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Float(v)
	}
	if math.Abs(v) < 1 {
		switch a := math.Abs(v); {
		case a == 0:
			return "0s"
		case a < 1e-6:
			return trimZeros(strconv.FormatFloat(v*1e9, 'f', 1, 64)) + "ns"
		case a < 1e-3:
			return trimZeros(strconv.FormatFloat(v*1e6, 'f', 1, 64)) + "µs"
		default:
			return trimZeros(strconv.FormatFloat(v*1e3, 'f', 1, 64)) + "ms"
		}
	}
	d := time.Duration(v * float64(time.Second))
	if d < time.Minute {
		return trimZeros(strconv.FormatFloat(v, 'f', 2, 64)) + "s"
	}
	return d.Round(time.Second).String()
}

// Human picks a unit from a metric's name or unit: Unix times become dates,
// bytes and seconds get their units, everything else a short number.
func Human(name, unit string, v float64) string {
	switch {
	case strings.HasSuffix(name, "_time_seconds") || strings.HasSuffix(name, "_timestamp_seconds"):
		// Unix times by the naming conventions (boot_time, start_time...).
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return Float(v)
		}
		return time.Unix(0, int64(v*1e9)).UTC().Format(time.RFC3339)
	case unit == "bytes" || strings.HasSuffix(name, "_bytes") || strings.HasSuffix(name, "_bytes_total"):
		return Bytes(v)
	case unit == "seconds" || strings.HasSuffix(name, "_seconds") || strings.HasSuffix(name, "_seconds_total"):
		return Seconds(v)
	}
	return Short(v)
}

// DecimalBytes writes a byte count with decimal units as docker stats
// writes network and block I/O: three significant digits, 1.5MB.
func DecimalBytes(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Float(v)
	}
	return units.HumanSizeWithPrecision(v, 3)
}

// Uptime writes how long something has been up as docker ps does:
// "Up 6 minutes", "Up About an hour".
func Uptime(seconds float64) string {
	if math.IsNaN(seconds) || math.IsInf(seconds, 0) || seconds < 0 {
		return Float(seconds)
	}
	return "Up " + units.HumanDuration(time.Duration(seconds*float64(time.Second)))
}

// Count is n with its noun, singular for one: "1 target", "2 targets".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// LabelMap is a series' labels in a record: an object in JSON, and in a
// --format template what a table shows, a="1", b="2" in name order.
type LabelMap map[string]string

func (m LabelMap) String() string {
	ls := make(exposition.Labels, 0, len(m))
	for k, v := range m {
		ls = append(ls, exposition.Label{Name: k, Value: v})
	}
	slices.SortFunc(ls, func(a, b exposition.Label) int { return strings.Compare(a.Name, b.Name) })
	s := ls.String()
	return s[1 : len(s)-1]
}
