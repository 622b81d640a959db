package targets

import (
	"math"
	"strconv"
	"time"

	"github.com/monctl/monctl/internal/cli/watch/live"
	"github.com/monctl/monctl/internal/output"
)

// newTable is the targets' table; the series columns show only with
// --match.
func newTable(match bool) *live.Table[Row] {
	type col = live.Column[Row]
	target := func(cell func(r *Row, human bool) string) func(*Row, bool) string {
		return func(r *Row, human bool) string {
			if r.Series != nil {
				return ""
			}
			return cell(r, human)
		}
	}
	series := func(cell func(s *SeriesRow, human bool) string) func(*Row, bool) string {
		return func(r *Row, human bool) string {
			if r.Series == nil {
				return ""
			}
			return cell(r.Series, human)
		}
	}
	type part = live.Part[Row]
	// csv has a column per value, named as the JSON record names it; a
	// series row carries its target, name and labels apart.
	targetPart := func(name string, cell func(r *Row) string) part {
		return part{Name: name, Cell: func(r *Row) string {
			if r.Series != nil {
				return ""
			}
			return cell(r)
		}}
	}
	seriesPart := func(name string, cell func(s *SeriesRow) string) part {
		return part{Name: name, Cell: func(r *Row) string {
			if r.Series == nil {
				return ""
			}
			return cell(r.Series)
		}}
	}
	cols := []col{
		{Name: "TARGET", Cell: func(r *Row, _ bool) string {
			if r.Series != nil {
				if len(r.Series.Labels) == 0 {
					return "  " + r.Series.Name
				}
				return "  " + r.Series.Name + r.Series.Labels.String()
			}
			return r.Target
		}, Parts: []part{{Name: "target", Cell: func(r *Row) string { return r.Target }}}},
		{Name: "URL", Wide: true, Cell: target(func(r *Row, _ bool) string { return r.URL })},
		{Name: "FORMAT", Wide: true, Cell: target(func(r *Row, _ bool) string { return r.Format })},
		{Name: "UP", Cell: target(func(r *Row, _ bool) string {
			if r.Up {
				return "up"
			}
			return "DOWN"
		}), Parts: []part{targetPart("up", func(r *Row) string { return strconv.FormatBool(r.Up) })}},
		{Name: "SCRAPE DURATION", Cell: target(func(r *Row, _ bool) string { return output.Seconds(r.Duration.Seconds()) }),
			Parts: []part{targetPart("scrape_duration_seconds", func(r *Row) string { return output.Float(r.Duration.Seconds()) })}},
		{Name: "BYTES", Cell: target(func(r *Row, h bool) string {
			if h {
				return output.Bytes(float64(r.Bytes))
			}
			return strconv.FormatInt(r.Bytes, 10)
		})},
		{Name: "SERIES", Cell: target(func(r *Row, _ bool) string { return strconv.Itoa(r.SeriesCount) })},
		{Name: "CHANGE", Cell: target(func(r *Row, _ bool) string {
			if r.Change > 0 {
				return "+" + strconv.Itoa(r.Change)
			}
			return strconv.Itoa(r.Change)
		}), Parts: []part{targetPart("series_change", func(r *Row) string { return strconv.Itoa(r.Change) })}},
	}
	if match {
		cols = append(cols,
			col{Name: "VALUE", Cell: series(func(s *SeriesRow, h bool) string {
				if s.Type.HasQuantiles() { // the count of observations
					return number("", s.Value, h)
				}
				return number(s.Name, s.Value, h)
			}), Parts: []part{
				seriesPart("name", func(s *SeriesRow) string { return s.Name }),
				seriesPart("labels", func(s *SeriesRow) string { return s.Labels.Text() }),
				seriesPart("type", func(s *SeriesRow) string { return string(s.Type) }),
				seriesPart("value", func(s *SeriesRow) string { return output.Float(s.Value) }),
			}},
			col{Name: "RATE", Cell: series(func(s *SeriesRow, _ bool) string {
				if !s.HasRate {
					return ""
				}
				if s.Type.HasQuantiles() {
					return number("", s.Rate, true) + "/s"
				}
				return number(s.Name, s.Rate, true) + "/s"
			}), Parts: []part{seriesPart("rate", func(s *SeriesRow) string {
				if !s.HasRate {
					return ""
				}
				return output.Float(s.Rate)
			})}},
			// A sparkline is for eyes: csv has the values of each interval.
			col{Name: "TREND", Cell: series(func(s *SeriesRow, _ bool) string { return live.Sparkline(s.Trend, 0) }), Parts: []part{}},
			col{Name: "P50", Cell: series(func(s *SeriesRow, h bool) string { return quantile(s, 0, h) })},
			col{Name: "P90", Cell: series(func(s *SeriesRow, h bool) string { return quantile(s, 1, h) })},
			col{Name: "P99", Cell: series(func(s *SeriesRow, h bool) string { return quantile(s, 2, h) })},
		)
	}
	// LAST ERROR last: it is the longest, and the first to be cut.
	cols = append(cols, col{Name: "LAST ERROR", Cell: target(func(r *Row, _ bool) string { return r.Error }),
		Parts: []part{targetPart("error", func(r *Row) string { return r.Error })}})
	type key = live.SortKey[Row]
	return &live.Table[Row]{
		Columns:  cols,
		Children: func(r *Row) []Row { return r.matched },
		SortKeys: []key{
			{Name: "name", Key: 'n'},
			// Targets that are down come first.
			{Name: "up", Key: 'u', Value: func(r *Row) float64 {
				if r.Up {
					return 0
				}
				return 1
			}},
			{Name: "duration", Key: 'd', Value: func(r *Row) float64 { return r.Duration.Seconds() }},
			{Name: "bytes", Key: 'b', Value: func(r *Row) float64 { return float64(r.Bytes) }},
			{Name: "series", Key: 's', Value: func(r *Row) float64 { return float64(r.SeriesCount) }},
			{Name: "change", Key: 'c', Value: func(r *Row) float64 { return math.Abs(float64(r.Change)) }},
		},
		Name:      func(r *Row) string { return r.Target },
		DropOrder: []string{"URL", "FORMAT", "TREND", "P99", "P90", "BYTES", "CHANGE", "SCRAPE DURATION", "LAST ERROR"},
	}
}

// number is a value of the metric name: in its unit for people (bytes,
// seconds, by the naming conventions), exact for csv.
func number(name string, v float64, human bool) string {
	if human {
		return output.Human(name, "", v)
	}
	return output.Float(v)
}

func quantile(s *SeriesRow, i int, human bool) string {
	if s.Quantiles == nil || math.IsNaN(s.Quantiles[i]) {
		return ""
	}
	if human {
		return output.Human(s.Name, "", s.Quantiles[i])
	}
	return output.Float(s.Quantiles[i])
}

// Record is one target in one interval, as json, jsonl, yaml and --format
// templates see it. Field names are stable.
type Record struct {
	Time                  time.Time      `json:"time"`
	Target                string         `json:"target"`
	URL                   string         `json:"url"`
	Up                    bool           `json:"up"`
	Error                 *string        `json:"error"`
	ScrapeDurationSeconds float64        `json:"scrape_duration_seconds"`
	Bytes                 int64          `json:"bytes"`
	Series                int            `json:"series"`
	SeriesChange          int            `json:"series_change"`
	Matched               []SeriesRecord `json:"matched,omitempty"`
}

// SeriesRecord is one series matched by --match: rate and quantiles only
// when known.
type SeriesRecord struct {
	Name      string                      `json:"name"`
	Labels    output.LabelMap             `json:"labels"`
	Type      string                      `json:"type"`
	Value     output.JSONFloat            `json:"value"`
	Rate      *output.JSONFloat           `json:"rate,omitempty"`
	Quantiles map[string]output.JSONFloat `json:"quantiles,omitempty"`
}

func record(at time.Time, r *Row) Record {
	rec := Record{Time: at.UTC(), Target: r.Target, URL: r.URL, Up: r.Up, ScrapeDurationSeconds: r.Duration.Seconds(),
		Bytes: r.Bytes, Series: r.SeriesCount, SeriesChange: r.Change}
	if !r.Up {
		rec.Error = &r.Error
	}
	for _, m := range r.matched {
		s := m.Series
		sr := SeriesRecord{Name: s.Name, Labels: output.LabelMap{}, Type: string(s.Type), Value: output.JSONFloat(s.Value)}
		for _, l := range s.Labels {
			sr.Labels[l.Name] = l.Value
		}
		if s.HasRate {
			rate := output.JSONFloat(s.Rate)
			sr.Rate = &rate
		}
		for i, q := range s.Quantiles {
			if !math.IsNaN(q) {
				if sr.Quantiles == nil {
					sr.Quantiles = map[string]output.JSONFloat{}
				}
				sr.Quantiles[strconv.FormatFloat(shownQuantiles[i], 'f', -1, 64)] = output.JSONFloat(q)
			}
		}
		rec.Matched = append(rec.Matched, sr)
	}
	return rec
}
