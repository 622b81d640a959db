package logs

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/monctl/monctl/pkg/objectstore"
)

// objectSink keeps each container's lines for a bucket. A container's
// lines go to a piece on local disk, QUEUE/open/HOST_NAME.START.log; a
// piece is sealed (moved to QUEUE/ready, gzipped with --compress) when
// the next line would take it past --max-size, when it is --upload-every
// old while following, and at the end of the run. An uploader puts the
// sealed pieces into the bucket under the same names, oldest first, and
// removes each once the server took it. A piece the server does not take
// stays in QUEUE/ready and is tried again, later in the run or in the
// next run to the same bucket, so no line is lost and, as a piece is
// put whole under its own name, none is stored twice.
type objectSink struct {
	*fileSink
	store    *objectstore.Store
	openDir  string // QUEUE/open
	readyDir string // QUEUE/ready
	compress bool
	every    time.Duration
	lock     *os.File // held for the run: one writer per queue

	wake     chan struct{}
	stop     chan struct{}
	uploader sync.WaitGroup
	said     bool // an upload failure was said; said again once it recovers (the uploader's, then Close's)
}

// queueDir is the queue of one bucket and prefix on one server within
// the --queue-dir: a run to another destination never sends these.
func queueDir(root, where string) string {
	sum := sha256.Sum256([]byte(where))
	return filepath.Join(root, "s3", hex.EncodeToString(sum[:8]))
}

func newObjectSink(files *fileSink, store *objectstore.Store, queue string, compress bool, every time.Duration) (*objectSink, error) {
	s := &objectSink{fileSink: files, store: store, openDir: filepath.Join(queue, "open"), readyDir: filepath.Join(queue, "ready"),
		compress: compress, every: every, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	for _, d := range []string{s.openDir, s.readyDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("--queue-dir: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(queue, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--queue-dir: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("--queue-dir %s: another monctl logs is writing to %s with it; give this one another --queue-dir", queue, store.Where())
	}
	s.lock = lock
	// Pieces an earlier run left open (it was killed) are sealed as they
	// are: their lines were read then, and are not read again.
	left, _ := os.ReadDir(s.openDir)
	for _, e := range left {
		if err := s.seal(filepath.Join(s.openDir, e.Name())); err != nil {
			fmt.Fprintf(s.errOut, "monctl: %s: %v\n", store.Where(), err)
		}
	}
	files.open = s.openPiece
	return s, nil
}

// openPiece opens a new piece for the container whose local file name is
// key (HOST_NAME.log).
func (s *objectSink) openPiece(key string) (*rotatingFile, error) {
	path, err := s.newPiece(key)
	if err != nil {
		return nil, err
	}
	r, err := openRotating(path, s.max, 0)
	if err != nil {
		return nil, err
	}
	r.seal = func(path string) (string, error) {
		if err := s.seal(path); err != nil {
			return "", err
		}
		return s.newPiece(key)
	}
	return r, nil
}

// pieceTimeLayout is START in a piece's name: it sorts as the time does.
const pieceTimeLayout = "20060102T150405.000Z"

// newPiece makes an empty piece in open for key: HOST_NAME.START.log,
// START the UTC time to the millisecond, a later one if a piece of that
// name is still waiting.
func (s *objectSink) newPiece(key string) (string, error) {
	base, ext := key, ""
	if i := strings.LastIndex(key, "."); i >= 0 {
		base, ext = key[:i], key[i:]
	}
	for t := time.Now().UTC(); ; t = t.Add(time.Millisecond) {
		name := base + "." + t.Format(pieceTimeLayout) + ext
		if _, err := os.Lstat(filepath.Join(s.readyDir, s.objectName(name))); err == nil {
			continue
		}
		path := filepath.Join(s.openDir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		return path, f.Close()
	}
}

func (s *objectSink) objectName(piece string) string {
	if s.compress {
		return piece + ".gz"
	}
	return piece
}

// seal moves a piece from open to ready (gzipped with --compress) and
// wakes the uploader. An empty piece is removed. The ready file is
// written whole under a temporary name first: a piece in ready is
// always complete.
func (s *objectSink) seal(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		return os.Remove(path)
	}
	dst := filepath.Join(s.readyDir, s.objectName(filepath.Base(path)))
	if s.compress {
		if err := gzipFile(path, dst+".tmp"); err != nil {
			os.Remove(dst + ".tmp")
			return err
		}
		if err := os.Rename(dst+".tmp", dst); err != nil {
			return err
		}
		err = os.Remove(path)
	} else {
		err = os.Rename(path, dst)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return err
}

func gzipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(out)
	_, err = io.Copy(zw, in)
	err = errors.Join(err, zw.Close(), out.Sync(), out.Close())
	return err
}

// start runs the uploader, and with every > 0 seals the pieces that are
// that old, until Close. It is not stopped by an interrupt: a put in
// flight then is finished (within the store's timeout), as a person
// stopping a follow expects the lines to be sent.
func (s *objectSink) start() {
	s.uploader.Go(func() {
		retry := time.Second
		var tick <-chan time.Time
		if s.every > 0 {
			t := time.NewTicker(min(s.every, time.Second))
			defer t.Stop()
			tick = t.C
		}
		for {
			var again <-chan time.Time
			if err := s.upload(); err != nil {
				// Tried again after a back-off, 1 s doubling to a minute.
				again = time.After(retry)
				retry = min(2*retry, time.Minute)
			} else {
				retry = time.Second
			}
		wait:
			for {
				select {
				case <-s.stop:
					return
				case <-tick:
					s.sealOld(s.every) // wakes the uploader when it sealed one
				case <-s.wake:
					if again == nil {
						break wait
					}
				case <-again:
					break wait
				}
			}
		}
	})
}

// sealOld seals the open pieces that hold lines and are older than age.
func (s *objectSink) sealOld(age time.Duration) {
	s.fileSink.mu.Lock()
	defer s.fileSink.mu.Unlock()
	for key, f := range s.files {
		if f.size > 0 && time.Since(f.opened) >= age {
			if err := f.rotate(); err != nil {
				s.broken[key] = true
				delete(s.files, key)
				fmt.Fprintf(s.errOut, "monctl: %s: sealing its piece for %s: %v; its other lines are not kept\n", key, s.store.Where(), err)
			}
		}
	}
}

// upload puts every sealed piece into the bucket, oldest first, and
// stops at the first the server does not take.
func (s *objectSink) upload() error {
	entries, err := os.ReadDir(s.readyDir)
	if err != nil {
		return err
	}
	// Oldest first: names end in their start time, so sort by it.
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(pieceTime(a.Name()), pieceTime(b.Name())) })
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			continue // a gzip cut short by a crash; its piece is still in open
		}
		path := filepath.Join(s.readyDir, e.Name())
		if err := s.store.Put(context.Background(), e.Name(), path, contentType(e.Name())); err != nil {
			if !s.said {
				fmt.Fprintf(s.errOut, "monctl: uploading %s: %v; kept in %s, tried again\n", e.Name(), err, s.readyDir)
				s.said = true
			}
			return err
		}
		if s.said {
			fmt.Fprintf(s.errOut, "monctl: %s takes the pieces again\n", s.store.Where())
			s.said = false
		}
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	return nil
}

// pieceTime is the START of HOST_NAME.START.log[.gz].
func pieceTime(name string) string {
	name = strings.TrimSuffix(name, ".gz")
	name = name[:max(strings.LastIndex(name, "."), 0)]
	return name[max(len(name)-len(pieceTimeLayout), 0):]
}

func contentType(name string) string {
	switch {
	case strings.HasSuffix(name, ".gz"):
		return "application/gzip"
	case strings.HasSuffix(name, ".jsonl"):
		return "application/jsonl"
	}
	return "text/plain; charset=utf-8"
}

// Close seals every piece, puts what it can into the bucket and says
// what is left for the next run. It fails when something was left.
func (s *objectSink) Close() error {
	close(s.stop)
	s.uploader.Wait()
	s.fileSink.mu.Lock()
	for key, f := range s.files {
		if err := f.f.Close(); err == nil {
			if err := s.seal(f.path); err != nil {
				fmt.Fprintf(s.errOut, "monctl: %s: sealing its last piece for %s: %v; it stays in %s\n", key, s.store.Where(), err, s.openDir)
			}
		}
		delete(s.files, key)
	}
	s.fileSink.mu.Unlock()
	err := s.upload()
	defer s.lock.Close()
	if err == nil {
		return nil
	}
	left, _ := os.ReadDir(s.readyDir)
	what := fmt.Sprintf("%d pieces are", len(left))
	if len(left) == 1 {
		what = "1 piece is"
	}
	return fmt.Errorf("%s not in %s yet: kept in %s and sent first by the next run to it", what, s.store.Where(), s.readyDir)
}
