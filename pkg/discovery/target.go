package discovery

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/monctl/monctl/pkg/exposition"
)

// Candidate is one discovered target and what the job's rules made of
// it, as Prometheus's /api/v1/targets shows it: the labels found, and
// either the target's labels or why there is no target.
type Candidate struct {
	Job string
	// Source names where it was found: the mechanism and its group
	// (a file, a URL, a Docker engine).
	Source     string
	Discovered labels.Labels
	// Labels are the target's labels (no __ labels); empty when it was
	// dropped or is not valid.
	Labels labels.Labels
	// DroppedBy is the number (from 1) of the relabel rule that dropped
	// it, 0 when it was kept; Rule is that rule, DefaultRule says it is
	// one of the default rules (DockerRules, KubernetesPodRules).
	DroppedBy   int
	Rule        *relabel.Config
	DefaultRule bool
	// Err says why a kept candidate is not a target (no address...).
	Err error
	// Target is what is scraped, when Labels is not empty.
	Target exposition.Target
}

// Kept says whether the candidate became a target.
func (c *Candidate) Kept() bool { return c.DroppedBy == 0 && c.Err == nil }

// Scrape is what the verb scrapes with: the labels
// __scrape_interval__ and __scrape_timeout__ tell it to the rules.
type Scrape struct {
	Interval, Timeout time.Duration
}

// candidates turns a target group into candidates by Prometheus's rules
// (scrape.PopulateLabels): the target's labels over the group's, the
// job's defaults where unset, then the relabel rules one by one.
func (j *Job) candidates(source string, tg *targetgroup.Group, s Scrape, lb *labels.Builder) []Candidate {
	out := make([]Candidate, 0, len(tg.Targets))
	for _, tl := range tg.Targets {
		c := Candidate{Job: j.Name, Source: source}
		j.discovered(lb, s, tl, tg.Labels)
		c.Discovered = lb.Labels()
		for i, r := range j.RelabelConfigs {
			if !relabel.ProcessBuilder(lb, r) {
				c.DroppedBy, c.Rule, c.DefaultRule = i+1, r, j.DefaultRules
				break
			}
		}
		if c.DroppedBy == 0 {
			c.Labels, c.Target, c.Err = j.target(lb)
		}
		out = append(out, c)
	}
	return out
}

// discovered sets lb to the labels a target starts with.
func (j *Job) discovered(lb *labels.Builder, s Scrape, tl, gl model.LabelSet) {
	lb.Reset(labels.EmptyLabels())
	for n, v := range tl {
		lb.Set(string(n), string(v))
	}
	for n, v := range gl {
		if _, ok := tl[n]; !ok {
			lb.Set(string(n), string(v))
		}
	}
	for _, l := range [...]labels.Label{
		{Name: model.JobLabel, Value: j.Name},
		{Name: model.ScrapeIntervalLabel, Value: model.Duration(s.Interval).String()},
		{Name: model.ScrapeTimeoutLabel, Value: model.Duration(s.Timeout).String()},
		{Name: model.MetricsPathLabel, Value: j.MetricsPath},
		{Name: model.SchemeLabel, Value: j.Scheme},
	} {
		if lb.Get(l.Name) == "" {
			lb.Set(l.Name, l.Value)
		}
	}
	for k, v := range j.Params {
		if name := model.ParamLabelPrefix + k; len(v) > 0 && lb.Get(name) == "" {
			lb.Set(name, v[0])
		}
	}
}

// target finishes a kept candidate as Prometheus does: it needs an
// address without a path; __meta_ labels go, instance defaults to the
// address; then the labels the series get, and the URL it is scraped at.
func (j *Job) target(lb *labels.Builder) (labels.Labels, exposition.Target, error) {
	addr := lb.Get(model.AddressLabel)
	switch {
	case addr == "":
		return labels.EmptyLabels(), exposition.Target{}, errors.New("no address: the rules left __address__ empty")
	case strings.Contains(addr, "/"):
		return labels.EmptyLabels(), exposition.Target{}, fmt.Errorf("%q is not a valid hostname", addr)
	}
	lb.Range(func(l labels.Label) {
		if strings.HasPrefix(l.Name, model.MetaLabelPrefix) {
			lb.Del(l.Name)
		}
	})
	if lb.Get(model.InstanceLabel) == "" {
		lb.Set(model.InstanceLabel, addr)
	}
	all := lb.Labels()
	if err := all.Validate(func(l labels.Label) error {
		if !model.LabelValue(l.Value).IsValid() {
			return fmt.Errorf("invalid label value for %q: %q", l.Name, l.Value)
		}
		return nil
	}); err != nil {
		return labels.EmptyLabels(), exposition.Target{}, err
	}
	scheme := all.Get(model.SchemeLabel)
	if scheme != "http" && scheme != "https" {
		return labels.EmptyLabels(), exposition.Target{}, fmt.Errorf("__scheme__ must be http or https, got %q", scheme)
	}
	params := url.Values{}
	var shown []labels.Label
	all.Range(func(l labels.Label) {
		if p, ok := strings.CutPrefix(l.Name, model.ParamLabelPrefix); ok {
			params.Set(p, l.Value)
		}
		if !strings.HasPrefix(l.Name, model.ReservedLabelPrefix) {
			shown = append(shown, l)
		}
	})
	u := url.URL{Scheme: scheme, Host: addr, Path: all.Get(model.MetricsPathLabel), RawQuery: params.Encode()}
	t := exposition.NewTarget(u.String())
	t.HTTP = j.HTTP
	t.Job = all.Get(model.JobLabel)
	t.Name = all.Get(model.InstanceLabel)
	t.InstanceLabel = t.Name
	for _, l := range shown {
		if l.Name != model.JobLabel && l.Name != model.InstanceLabel {
			t.Labels = append(t.Labels, exposition.Label{Name: l.Name, Value: l.Value})
		}
	}
	t.MetricRelabel = j.MetricRelabelConfigs
	return labels.New(shown...), t, nil
}
