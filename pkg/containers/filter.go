package containers

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// containerStates are the states the engine reports, for status filters
// and the state metric.
func containerStates() []string {
	return []string{"created", "restarting", "running", "removing", "paused", "exited", "dead"}
}

// Filter selects containers the way docker ps --filter does: values of one
// key are alternatives (OR), different keys must all match (AND).
type Filter struct {
	// Refs are container names or ID prefixes given as arguments.
	Refs   []string
	Names  []*regexp.Regexp
	Labels []LabelMatch
	Status []string
}

// LabelMatch is label=KEY or label=KEY=VALUE.
type LabelMatch struct {
	Key, Value string
	HasValue   bool
}

// ParseFilter reads KEY=VALUE terms: name=REGEX, label=KEY[=VALUE],
// status=STATE.
func ParseFilter(terms []string) (Filter, error) {
	var f Filter
	for _, t := range terms {
		key, val, ok := strings.Cut(t, "=")
		if !ok || val == "" {
			return f, fmt.Errorf("filter %q: want name=REGEX, label=KEY[=VALUE] or status=STATE", t)
		}
		switch strings.ToLower(key) {
		case "name":
			re, err := regexp.Compile(val)
			if err != nil {
				return f, fmt.Errorf("filter %q: %w", t, err)
			}
			f.Names = append(f.Names, re)
		case "label":
			k, v, has := strings.Cut(val, "=")
			f.Labels = append(f.Labels, LabelMatch{Key: k, Value: v, HasValue: has})
		case "status":
			if !slices.Contains(containerStates(), val) {
				return f, fmt.Errorf("filter %q: status is one of %s", t, strings.Join(containerStates(), ", "))
			}
			f.Status = append(f.Status, val)
		default:
			return f, fmt.Errorf("filter %q: unknown key %q (want name, label or status)", t, key)
		}
	}
	return f, nil
}

// NeedsStopped tells whether the filter can match a container that is not
// running, so that the list must include stopped ones.
func (f Filter) NeedsStopped() bool {
	return len(f.Refs) > 0 || slices.ContainsFunc(f.Status, func(s string) bool { return s != "running" })
}

// Match tells whether c passes the filter. all admits stopped containers;
// so does naming a container, as with docker stats NAME.
func (f Filter) Match(c *Container, all bool) bool {
	if len(f.Refs) > 0 && !slices.ContainsFunc(f.Refs, c.IsRef) {
		return false
	}
	if len(f.Status) > 0 {
		if !slices.Contains(f.Status, c.State) {
			return false
		}
	} else if !all && len(f.Refs) == 0 && c.State != "running" && c.State != "paused" && c.State != "restarting" {
		return false
	}
	if len(f.Names) > 0 && !slices.ContainsFunc(f.Names, func(re *regexp.Regexp) bool { return re.MatchString(c.Name) }) {
		return false
	}
	for _, l := range f.Labels {
		v, ok := c.Labels[l.Key]
		if !ok || l.HasValue && v != l.Value {
			return false
		}
	}
	return true
}

// IsRef tells whether ref names c: its name, or a prefix of its ID.
func (c *Container) IsRef(ref string) bool {
	return ref == c.Name || strings.TrimPrefix(ref, "/") == c.Name || len(ref) >= 1 && strings.HasPrefix(c.ID, ref)
}
