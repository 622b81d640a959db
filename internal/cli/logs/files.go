package logs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// rotatingFile appends lines to a file and rotates it before a line would
// take it past max bytes: path becomes path.1, path.1 path.2 and so on,
// keeping keep old files. A line is never split across two files, so a
// rotation loses and repeats nothing.
type rotatingFile struct {
	path string
	max  int64
	keep int
	f    *os.File
	size int64
	// seal, when set, takes the full file away instead of the numbered
	// rotation and says where the next one goes (pieces for a bucket).
	seal   func(path string) (next string, err error)
	opened time.Time
}

func openRotating(path string, max int64, keep int) (*rotatingFile, error) {
	r := &rotatingFile{path: path, max: max, keep: keep}
	return r, r.open()
}

// open opens the file for appending: runs add to what earlier ones
// wrote. It never writes through a symlink (one planted in the directory
// would make monctl append to any file its user may write): O_NOFOLLOW
// refuses it, and only a regular file is taken. A file whose last line
// was cut short (a disk that filled up) gets its newline first, so that
// no line is ever joined to another.
func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_RDWR|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o644)
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("%s is a symlink: refusing to write through it", r.path)
	}
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", r.path)
	}
	if err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err = f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			_, err = f.WriteString("\n")
		}
	}
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size, r.opened = f, fi.Size(), time.Now()
	return nil
}

// writeLine appends line (with its newline).
func (r *rotatingFile) writeLine(line string) error {
	if r.max > 0 && r.size > 0 && r.size+int64(len(line)) > r.max {
		if err := r.rotate(); err != nil {
			return err
		}
	}
	n, err := r.f.WriteString(line)
	r.size += int64(n)
	return err
}

func (r *rotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return err
	}
	if r.seal != nil {
		next, err := r.seal(r.path)
		if err != nil {
			return err
		}
		r.path = next
	} else if r.keep < 1 {
		os.Remove(r.path)
	} else {
		os.Remove(fmt.Sprintf("%s.%d", r.path, r.keep))
		for i := r.keep - 1; i >= 1; i-- {
			os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
		}
		if err := os.Rename(r.path, r.path+".1"); err != nil {
			return err
		}
	}
	return r.open()
}

func (r *rotatingFile) Close() error { return r.f.Close() }

// fileSink writes each container's lines to a file of its own in dir:
// HOST_NAME.log, or .jsonl for records. A file that cannot be written
// stops only its own container's lines: the error is told once, on
// errOut, and counted for the exit code.
type fileSink struct {
	dir    string
	ext    string
	max    int64
	keep   int
	errOut io.Writer
	// open, when set, opens a container's file instead of dir/key.
	open   func(key string) (*rotatingFile, error)
	mu     sync.Mutex
	files  map[string]*rotatingFile
	broken map[string]bool
}

// nameMax is the longest file name Linux file systems take (NAME_MAX).
const nameMax = 255

// fileName is a container's file name: its host and name with anything
// but letters, digits, dots, dashes and underscores made an underscore.
// A name too long to take ext and the suffix of its keep-th rotation
// (.log.5) within NAME_MAX is cut, and a hash of the whole name keeps it
// apart from others cut the same way.
func fileName(host, name, ext string, keep int) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
				return r
			}
			return '_'
		}, s)
	}
	base := clean(host) + "_" + clean(name)
	room := nameMax - len(ext) - len(".") - len(strconv.Itoa(max(keep, 1)))
	if len(base) > room {
		sum := sha256.Sum256([]byte(host + "\x00" + name))
		base = base[:room-9] + "-" + hex.EncodeToString(sum[:4])
	}
	return base + ext
}

// write appends a line to the container's file. It fails only for a
// file it has not failed on before: the caller tells that once.
func (s *fileSink) write(host, name, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := fileName(host, name, s.ext, s.keep)
	if s.broken[key] {
		return
	}
	f := s.files[key]
	var err error
	if f == nil {
		if s.open != nil {
			f, err = s.open(key)
		} else {
			f, err = openRotating(filepath.Join(s.dir, key), s.max, s.keep)
		}
		if err == nil {
			s.files[key] = f
		}
	}
	if err == nil {
		err = f.writeLine(line)
	}
	if err != nil {
		s.broken[key] = true
		fmt.Fprintf(s.errOut, "monctl: %s: writing its log file: %v; its other lines are not kept\n", host+"/"+name, err)
	}
}

// failed is how many containers' files could not be written.
func (s *fileSink) failed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.broken)
}

func (s *fileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for _, f := range s.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
