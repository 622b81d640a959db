package ask

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monctl/monctl/pkg/query"
)

// Two runs of the same rule files at once: the second waits for the
// first, and gives up, saying why, when it holds the state too long; a
// state written is read back whole.
func TestStateLockAndRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(t.TempDir(), "r.yml")
	first, err := openState(dir, []string{rules}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openState(dir, []string{rules}, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "is held by another run of monctl") {
		t.Fatalf("a second run while the first holds the state: %v", err)
	}
	other, err := openState(dir, []string{rules + ".other"}, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("other rule files have a state of their own: %v", err)
	}
	other.close()
	want := savedState{Rules: query.State{Fingerprint: "abc", Alerts: [][]query.SavedAlert{{{Alert: query.Alert{Labels: map[string]string{"alertname": "A"}, State: query.Firing}}}}}}
	if err := first.save(want); err != nil {
		t.Fatal(err)
	}
	first.close()
	again, err := openState(dir, []string{rules}, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("once the first run is done: %v", err)
	}
	defer again.close()
	got, err := again.load()
	if err != nil || got.Rules.Fingerprint != "abc" || got.Rules.Alerts[0][0].Labels["alertname"] != "A" || got.Rules.Alerts[0][0].State != query.Firing {
		t.Errorf("read back %+v, %v", got, err)
	}
	// One state saved, two locks; no temporary file left behind.
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("the state directory holds %d files, want the state saved and two locks", len(entries))
	}
}
