package ask

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/monctl/monctl/pkg/notify"
	"github.com/monctl/monctl/pkg/query"
)

// savedState is what one set of rule files leaves for the next run: the
// rules' active alerts (so that for: counts across cron runs) and what
// was delivered of them (so that an alert resolved between two runs is
// delivered resolved, and a webhook is not notified again within its
// repeat_interval).
type savedState struct {
	Rules         query.State      `json:"rules"`
	Notifications []notify.Tracked `json:"notifications,omitempty"`
	// Webhooks are the webhooks' groups, so that repeat_interval spans
	// cron runs.
	Webhooks []notify.WebhookState `json:"webhooks,omitempty"`
}

// stateFile is the state of one set of rule files in the state
// directory, locked while a run uses it.
type stateFile struct {
	path string
	lock *os.File
}

// lockWait is how long a run waits for another that holds the state.
const lockWait = 10 * time.Second

// openState locks the state of ruleFiles in dir (made if need be): one
// file per set of rule files, named by a hash of their paths. It waits
// for a run that holds it wait at most.
func openState(dir string, ruleFiles []string, wait time.Duration) (*stateFile, error) {
	sum := sha256.New()
	for _, f := range ruleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(sum, "%s\x00", abs)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "rules-"+hex.EncodeToString(sum.Sum(nil))[:16]+".json")
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
		err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &stateFile{path: path, lock: lock}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			lock.Close()
			return nil, fmt.Errorf("%s is held by another run of monctl (waited %s): %w", path+".lock", wait, err)
		}
	}
}

// load reads the state; none yet is an empty one.
func (s *stateFile) load() (savedState, error) {
	var st savedState
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return savedState{}, fmt.Errorf("%s: %w", s.path, err)
	}
	return st, nil
}

// save writes the state whole or not at all: to a file beside it,
// synced, then renamed over it.
func (s *stateFile) save(st savedState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), filepath.Base(s.path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

// close lets the next run have the state.
func (s *stateFile) close() { s.lock.Close() }
