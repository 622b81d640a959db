package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
}

func openRotating(path string, max int64, keep int) (*rotatingFile, error) {
	r := &rotatingFile{path: path, max: max, keep: keep}
	return r, r.open()
}

// open opens the file for appending: runs add to what earlier ones
// wrote.
func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, fi.Size()
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
	if r.keep < 1 {
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
// HOST_NAME.log, or .jsonl for records.
type fileSink struct {
	dir   string
	ext   string
	max   int64
	keep  int
	mu    sync.Mutex
	files map[string]*rotatingFile
}

// fileName is a container's file name: its host and name with anything
// but letters, digits, dots, dashes and underscores made an underscore.
func fileName(host, name, ext string) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
				return r
			}
			return '_'
		}, s)
	}
	return clean(host) + "_" + clean(name) + ext
}

func (s *fileSink) write(host, name, line string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := fileName(host, name, s.ext)
	f := s.files[key]
	if f == nil {
		var err error
		if f, err = openRotating(filepath.Join(s.dir, key), s.max, s.keep); err != nil {
			return err
		}
		s.files[key] = f
	}
	return f.writeLine(line)
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
