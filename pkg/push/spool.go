package push

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Spool is the on-disk queue of what sinks did not take: a directory per
// sink, a file per batch. A file is written whole (to a temporary name,
// then renamed), so a crash leaves either the batch or nothing. Across
// runs it is what makes a cron job lose nothing while a sink is down.
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
type spoolHeader struct {
	Key     string `json:"key,omitempty"`
	Samples int    `json:"samples"`
}

// Load returns a sink's spooled batches, oldest first. A file that cannot
// be read is skipped and named in the error.
func (s *Spool) Load(sinkID string) ([]Spooled, error) {
	dir := filepath.Join(s.Dir, sinkID)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	var out []Spooled
	var errs []error
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".batch") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := readBatch(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, Spooled{Batch: b, path: p})
	}
	// Names start with the time they were spooled.
	slices.SortFunc(out, func(a, b Spooled) int { return strings.Compare(filepath.Base(a.path), filepath.Base(b.path)) })
	return out, errors.Join(errs...)
}

func readBatch(path string) (Batch, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Batch{}, fmt.Errorf("spool: %w", err)
	}
	line, body, ok := bytes.Cut(data, []byte("\n"))
	var h spoolHeader
	if !ok || json.Unmarshal(line, &h) != nil {
		return Batch{}, fmt.Errorf("spool: %s is not a spooled batch", path)
	}
	return Batch{Key: h.Key, Body: body, Samples: h.Samples}, nil
}

// Remove takes a batch out of the spool once its sink has it.
func (s *Spool) Remove(sp Spooled) error {
	if err := os.Remove(sp.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// Put spools b for a sink. A batch with a key replaces the one spooled
// under the same key (only the newest push of a Pushgateway group
// matters). It returns how many samples the limit pushed out, oldest
// first.
func (s *Spool) Put(sinkID string, b Batch) (int, error) {
	dir := filepath.Join(s.Dir, sinkID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	name := fmt.Sprintf("%020d", time.Now().UnixNano())
	if b.Key != "" {
		sum := sha256.Sum256([]byte(b.Key))
		suffix := "-" + hex.EncodeToString(sum[:8]) + ".batch"
		old, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
		for _, p := range old {
			os.Remove(p)
		}
		name += suffix
	} else {
		name += fmt.Sprintf("-%08x.batch", rand.Uint32())
	}
	head, _ := json.Marshal(spoolHeader{Key: b.Key, Samples: b.Samples}) // plain fields: cannot fail
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	_, err = tmp.Write(append(append(head, '\n'), b.Body...))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return 0, fmt.Errorf("spool: %w", err)
	}
	return s.trim(dir)
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
		if !strings.HasSuffix(e.Name(), ".batch") {
			continue
		}
		if fi, err := e.Info(); err == nil {
			files = append(files, file{filepath.Join(dir, e.Name()), fi.Size()})
			total += fi.Size()
		}
	}
	dropped := 0
	for i := 0; total > s.Limit && i < len(files)-1; i++ {
		if b, err := readBatch(files[i].path); err == nil {
			dropped += b.Samples
		}
		if err := os.Remove(files[i].path); err != nil {
			return dropped, fmt.Errorf("spool: %w", err)
		}
		total -= files[i].size
	}
	return dropped, nil
}
