package push

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Spool is the on-disk queue of what sinks did not take: a directory per
// sink, a file per batch. A file is written whole (to a temporary name,
// synced, renamed, and the directory synced), so a crash or a power loss
// leaves either the whole batch or nothing. Across runs it is what makes
// a cron job lose nothing while a sink is down.
type Spool struct {
	Dir string
	// Limit bounds each sink's directory in bytes; past it the oldest
	// batches go.
	Limit int64
}

// Spooled is a batch read back from the spool.
type Spooled struct {
	Batch
	path string
}

// spoolHeader is the first line of a spool file; the body follows it.
// Bytes is the body's length, so that a file cut short is told from a
// batch; spools written before it was kept have none (-1).
type spoolHeader struct {
	Key     string `json:"key,omitempty"`
	Samples int    `json:"samples"`
	Bytes   int    `json:"bytes"`
}

// badSuffix is added to a spool file that is not a batch: it is kept for
// a person to look at, and never read again.
const badSuffix = ".bad"

// Load returns a sink's spooled batches, oldest first. Only regular files
// are read (a FIFO or a symlink planted in the spool is passed over). A
// file that is not a whole batch is moved aside to NAME.bad and named in
// the error; dropped is how many samples its header claimed, if any.
func (s *Spool) Load(sinkID string) (out []Spooled, dropped int, err error) {
	dir := filepath.Join(s.Dir, sinkID)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("spool %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".batch") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if !e.Type().IsRegular() {
			// Moved aside as a bad batch is (the rename moves the entry,
			// never what a link points at), so that it is said once, not
			// every run.
			if rerr := os.Rename(p, p+badSuffix); rerr != nil {
				errs = append(errs, fmt.Errorf("spool: %s is not a regular file; moving it aside: %v", p, rerr))
			} else {
				errs = append(errs, fmt.Errorf("spool: %s is not a regular file: moved to %s", p, p+badSuffix))
			}
			continue
		}
		b, err := readBatch(p)
		if err != nil {
			dropped += b.Samples
			if rerr := os.Rename(p, p+badSuffix); rerr != nil {
				errs = append(errs, fmt.Errorf("%w; moving it aside: %v", err, rerr))
			} else {
				errs = append(errs, fmt.Errorf("%w: moved to %s, its %d samples dropped", err, p+badSuffix, b.Samples))
			}
			continue
		}
		out = append(out, Spooled{Batch: b, path: p})
	}
	// Names start with the time they were spooled.
	slices.SortFunc(out, func(a, b Spooled) int { return strings.Compare(filepath.Base(a.path), filepath.Base(b.path)) })
	return out, dropped, errors.Join(errs...)
}

// readBatch reads a spool file. It opens without following a link and
// without blocking (a FIFO put there after the directory was listed), and
// reads only a regular file. On error, the Batch holds what the header
// claimed, if it could be read.
func readBatch(path string) (Batch, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return Batch{}, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Batch{}, fmt.Errorf("spool: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Batch{}, fmt.Errorf("spool: %s is not a regular file", path)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return Batch{}, fmt.Errorf("spool: %w", err)
	}
	line, body, ok := bytes.Cut(data, []byte("\n"))
	h := spoolHeader{Bytes: -1}
	if !ok || json.Unmarshal(line, &h) != nil || h.Samples < 0 {
		return Batch{}, fmt.Errorf("spool: %s is not a spooled batch (%d bytes, no header)", path, len(data))
	}
	b := Batch{Key: h.Key, Body: body, Samples: h.Samples}
	switch {
	case h.Bytes >= 0 && h.Bytes != len(body):
		return Batch{Samples: h.Samples}, fmt.Errorf("spool: %s is cut short (%d of %d bytes)", path, len(body), h.Bytes)
	case h.Bytes < 0 && len(body) == 0 && h.Samples > 0:
		return Batch{Samples: h.Samples}, fmt.Errorf("spool: %s has a header and no body", path)
	}
	return b, nil
}

// Remove takes a batch out of the spool once its sink has it.
func (s *Spool) Remove(sp Spooled) error {
	if err := os.Remove(sp.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// Put spools b for a sink: it counts as spooled once it is on disk, file
// and directory synced. A batch with a key replaces the one spooled under
// the same key (only the newest push of a Pushgateway group matters). It
// returns how many samples the limit pushed out, oldest first.
func (s *Spool) Put(sinkID string, b Batch) (int, error) {
	dir := filepath.Join(s.Dir, sinkID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	name := fmt.Sprintf("%020d", time.Now().UnixNano())
	var old []string
	if b.Key != "" {
		sum := sha256.Sum256([]byte(b.Key))
		suffix := "-" + hex.EncodeToString(sum[:8]) + ".batch"
		old, _ = filepath.Glob(filepath.Join(dir, "*"+suffix))
		name += suffix
	} else {
		name += fmt.Sprintf("-%08x.batch", rand.Uint32())
	}
	head, _ := json.Marshal(spoolHeader{Key: b.Key, Samples: b.Samples, Bytes: len(b.Body)}) // plain fields: cannot fail
	if err := writeSynced(dir, name, append(append(head, '\n'), b.Body...)); err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	// The older push of the same group goes only once the newer is safe.
	for _, p := range old {
		os.Remove(p)
	}
	return s.trim(dir)
}

// writeSynced writes dir/name whole: a temporary file, synced, renamed,
// then the directory synced so that the rename itself survives.
func writeSynced(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// trim drops the oldest batches of dir until it fits the limit, keeping
// the newest batch even if it alone is larger. Only the headers of what
// it drops are read.
func (s *Spool) trim(dir string) (int, error) {
	if s.Limit <= 0 {
		return 0, nil
	}
	entries, err := os.ReadDir(dir) // sorted by name: oldest first
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	type file struct {
		path string
		size int64
	}
	var files []file
	var total int64
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".batch") || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil {
			files = append(files, file{filepath.Join(dir, e.Name()), fi.Size()})
			total += fi.Size()
		}
	}
	dropped := 0
	for i := 0; total > s.Limit && i < len(files)-1; i++ {
		b, _ := readBatch(files[i].path) // a bad file's header still counts
		dropped += b.Samples
		if err := os.Remove(files[i].path); err != nil {
			return dropped, fmt.Errorf("spool: %w", err)
		}
		total -= files[i].size
	}
	return dropped, nil
}
