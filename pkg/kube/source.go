package kube

import (
	"context"
	"errors"

	"github.com/monctl/monctl/pkg/exposition"
)

// Source is the kube-state-metrics series of what watchers keep, for an
// exporter: every collection reads the informers' caches, which cost the
// API server nothing.
type Source struct {
	Cluster  *Cluster
	Watchers []*Watcher
}

// Name is the cluster's context and server.
func (s *Source) Name() string { return s.Cluster.Where() }

// Families are the series of every object now. A watch that is failing
// says so; the series of the last objects it had are still given.
func (s *Source) Families(context.Context) ([]exposition.Family, error) {
	sets := make([]Objects, 0, len(s.Watchers))
	var errs []error
	for _, w := range s.Watchers {
		sets = append(sets, Objects{Kind: w.Resource.Kind, Items: w.Objects()})
		// The changes are not served: taking them keeps the watcher
		// from holding every object ever deleted.
		if _, err := w.Changes(); err != nil {
			errs = append(errs, err)
		}
	}
	return Families(sets...), errors.Join(errs...)
}
