// Package output renders what the verbs gather: tables for people, and
// json, jsonl, csv, yaml, Go templates, Prometheus/OpenMetrics text and
// protobuf, and InfluxDB line protocol for programs. Printer (view.go) is
// the one place that picks a format. It never talks to a data source.
package output

import (
	"io"
	"os"

	"golang.org/x/term"
)

// Format is an -o value.
type Format string

// The -o values; view.go's formats says which shape of a verb's data each
// one prints.
const (
	Table       Format = "table"
	Wide        Format = "wide"
	JSON        Format = "json"
	JSONL       Format = "jsonl"
	CSV         Format = "csv"
	YAML        Format = "yaml"
	Prom        Format = "prom"
	OpenMetrics Format = "openmetrics"
	Influx      Format = "influx"
	Protobuf    Format = "protobuf" // delimited io.prometheus.client.MetricFamily
	Markdown    Format = "markdown" // a GitHub-flavoured table
)

// Terminal describes where output goes.
type Terminal struct {
	// IsTTY is true when the writer is an interactive terminal: then, and
	// only then, output may use colour and redraws.
	IsTTY bool
	Color bool
	Width int
}

// Detect inspects w. Colour is on for a terminal, off when NO_COLOR is
// set to anything but the empty string (https://no-color.org) or
// TERM=dumb; FORCE_COLOR or CLICOLOR_FORCE (set, and not 0) turn it on
// where it would be off, for a pager such as less -R. Redraws are only
// ever for a terminal.
func Detect(w io.Writer) Terminal {
	noColor := os.Getenv("NO_COLOR") != ""
	force := forced("FORCE_COLOR") || forced("CLICOLOR_FORCE")
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return Terminal{Color: force && !noColor}
	}
	t := Terminal{IsTTY: true, Width: 80}
	if wd, _, err := term.GetSize(int(f.Fd())); err == nil && wd > 0 {
		t.Width = wd
	}
	t.Color = !noColor && (force || os.Getenv("TERM") != "dumb")
	return t
}

// forced reads a variable that forces colour: set, and not 0.
func forced(name string) bool {
	v := os.Getenv(name)
	return v != "" && v != "0"
}

// Style wraps text in an SGR sequence when colour is on.
func (t Terminal) Style(code, s string) string {
	if !t.Color || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Bold is the SGR code of table headers.
const Bold = "1"
