package cmdutil

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exposition"
)

// completionTimeout bounds what a completion asks of an engine or a
// target: a shell waits for it at every Tab.
const completionTimeout = 2 * time.Second

// completions are the candidates that start with toComplete and are not
// in args already, without file names. A candidate is what an engine or
// a target said: one with a control character or a space is left out,
// so that none can break the completion's lines or reach the terminal.
func completions(candidates, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, c := range candidates {
		safe := !strings.ContainsFunc(c, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) })
		if safe && strings.HasPrefix(c, toComplete) && !slices.Contains(args, c) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeContexts offers the docker contexts' names.
func completeContexts(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	ctxs, _ := containers.Contexts()
	var names []string
	for _, c := range ctxs {
		names = append(names, c.Name)
	}
	return completions(names, nil, toComplete)
}

// completeHosts offers the engines the docker contexts point at.
func completeHosts(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	ctxs, _ := containers.Contexts()
	var hosts []string
	for _, c := range ctxs {
		hosts = append(hosts, c.Host)
	}
	return completions(hosts, nil, toComplete)
}

// containerNames are the names of the containers of the engines the
// flags name (all: stopped ones too), or nothing if none answers in time.
func (e *EngineFlags) containerNames(f *Factory, all bool) []string {
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	engines, _ := e.Connect(ctx, f, 4)
	var names []string
	for _, eng := range engines {
		cs, _ := eng.Select(ctx, containers.Filter{}, all)
		for _, c := range cs {
			names = append(names, c.Name)
		}
		eng.Close()
	}
	slices.Sort(names)
	return names
}

// CompleteContainers offers the names of the containers of the engines
// the command's flags name, for a verb's arguments; stopped ones too when
// all says so.
func (e *EngineFlags) CompleteContainers(f *Factory, all *bool) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return completions(e.containerNames(f, all != nil && *all), args, toComplete)
	}
}

// completeFilter offers --filter's keys and states, and after name= the
// containers' names.
func (e *EngineFlags) completeFilter(f *Factory, c *ContainerFlags) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if strings.HasPrefix(toComplete, "name=") {
			var out []string
			for _, n := range e.containerNames(f, true) {
				out = append(out, "name="+n)
			}
			return completions(out, c.Filters, toComplete)
		}
		keys := []string{"name=", "label=", "status=running", "status=exited", "status=paused", "status=created", "status=restarting", "status=dead"}
		out, _ := completions(keys, nil, toComplete)
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// CompleteMetrics offers the family names the targets of the arguments
// expose, for --match: each target is scraped once, within the
// completion's time.
func (s *ScrapeFlags) CompleteMetrics(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var targets []exposition.Target
	for _, a := range args {
		if t, err := exposition.ParseTargetArg(a); err == nil && t.URL != "-" {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	scraper, err := s.Scraper(nil)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	scraper.Timeout = min(scraper.Timeout, completionTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	var names []string
	for _, r := range scraper.ScrapeAll(ctx, targets, len(targets)) {
		for _, f := range r.Families {
			names = append(names, f.Name)
		}
	}
	slices.Sort(names)
	return completions(names, nil, toComplete)
}
