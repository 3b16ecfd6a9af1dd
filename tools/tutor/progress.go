package tutor

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Progress is what a learner has done: the lesson in hand and, per lesson, the step reached.
type Progress struct {
	Current string                    `json:"current,omitempty"`
	Lessons map[string]LessonProgress `json:"lessons"`
}

// LessonProgress: Step is the index of the step in hand (0-based); Done once every step passed.
type LessonProgress struct {
	Step int  `json:"step"`
	Done bool `json:"done,omitempty"`
}

// ProgressPath is $XDG_STATE_HOME/genai-tutor/progress.json, or ~/.local/state/... (the XDG Base
// Directory Specification's default for state).
func ProgressPath(getenv func(string) string) (string, error) {
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "genai-tutor", "progress.json"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", fmt.Errorf("no HOME and no XDG_STATE_HOME: nowhere to keep progress")
	}
	return filepath.Join(home, ".local", "state", "genai-tutor", "progress.json"), nil
}

// LoadProgress reads path; a missing file is a fresh start.
func LoadProgress(path string) (*Progress, error) {
	p := &Progress{Lessons: map[string]LessonProgress{}}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("progress: %w", err)
	}
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("progress %s: %w (educational-tutor reset starts over)", path, err)
	}
	if p.Lessons == nil {
		p.Lessons = map[string]LessonProgress{}
	}
	return p, nil
}

// Save writes p to path atomically (a new file renamed over the old).
func (p *Progress) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("progress: %w", err)
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("progress: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("progress: %w", err)
	}
	return nil
}
