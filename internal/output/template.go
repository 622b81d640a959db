package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"text/template"
)

// Template renders records with a Go template the way docker's --format
// does: "table ..." adds a header row and aligns the tab-separated cells,
// anything else is executed per record. (--format json is -o jsonl: the
// flags resolve it before a template is made.)
type Template struct {
	table  bool
	tmpl   *template.Template
	header []string
}

// TemplateFuncs are available inside --format templates.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"split": strings.Split,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string { return strings.ToUpper(s[:min(1, len(s))]) + s[min(1, len(s)):] },
	// pad and truncate are docker's: pad adds prefix spaces before and
	// suffix after a string that is not empty; truncate keeps the first
	// n characters (not bytes: a name is not cut inside a character).
	"pad": func(s string, prefix, suffix int) string {
		if s == "" {
			return s
		}
		return strings.Repeat(" ", max(0, prefix)) + s + strings.Repeat(" ", max(0, suffix))
	},
	"truncate": func(s string, n int) string {
		if r := []rune(s); len(r) > n {
			return string(r[:max(0, n)])
		}
		return s
	},
	"bytes":   Bytes,
	"seconds": Seconds,
	"short":   Short,
	"float":   Float,
}

var fieldRef = regexp.MustCompile(`\{\{[^}]*?\.([A-Za-z_][A-Za-z0-9_]*)`)

// ParseTemplate parses a --format value.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{}
	switch {
	case strings.HasPrefix(s, "table"):
		t.table = true
		s = strings.TrimPrefix(strings.TrimPrefix(s, "table"), " ")
		if s == "" {
			return nil, fmt.Errorf("--format table needs a template after it, as in 'table {{.Name}}\\t{{.Value}}'")
		}
		// The header names each cell after the first field it refers to.
		for _, cell := range strings.Split(unescapeTabs(s), "\t") {
			h := ""
			if m := fieldRef.FindStringSubmatch(cell); m != nil {
				h = headerName(m[1])
			}
			t.header = append(t.header, h)
		}
	}
	tmpl, err := template.New("format").Funcs(templateFuncs).Option("missingkey=zero").Parse(unescapeTabs(s))
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	t.tmpl = tmpl
	return t, nil
}

// unescapeTabs lets users type \t and \n in a shell-quoted template.
func unescapeTabs(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(s)
}

// headerName turns CPUPerc into CPU PERC and Name into NAME.
func headerName(field string) string {
	var b strings.Builder
	isUpper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	isLower := func(c byte) bool { return c >= 'a' && c <= 'z' }
	for i := 0; i < len(field); i++ {
		c := field[i]
		// A word starts at an upper-case letter after a lower-case one, or
		// at the last capital of an acronym (CPU|Perc).
		if i > 0 && isUpper(c) && (isLower(field[i-1]) || i+1 < len(field) && isUpper(field[i-1]) && isLower(field[i+1])) {
			b.WriteByte(' ')
		}
		b.WriteByte(c)
	}
	return strings.ToUpper(b.String())
}

// Check runs the template once on example, a record of the kind it will
// get, so that a template naming a field records lack fails before any
// work is done.
func (t *Template) Check(example any) error {
	if err := t.tmpl.Execute(io.Discard, example); err != nil {
		return fmt.Errorf("--format: %w (a record's fields: %s)", err, strings.Join(TemplateFields(example), " "))
	}
	return nil
}

// TemplateFields are the names a --format template can use on a record
// like example: its exported fields, those of the structs it embeds, and
// its methods that take nothing, each as .Name, sorted.
func TemplateFields(example any) []string {
	seen := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumMethod() {
			if m := t.Method(i); m.Type.NumIn() == 1 && m.Type.NumOut() >= 1 {
				seen["."+m.Name] = true
			}
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			switch {
			case f.Anonymous:
				walk(f.Type)
			case f.IsExported():
				seen["."+f.Name] = true
			}
		}
	}
	walk(reflect.TypeOf(example))
	return slices.Sorted(maps.Keys(seen))
}

// Execute writes every record.
func (t *Template) Execute(w io.Writer, records []any) error {
	out := w
	var tw *tabwriter.Writer
	if t.table {
		tw = tabwriter.NewWriter(w, 0, 1, 3, ' ', 0)
		out = tw
		fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	}
	var buf bytes.Buffer
	for _, r := range records {
		buf.Reset()
		if err := t.tmpl.Execute(&buf, EscapeStrings(r)); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		buf.WriteByte('\n')
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}
