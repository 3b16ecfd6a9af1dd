package ab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// StatePath is the update record's path under the data partition's mount (/data).
const StatePath = "genai/update-state.json"

// State is the update record: the install waiting for its trial boot, and the last result.
// genai-update writes Pending and Last (installed); the init writes Last (committed or rolled
// back) and clears Pending.
type State struct {
	Pending *Attempt `json:"pending,omitempty"`
	Last    *Result  `json:"last,omitempty"`
}

// Attempt is an installed update waiting for its trial.
type Attempt struct {
	Slot      Slot      `json:"slot"`
	Version   string    `json:"version"`
	BuildID   string    `json:"build_id,omitempty"`
	Installed time.Time `json:"installed"`
}

// Outcomes of Result.
const (
	Installed  = "installed"
	Committed  = "committed"
	RolledBack = "rolled-back"
	Failed     = "failed"
)

// Result is what became of the last update.
type Result struct {
	Slot    Slot      `json:"slot"`
	Version string    `json:"version"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
	Detail  string    `json:"detail,omitempty"` // what failed, as the console line said it
	Time    time.Time `json:"time"`
}

// LoadState reads the record under dataDir; none is an empty State.
func LoadState(dataDir string) (State, error) {
	var s State
	b, err := os.ReadFile(filepath.Join(dataDir, StatePath))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("%s: %w", filepath.Join(dataDir, StatePath), err)
	}
	return s, nil
}

// Save writes the record under dataDir atomically: a temporary file, synced, renamed over the
// old one, and the folder synced.
func (s State) Save(dataDir string) error {
	p := filepath.Join(dataDir, StatePath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(p))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
