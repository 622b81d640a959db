// Package events implements 'monctl events': the container events of
// one or more engines in one stream, as docker events shows them.
package events

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	timetypes "github.com/docker/docker/api/types/time"
	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	ctr "github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/kube"
)

// Options of 'monctl events'.
type Options struct {
	IO cmdutil.IOStreams
	cmdutil.EngineFlags
	Filters []string
	Since   string
	Until   string
	Out     cmdutil.OutputFlags
	// Kube adds the Kubernetes events of the cluster KubeOptions
	// names (alone, unless engines are named too).
	Kube        bool
	KubeOptions kube.Options
}

// NewCmd builds 'monctl events'.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Container events of one or more engines, in one stream",
		Long: `Print the container events of every engine given (-H, repeatable; contexts
as the docker CLI), as docker events does: start, die (with its exit
code), oom, kill (with its signal), restart, health_status changes,
destroy and the others, each as the engine sends it.

--filter takes docker events' keys: container=NAME|ID, event=ACTION,
image=IMAGE, label=KEY[=VALUE] (repeatable; the same key OR'ed, different
keys AND'ed, by the engine). --since and --until take a duration ago (10m)
or a time; without --until the stream goes on until interrupted, across
an engine that goes away and comes back (its events meanwhile are read
when it does).

--kube adds the Kubernetes events of the kubeconfig's cluster (of every
namespace, or --kube-namespace's), alone unless -H or --context names
engines too: the object as the name (namespace/kind/name), the reason as
the action, then the type and message; a repeated event again, with its
count. --filter applies to the engines' events.

A table line per event, or -o jsonl: {time, host, id, name, image, action,
exit_code, signal, health, type, message, attributes}.`,
		Example: `  monctl events
  monctl events --filter event=die --filter event=oom -o jsonl
  monctl events --since 1h --until 0s --filter label=com.docker.compose.project=shop
  monctl events --kube --kube-context prod -o jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	opts.AddEngineFlags(cmd)
	fl.StringArrayVarP(&opts.Filters, "filter", "f", nil, "container=NAME|ID, event=ACTION, image=IMAGE or label=KEY[=VALUE], as docker events (repeatable)")
	fl.StringVar(&opts.Since, "since", "", "events since a duration ago (10m) or a time")
	fl.StringVar(&opts.Until, "until", "", "events until a duration ago (0s: now) or a time, then end")
	fl.BoolVar(&opts.Kube, "kube", false, "the Kubernetes events of the kubeconfig's cluster too (alone unless -H or --context is given)")
	fl.StringVar(&opts.KubeOptions.Kubeconfig, "kubeconfig", "", "with --kube, the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)")
	fl.StringVar(&opts.KubeOptions.Context, "kube-context", "", "with --kube, the kubeconfig context (default: its current one)")
	fl.StringVar(&opts.KubeOptions.Namespace, "kube-namespace", "", "with --kube, only this namespace's events (default: all)")
	opts.Out.AddOutputFormats(cmd, output.Table, output.Table, output.JSONL)
	return cmd
}

func run(ctx context.Context, f *cmdutil.Factory, o *Options) error {
	p, err := o.Out.Printer(o.IO, true, ctr.Event{})
	if err != nil {
		return err
	}
	eo := ctr.EventOptions{Filters: o.Filters, Since: o.Since, Until: o.Until}
	if err := eo.Check(); err != nil {
		return cmdutil.UsageError("%v", err)
	}
	if eo.Until != "" {
		// Fixed now, so that a relative --until means the same moment
		// to every engine and to every retry.
		if eo.Until, err = timetypes.GetTimestamp(eo.Until, time.Now()); err != nil {
			return cmdutil.UsageError("--until: %v", err)
		}
	}
	var cluster *kube.Cluster
	if o.Kube {
		if cluster, err = cmdutil.KubeConnect(o.KubeOptions); err != nil {
			return err
		}
	}
	var engines []*ctr.Engine
	failed := 0
	if !o.Kube || o.Named() {
		var done func()
		engines, failed, done, err = o.ConnectSome(ctx, f, 1, o.IO.ErrOut)
		defer done()
		if err != nil && cluster == nil {
			return err
		}
	}
	sources := len(engines)
	if cluster != nil {
		sources++
	}
	w := &writer{p: p, out: o.IO.Out, multi: sources > 1}
	var wg sync.WaitGroup
	var mu sync.Mutex
	lost := 0
	read := func(ok bool) {
		if !ok {
			mu.Lock()
			lost++
			mu.Unlock()
		}
	}
	for _, e := range engines {
		wg.Go(func() { read(follow(ctx, e, eo, w, o.IO.ErrOut)) })
	}
	if cluster != nil {
		wg.Go(func() { read(followKube(ctx, cluster, o.KubeOptions.Namespace, eo, w, o.IO.ErrOut)) })
	}
	wg.Wait()
	switch {
	case w.err != nil:
		return cmdutil.Failure(fmt.Errorf("writing output: %w", w.err))
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case lost == sources && failed == 0:
		return cmdutil.Silent
	case lost > 0 || failed > 0:
		return cmdutil.Partial
	}
	return nil
}

// follow writes e's events until ctx ends or --until is reached; when
// the engine goes away it says so and reads on from the last event once
// the engine answers again. It says whether it read to the end.
func follow(ctx context.Context, e *ctr.Engine, o ctr.EventOptions, w *writer, errOut io.Writer) bool {
	var last time.Time
	var until time.Time
	if o.Until != "" {
		sec, nsec, _ := timetypes.ParseTimestamps(o.Until, 0)
		until = time.Unix(sec, nsec)
	}
	down := false
	for {
		err := e.Events(ctx, o, last, func(ev *ctr.Event) error {
			if down {
				fmt.Fprintf(errOut, "monctl: the Docker engine at %s is back\n", e.Host)
				down = false
			}
			last = ev.Time
			return w.event(ev)
		})
		switch {
		case err == nil, errors.Is(err, ctr.ErrEventsEnded):
			return true
		case w.failed():
			return false
		}
		if !down {
			fmt.Fprintf(errOut, "monctl: %v (retrying)\n", err)
			down = true
		}
		if !until.IsZero() && time.Now().After(until) {
			return false // its events of the window cannot all be read
		}
		select {
		case <-ctx.Done():
			return true
		case <-time.After(time.Second):
		}
		if last.IsZero() {
			last = time.Now() // when it went away: from then on
		}
	}
}

// writer prints events from every engine, one at a time.
type writer struct {
	mu    sync.Mutex
	p     *output.Printer
	out   io.Writer
	multi bool
	err   error
}

func (w *writer) failed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}

// event prints one event: a JSON line, or a line of the table with what
// came from the engine escaped.
func (w *writer) event(ev *ctr.Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.p.Format != output.Table {
		w.err = w.p.Print(output.View{Records: func() []any { return []any{*ev} }})
		return w.err
	}
	var b strings.Builder
	b.WriteString(ev.Time.UTC().Format(time.RFC3339Nano))
	if w.multi {
		b.WriteString("  " + output.Escape(ev.Host))
	}
	b.WriteString("  " + output.Escape(ev.Name) + " (" + output.Escape(ev.ID[:min(12, len(ev.ID))]) + ")  " + output.Escape(ev.Action))
	var details []string
	if ev.ExitCode != nil {
		details = append(details, "exit code "+strconv.Itoa(*ev.ExitCode))
	}
	if ev.Signal != "" {
		details = append(details, "signal "+output.Escape(ev.Signal))
	}
	if ev.Image != "" {
		details = append(details, "image "+output.Escape(ev.Image))
	}
	if len(details) > 0 {
		b.WriteString("  " + strings.Join(details, ", "))
	}
	if ev.Message != "" {
		b.WriteString("  " + output.Escape(cmp.Or(ev.Type, "Event")) + ": " + output.Escape(ev.Message))
	}
	b.WriteByte('\n')
	_, w.err = io.WriteString(w.out, b.String())
	return w.err
}
