package scrape

import (
	"bufio"
	"bytes"
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	"github.com/monctl/monctl/pkg/exposition"
)

// rendered is one target's part of the document, written by a worker.
type rendered struct {
	doc    []byte
	result exposition.Result
}

// streamAll scrapes many targets, --concurrency at once, each rendered as
// it is parsed (its model is never held whole), and writes each target's
// part of the document as soon as those before it are written: in
// argument order, the same bytes as the model's document. A target done
// before those ahead of it waits, rendered, in a reorder buffer that
// holds at most 2 × --concurrency targets (those running included), so
// that memory is bounded by the concurrency, not by the number of
// targets.
func (o *Options) streamAll(ctx context.Context, s *exposition.Scraper, targets []exposition.Target, sel *exposition.Selector, format output.Format) error {
	// A write that fails (a closed pipe) stops the scrapes still going.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	concurrency := max(1, o.Concurrency)
	done := make([]chan rendered, len(targets))
	for i := range done {
		done[i] = make(chan rendered, 1)
	}
	slots := make(chan struct{}, 2*concurrency) // a target running or waiting to be written holds one
	var eg errgroup.Group
	eg.SetLimit(concurrency)
	go func() {
		for i := range targets {
			slots <- struct{}{} // the writer frees one per target written, and reads every target
			eg.Go(func() error {
				var buf bytes.Buffer
				jw := output.NewJSONWriter(&buf, false)
				r := scrapeInto(ctx, s, &targets[i], sel, format, jw)
				if r.Err != nil {
					// A target that failed has no families, as in the
					// model, whatever was parsed before it failed.
					buf.Reset()
					jw = output.NewJSONWriter(&buf, false)
					if format == output.JSON {
						writeTargetHead(jw, &r)
						writeTargetTail(jw, &r)
					} else {
						writeErrorLine(jw, &r)
					}
				}
				jw.Flush() // a bytes.Buffer does not fail
				done[i] <- rendered{doc: buf.Bytes(), result: r}
				return nil
			})
		}
	}()

	// The document is the parts in order: for -o json an array of the
	// targets' objects, for jsonl their lines one after the other.
	out := bufio.NewWriterSize(o.IO.Out, 64<<10)
	var werr error
	write := func(b []byte) {
		if werr == nil {
			if _, werr = out.Write(b); werr != nil {
				cancel(werr)
			}
		}
	}
	if format == output.JSON {
		write([]byte("["))
	}
	failed := 0
	for i := range targets {
		part := <-done[i]
		if format == output.JSON && i > 0 {
			write([]byte(","))
		}
		write(part.doc)
		<-slots
		if !o.report(&part.result) {
			failed++
		}
	}
	if format == output.JSON {
		write([]byte("]\n"))
	}
	if werr == nil {
		werr = out.Flush()
	}
	if werr != nil {
		return cmdutil.Failure(fmt.Errorf("writing output: %w", werr))
	}
	if ctx.Err() != nil { // interrupted
		return context.Cause(ctx)
	}
	return outcome(failed, len(targets))
}
