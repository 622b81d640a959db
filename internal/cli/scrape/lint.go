package scrape

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
)

// lintRecord is one problem promlint found in a target's exposition.
type lintRecord struct {
	Target  string `json:"target"`
	Metric  string `json:"metric"`
	Problem string `json:"problem"`
}

// runLint checks every target's exposition with client_golang's
// promlint, the rules of 'promtool check metrics': the problems on
// stdout, exit 4 when there are any.
func (o *Options) runLint(ctx context.Context, p *output.Printer, s *exposition.Scraper, targets []exposition.Target, sel *exposition.Selector) error {
	results := s.ScrapeAll(ctx, targets, o.Concurrency)
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var recs []lintRecord
	failed := 0
	for i := range results {
		r := &results[i]
		if !o.report(r) {
			failed++
			continue
		}
		fams := sel.Filter(r.Families)
		mfs := make([]*dto.MetricFamily, len(fams))
		for j := range fams {
			mfs[j] = fams[j].DTO()
		}
		problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
		if err != nil {
			fmt.Fprintf(o.IO.ErrOut, "monctl: linting %s: %v\n", r.Target, err)
			failed++
			continue
		}
		for _, pr := range problems {
			recs = append(recs, lintRecord{Target: r.Target, Metric: pr.Metric, Problem: pr.Text})
		}
	}
	multi := len(targets) > 1
	err := p.Print(output.View{
		Rows: func(f output.Format) ([]string, [][]string) {
			header := []string{"METRIC", "PROBLEM"}
			if multi || f == output.CSV {
				header = []string{"TARGET", "METRIC", "PROBLEM"}
			}
			rows := make([][]string, len(recs))
			for i, r := range recs {
				rows[i] = []string{r.Metric, r.Problem}
				if len(header) == 3 {
					rows[i] = []string{r.Target, r.Metric, r.Problem}
				}
			}
			return header, rows
		},
		Records: func() []any { return anys(recs) },
	})
	if err != nil {
		return cmdutil.Failure(fmt.Errorf("writing output: %w", err))
	}
	if len(recs) > 0 && failed < len(results) {
		return cmdutil.CheckFailed
	}
	return outcome(failed, len(results))
}
