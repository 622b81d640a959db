// Package logs implements 'monctl logs': the output of containers on
// one or more engines, in one stream.
package logs

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/monctl/monctl/internal/cli/ask"
	"github.com/monctl/monctl/internal/cli/cmdutil"
	"github.com/monctl/monctl/internal/output"
	ctr "github.com/monctl/monctl/pkg/containers"
	"github.com/monctl/monctl/pkg/exposition"
	"github.com/monctl/monctl/pkg/objectstore"
)

// Options of 'monctl logs'.
type Options struct {
	IO cmdutil.IOStreams
	cmdutil.EngineFlags
	cmdutil.ContainerFlags

	Refs        []string
	Follow      bool
	Since       string
	Until       string
	Tail        string
	Timestamps  bool
	NoColor     bool
	NoPrefix    bool
	Grep        string
	InvertMatch bool
	OutputDir   string
	MaxSize     string
	MaxFiles    int
	// With --output-dir s3://BUCKET/PREFIX.
	S3          objectstore.Config
	QueueDir    string
	Compress    bool
	UploadEvery time.Duration
	Out         cmdutil.OutputFlags

	// FailIfMatch is a check: lines matching it are also said on stderr,
	// and the run exits 4.
	FailIfMatch string
	// Patterns count the lines they match per container, for the rules
	// and checks of Ask, asked every EvalInterval and at the end.
	Patterns     []string
	EvalInterval time.Duration
	Ask          ask.Flags

	grep     *regexp.Regexp
	failIf   *regexp.Regexp
	counters *counters
}

// NewCmd builds 'monctl logs'.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{IO: f.IO}
	stoppedToo := true // docker logs reads a stopped container's too
	cmd := &cobra.Command{
		Use:               "logs [NAME|ID]...",
		ValidArgsFunction: opts.CompleteContainers(f, &stoppedToo),
		Short:             "The output of containers on one or more engines, in one stream",
		Long: `Print what containers wrote to stdout and stderr, from every engine
given (-H, repeatable; contexts as the docker CLI), in one stream: the
containers named, or with none every running container (--all: stopped
ones too; --filter as watch containers).

On a terminal each line has a "name |" prefix (host/name with several
engines) in a colour per container, as docker compose logs does; piped,
the same without colour; -o jsonl writes {time, host, id, name, stream,
message} records with the engine's timestamps. Control characters in log
lines are escaped in human output.

--pattern NAME=RE counts the lines each container wrote that match RE,
as monctl_log_lines_total{host, id, name, pattern="NAME"}: --rules and
--fail-if are asked of these counters every --evaluation-interval while
following and once at the end; alerts and checks that change are said on
stderr, the alerts are delivered to --alertmanager and --notify-webhook,
and exit 4 says one fired at the end. Without rules or checks the counts
are said on stderr at the end.`,
		Example: `  monctl logs --tail 20 web db
  monctl logs -f --since 10m --grep 'error|panic' -H unix:///var/run/docker.sock -H ssh://root@build
  monctl logs --since 2026-11-22T08:00:00Z --until 2026-11-22T09:00:00Z -o jsonl > window.jsonl
  monctl logs -f --tail 0 --pattern errors='(?i)error|panic' --rules logs.rules.yml --alertmanager http://localhost:9093`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Refs = args
			opts.Ask.ConfigAlertmanagers = f.ConfigAlertmanagers()
			return run(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	opts.AddEngineFlags(cmd)
	opts.AddContainerFlags(cmd, f, &opts.EngineFlags, "stopped containers too", "") // -f is --follow
	fl.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing what the containers write")
	fl.StringVar(&opts.Since, "since", "", "lines since a duration ago (10m) or an RFC 3339 time")
	fl.StringVar(&opts.Until, "until", "", "lines before a duration ago or an RFC 3339 time")
	fl.StringVarP(&opts.Tail, "tail", "n", "all", "the last N lines of each container (all: every line)")
	fl.BoolVarP(&opts.Timestamps, "timestamps", "t", false, "show the engine's time of each line")
	fl.StringVar(&opts.Grep, "grep", "", "only lines matching this regular expression (RE2)")
	fl.BoolVarP(&opts.InvertMatch, "invert-match", "v", false, "with --grep, only lines that do not match")
	fl.StringVar(&opts.FailIfMatch, "fail-if-match", "", "a check for cron: the lines matching this regular expression (RE2) are also written to stderr, and monctl exits 4 when there is one")
	fl.BoolVar(&opts.NoColor, "no-color", false, "no colour in the prefixes (as docker compose logs; also --color never)")
	fl.BoolVar(&opts.NoPrefix, "no-log-prefix", false, "print the lines without the container's name before them (as docker compose logs)")
	fl.StringVar(&opts.OutputDir, "output-dir", "", "write each container's lines to DIR/HOST_NAME.log (.jsonl with -o jsonl), appended across runs, instead of stdout; or s3://BUCKET/PREFIX: objects PREFIX/HOST_NAME.START.log")
	fl.StringVar(&opts.MaxSize, "max-size", "10MiB", "with --output-dir, rotate a file (start a new object) before it grows past this")
	fl.IntVar(&opts.MaxFiles, "max-files", 5, "with a local --output-dir, rotated files kept per container (NAME.log.1 is the newest)")
	fl.BoolVar(&opts.Compress, "compress", false, "with --output-dir s3://, gzip each object (.gz)")
	cmdutil.DurationVar(fl, &opts.UploadEvery, "upload-every", time.Minute, "with --output-dir s3:// and --follow, put each container's lines into the bucket at least this often")
	fl.StringVar(&opts.QueueDir, "queue-dir", cmdutil.StateDir("logs-queue"), "with --output-dir s3://, where lines wait to be put, and what the server did not take waits for the next run")
	fl.StringVar(&opts.S3.Endpoint, "s3-endpoint", "", "the S3 server's URL (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, the profile's endpoint_url, AWS)")
	fl.StringVar(&opts.S3.Region, "s3-region", "", "the bucket's region (default: $AWS_REGION, $AWS_DEFAULT_REGION, the profile's region, asked of the server)")
	fl.StringVar(&opts.S3.Profile, "s3-profile", "", "the profile of ~/.aws/credentials and ~/.aws/config (default: $AWS_PROFILE, default)")
	fl.BoolVar(&opts.S3.PathStyle, "s3-path-style", false, "address the bucket as URL/BUCKET rather than BUCKET.HOST (MinIO, versitygw, Ceph)")
	fl.StringVar(&opts.S3.CAFile, "s3-ca-file", "", "PEM certificates to trust for the S3 server besides the system's (default: $AWS_CA_BUNDLE)")
	fl.StringArrayVar(&opts.Patterns, "pattern", nil, "NAME=RE: count each container's lines that match RE (RE2) as monctl_log_lines_total{pattern=\"NAME\"}, for --rules and --fail-if (repeatable)")
	cmdutil.DurationVar(fl, &opts.EvalInterval, "evaluation-interval", 15*time.Second, "with --follow, how often --rules and --fail-if are asked of the --pattern counters")
	opts.Ask.AddRuleFlags(fl, "a check over the --pattern counters: said on stderr when this PromQL expression begins and stops returning series, exit 4 if it does at the end (repeatable)")
	opts.Out.AddOutputFormats(cmd, output.Table, output.Table, output.JSONL)
	return cmd
}

func run(ctx context.Context, f *cmdutil.Factory, o *Options) (runErr error) {
	p, err := o.Out.Printer(o.IO, true, ctr.LogLine{})
	if err != nil {
		return err
	}
	if o.Grep != "" {
		if o.grep, _, err = ctr.CompileLogPattern(o.Grep); err != nil {
			return cmdutil.UsageError("--grep: %v", err)
		}
	} else if o.InvertMatch {
		return cmdutil.UsageError("--invert-match needs --grep")
	}
	if o.FailIfMatch != "" {
		if o.failIf, _, err = ctr.CompileLogPattern(o.FailIfMatch); err != nil {
			return cmdutil.UsageError("--fail-if-match: %v", err)
		}
	}
	patterns, err := parsePatterns(o.Patterns)
	if err != nil {
		return err
	}
	var ev *evaluator
	switch {
	case o.EvalInterval <= 0:
		return cmdutil.UsageError("--evaluation-interval must be positive")
	case o.Ask.Asking() && len(patterns) == 0:
		return cmdutil.UsageError("--rules and --fail-if in logs are asked of the counters of --pattern NAME=RE: give one")
	case len(patterns) > 0:
		o.counters = &counters{patterns: patterns, n: map[counter]float64{}}
		if o.Ask.Asking() {
			if err := o.Ask.CheckRules(o.IO.ErrOut); err != nil {
				return err
			}
			defer o.Ask.Close() // delivers the alerts found
			ev = &evaluator{ask: &o.Ask, counters: o.counters, errOut: o.IO.ErrOut, store: o.Ask.NewStore()}
		}
	}
	filter, err := o.Filter()
	if err != nil {
		return err
	}
	var files *fileSink
	var objects *objectSink
	if o.OutputDir != "" {
		maxSize, err := exposition.ParseByteSize(o.MaxSize)
		switch {
		case err != nil:
			return cmdutil.UsageError("--max-size: %v", err)
		case maxSize == 0:
			return cmdutil.UsageError("--max-size 0: a file cannot be rotated before it holds anything (want a size such as 10MiB)")
		case o.MaxFiles < 0:
			return cmdutil.UsageError("--max-files %d: want 0 or more rotated files", o.MaxFiles)
		}
		ext := ".log"
		if p.Format == output.JSONL {
			ext = ".jsonl"
		}
		files = &fileSink{dir: o.OutputDir, ext: ext, max: int64(maxSize), keep: o.MaxFiles, errOut: o.IO.ErrOut,
			files: map[string]*rotatingFile{}, broken: map[string]bool{}}
		if objectstore.IsURL(o.OutputDir) {
			if objects, err = o.openBucket(ctx, files); err != nil {
				return err
			}
			defer func() {
				if cerr := objects.Close(); cerr != nil {
					fmt.Fprintf(o.IO.ErrOut, "monctl: %v\n", cerr)
					if runErr == nil {
						runErr = cmdutil.Partial
					}
				}
			}()
		} else {
			if o.Compress {
				return cmdutil.UsageError("--compress is for --output-dir s3://: a local file is appended to and rotated as it is")
			}
			if err := os.MkdirAll(o.OutputDir, 0o755); err != nil {
				return cmdutil.Failure(fmt.Errorf("--output-dir: %w", err))
			}
			defer files.Close()
		}
	}
	filter.Refs = o.Refs
	engines, failed, done, err := o.ConnectSome(ctx, f, 4, o.IO.ErrOut)
	defer done()
	if err != nil {
		return err
	}

	// Lines go out through a buffer, flushed every 50ms and at the end: a
	// write per line would be a system call per line, 50,000 a second
	// when following 50 busy containers.
	out := bufio.NewWriterSize(o.IO.Out, 64<<10)
	p.Out = out
	if o.NoColor {
		p.Term.Color = false
	}
	w := &writer{p: p, out: out, errOut: o.IO.ErrOut, files: files, multi: len(engines) > 1, timestamps: o.Timestamps, prefix: !o.NoPrefix, colours: map[string]string{}}
	stopFlushing := w.flushEvery(50 * time.Millisecond)
	defer stopFlushing()
	// With --follow, containers that start join from their start, and
	// monctl ends when every container it follows has stopped (as docker
	// compose logs -f does), or when it is interrupted.
	followCtx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	s := &session{o: o, w: w, filter: filter, errOut: o.IO.ErrOut, done: stopFollowing,
		active: map[string]bool{}, resume: map[string]time.Time{}, down: map[string]bool{}}
	found := map[string]bool{}
	stopEvaluating := func() {}
	if ev != nil && o.Follow {
		stopEvaluating = ev.every(ctx, o.EvalInterval)
	}
	var following sync.WaitGroup
	for _, e := range engines {
		if o.Follow {
			following.Go(func() { s.follow(ctx, followCtx, e, time.Time{}) })
		}
		cs, err := e.Select(ctx, filter, o.All)
		if err != nil {
			s.fail(err)
			continue
		}
		for _, c := range cs {
			for _, ref := range o.Refs {
				if c.IsRef(ref) {
					found[ref] = true
				}
			}
			s.read(ctx, e, c, ctr.LogOptions{Since: o.Since, Until: o.Until, Tail: o.Tail, Follow: o.Follow})
		}
	}
	if !o.Follow || len(o.Refs) > 0 && len(found) == 0 {
		stopFollowing() // nothing to wait for
	}
	following.Wait()
	s.wg.Wait()
	stopFlushing()
	stopEvaluating()
	if ev != nil {
		// The last answer is over every line read, interrupted or not.
		if err := ev.evaluate(context.WithoutCancel(ctx), time.Now()); err != nil {
			return err
		}
	} else if o.counters != nil {
		o.counters.say(o.IO.ErrOut)
	}
	for _, ref := range o.Refs {
		if !found[ref] {
			s.fail(fmt.Errorf("no such container: %s", ref))
		}
	}
	switch {
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case w.err != nil:
		return cmdutil.Failure(fmt.Errorf("writing output: %w", w.err))
	case len(o.Refs) > 0 && len(found) == 0:
		return cmdutil.Silent
	case w.matches > 0 || ev != nil && ev.fired:
		return cmdutil.CheckFailed // said on stderr
	case s.failed > 0 || failed > 0 || files != nil && files.failed() > 0:
		return cmdutil.Partial
	}
	return nil
}

// openBucket checks that the bucket of --output-dir takes our
// credentials before any line is read, and starts putting the pieces the
// earlier runs left.
func (o *Options) openBucket(ctx context.Context, files *fileSink) (*objectSink, error) {
	dest, err := objectstore.ParseDest(o.OutputDir)
	if err != nil {
		return nil, cmdutil.UsageError("--output-dir: %v", err)
	}
	if o.QueueDir == "" {
		return nil, cmdutil.UsageError("--output-dir s3:// needs a --queue-dir: lines wait there until the server takes them")
	}
	if o.UploadEvery <= 0 {
		return nil, cmdutil.UsageError("--upload-every must be positive")
	}
	store, err := objectstore.Open(dest, o.S3)
	if err != nil {
		return nil, cmdutil.UsageError("--output-dir %s: %v", dest, err)
	}
	// Credentials refused or no bucket: nothing this run keeps could be
	// sent. A server that cannot be reached now may be later: the lines
	// wait in the queue.
	if err := store.Check(ctx); errors.As(err, new(*objectstore.RefusedError)) {
		return nil, cmdutil.Failure(err)
	} else if err != nil {
		fmt.Fprintf(o.IO.ErrOut, "monctl: %v; the lines wait in --queue-dir until it answers\n", err)
	}
	every := time.Duration(0)
	if o.Follow {
		every = o.UploadEvery
	}
	objects, err := newObjectSink(files, store, queueDir(o.QueueDir, store.Where()), o.Compress, every)
	if err != nil {
		return nil, cmdutil.Failure(err)
	}
	objects.start()
	return objects, nil
}

// session reads the logs of every container chosen, each once at a time,
// and with --follow keeps reading until each has stopped, across the
// engine going away and coming back.
type session struct {
	o      *Options
	w      *writer
	filter ctr.Filter
	errOut io.Writer // errors are told as they happen: a follow can last days
	done   func()    // ends following: every container followed has stopped

	mu     sync.Mutex
	active map[string]bool      // host/id being read
	resume map[string]time.Time // host/id → where to go on reading it: after its last line, or when its reading began
	down   map[string]bool      // hosts that went away and are awaited
	failed int
	wg     sync.WaitGroup
}

// follow has containers that start on e join (those started from since
// on; zero: from now). When the engine goes away it is told, and once
// the engine answers again its containers are read from where each was
// left, and followed again.
func (s *session) follow(ctx, followCtx context.Context, e *ctr.Engine, since time.Time) {
	for {
		err := e.Starts(followCtx, since, func(c ctr.Container) {
			if s.filter.Match(&c, true) {
				s.read(ctx, e, c, s.resumeFrom(e, c, c.Created))
			}
		})
		if followCtx.Err() != nil {
			return
		}
		lost := time.Now()
		s.lose(e, err)
		for !e.Answers(followCtx) {
			select {
			case <-followCtx.Done():
				return
			case <-time.After(time.Second):
			}
		}
		// The starts from the moment it was lost are replayed, so none
		// falls between the list and the new event stream.
		since = lost
		cs, err := e.Select(ctx, s.filter, s.o.All)
		if err != nil {
			continue // gone again
		}
		s.note("the Docker engine at %s answers again: following its containers from where each was left", e.Host)
		for _, c := range cs {
			if c.State == "running" {
				s.read(ctx, e, c, s.resumeFrom(e, c, lost))
			}
		}
		s.mu.Lock()
		delete(s.down, e.Host)
		s.mu.Unlock()
		s.checkIdle()
	}
}

// resumeFrom is how a container that (re)joins is read: after the last
// line read of it, else from its first line after from.
func (s *session) resumeFrom(e *ctr.Engine, c ctr.Container, from time.Time) ctr.LogOptions {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.resume[e.Host+"/"+c.ID]; ok {
		from = t
	}
	return ctr.LogOptions{From: from, Until: s.o.Until, Tail: "all", Follow: true}
}

// read reads c's log in the background, unless it is being read.
func (s *session) read(ctx context.Context, e *ctr.Engine, c ctr.Container, opts ctr.LogOptions) {
	key := e.Host + "/" + c.ID
	s.mu.Lock()
	if s.active[key] {
		s.mu.Unlock()
		return
	}
	s.active[key] = true
	if s.o.counters != nil {
		s.o.counters.start(e.Host, c)
	}
	if _, ok := s.resume[key]; !ok {
		// Until a line comes, a later read starts where this one does.
		s.resume[key] = cmp.Or(opts.From, time.Now())
	}
	s.mu.Unlock()
	s.wg.Go(func() {
		for {
			var last time.Time
			err := e.Logs(ctx, c, opts, func(l ctr.LogLine) error {
				last = l.Time
				if s.o.counters != nil {
					s.o.counters.line(&l)
				}
				if s.o.grep != nil && s.o.grep.MatchString(l.Message) == s.o.InvertMatch {
					return nil
				}
				if s.o.failIf != nil && s.o.failIf.MatchString(l.Message) {
					s.w.matched(&l)
				}
				return s.w.line(&l)
			})
			// Where to go on from is kept before anyone can read this
			// container again (active is still set).
			if !last.IsZero() {
				s.mu.Lock()
				s.resume[key] = last.Add(time.Nanosecond)
				s.mu.Unlock()
			}
			if !opts.Follow || ctx.Err() != nil {
				if err != nil {
					s.fail(err)
				}
				break
			}
			// The stream ended while following: the container stopped,
			// --until came, or the engine went away (then follow takes
			// it up again when it returns), or the engine ended the
			// stream under a running container (a restart of dockerd
			// with live restore faster than follow noticed): then read
			// on, a second later, so that a stream that keeps ending
			// cannot make a busy loop.
			if !e.Answers(ctx) {
				s.lose(e, err)
				break
			}
			if err != nil || s.o.Until != "" || !e.Running(ctx, c.ID) {
				if err != nil {
					s.fail(err)
				}
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			opts = s.resumeFrom(e, c, time.Now())
		}
		s.mu.Lock()
		delete(s.active, key)
		s.mu.Unlock()
		s.checkIdle()
	})
}

// checkIdle ends following when no container is being read and no
// engine is awaited.
func (s *session) checkIdle() {
	s.mu.Lock()
	idle := len(s.active) == 0 && len(s.down) == 0
	s.mu.Unlock()
	if idle {
		s.done()
	}
}

// lose tells, once, that e went away and is awaited.
func (s *session) lose(e *ctr.Engine, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down[e.Host] {
		return
	}
	s.down[e.Host] = true
	cause := "its streams ended"
	var ee *ctr.EngineError
	if errors.As(err, &ee) {
		err = ee.Err
	}
	if err != nil {
		cause = err.Error()
	}
	fmt.Fprintf(s.errOut, "monctl: lost the Docker engine at %s (%s): following it again when it answers\n", e.Host, cause)
}

func (s *session) note(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.errOut, "monctl: "+format+"\n", args...)
}

func (s *session) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed++
	fmt.Fprintf(s.errOut, "monctl: %v\n", err)
}

// writer writes lines of several containers at once, whole: for people
// with a prefix (and a colour per container on a terminal), for scripts
// as records.
type writer struct {
	mu         sync.Mutex
	p          *output.Printer
	out        *bufio.Writer
	files      *fileSink // with --output-dir: instead of out
	multi      bool
	prefix     bool // the container's name before each line
	timestamps bool
	colours    map[string]string // host/id → SGR colour
	err        error
	errOut     io.Writer // --fail-if-match's lines
	matches    int
}

// flushEvery flushes the output every d until the returned func is
// called, which flushes it a last time (once, however often called).
func (w *writer) flushEvery(d time.Duration) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				w.flush()
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			w.flush()
		})
	}
}

func (w *writer) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.out.Buffered() > 0 && w.err == nil {
		w.err = w.out.Flush()
	}
}

// matched says a line that --fail-if-match matched on stderr, escaped,
// with its container, as a check that fired.
func (w *writer) matched(l *ctr.LogLine) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.matches++
	name := l.Name
	if w.multi {
		name = l.Host + "/" + l.Name
	}
	fmt.Fprintf(w.errOut, "monctl: matched: %s | %s\n", output.Escape(name), output.Escape(l.Message))
}

// The colours containers take in turn, as docker compose's.
var palette = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

func (w *writer) line(l *ctr.LogLine) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.files != nil {
		// A file holds the container's own bytes, for reading later.
		line := l.Message + "\n"
		if w.p.Format == output.JSONL {
			b, err := json.Marshal(l)
			if err != nil {
				return err
			}
			line = string(b) + "\n"
		} else if w.timestamps {
			line = l.Time.UTC().Format(time.RFC3339Nano) + " " + line
		}
		w.files.write(l.Host, l.Name, line) // a file's error is its container's alone
		return nil
	}
	if w.p.Format != output.Table {
		w.err = w.p.Print(output.View{Records: func() []any { return []any{*l} }})
		return w.err
	}
	prefix := ""
	if w.prefix {
		prefix = l.Name
		if w.multi {
			prefix = l.Host + "/" + l.Name
		}
		prefix = output.Escape(prefix) + " | "
	}
	if w.p.Term.Color && w.prefix {
		key := l.Host + "/" + l.ID
		c, ok := w.colours[key]
		if !ok {
			c = palette[len(w.colours)%len(palette)]
			w.colours[key] = c
		}
		prefix = "\x1b[" + c + "m" + prefix + "\x1b[0m"
	}
	if w.timestamps {
		prefix += l.Time.UTC().Format(time.RFC3339Nano) + " "
	}
	_, w.err = io.WriteString(w.out, prefix+output.Escape(l.Message)+"\n")
	return w.err
}
