// Package dashboard is security-dashboard: a report of the running system's security posture.
// Each check reads the system under a root folder (/ on a running system, a fixture tree in
// tests) and the init's state over its control socket, and says pass, warn or fail with the
// reason. Reports render as aligned text, JSON (schema below) or one self-contained HTML page.
package dashboard

import (
	"encoding/json"
	"fmt"
	"io"
)

// Status is one check's verdict. The order matters: a report's worst status is its exit code.
type Status int

const (
	Pass Status = iota // nothing to do
	Warn               // weaker than it could be, or not verifiable here
	Fail               // open to abuse as it stands
)

var statusNames = [...]string{"pass", "warn", "fail"}

func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return fmt.Sprintf("status(%d)", int(s))
	}
	return statusNames[s]
}

// MarshalText writes "pass", "warn" or "fail" (the JSON schema's values).
func (s Status) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(statusNames) {
		return nil, fmt.Errorf("no status %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads what MarshalText writes.
func (s *Status) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if string(b) == n {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("status %q: want pass, warn or fail", b)
}

// ExitCode is the exit status a report with this worst finding ends with: 0 pass, 1 warn, 2 fail.
// (A run that cannot make a report at all, as a bad flag, exits 3.)
func (s Status) ExitCode() int { return int(s) }

// Finding is the verdict of one check.
type Finding struct {
	Section string   `json:"section"` // boot, identity, sockets, accounts, ssh, firewall, audit, hardening
	Check   string   `json:"check"`   // what was looked at: "secure-boot", "tcp :22", "account root"
	Status  Status   `json:"status"`
	Reason  string   `json:"reason"`            // one line: why this status
	Details []string `json:"details,omitempty"` // the evidence, one fact a line
	// Data holds a check's machine-readable facts (a socket's port and owner, an account's
	// methods); its keys are documented per check in security-dashboard(1).
	Data map[string]string `json:"data,omitempty"`
}

// SchemaVersion names the JSON layout; a change that breaks readers gets a new number.
const SchemaVersion = "genai-security-dashboard/1"

// Report is every finding of one run, in section order.
type Report struct {
	Schema   string    `json:"schema"`
	Host     string    `json:"host"`
	Build    string    `json:"build,omitempty"` // BUILD_ID of /etc/os-release
	Worst    Status    `json:"worst"`
	Counts   Counts    `json:"counts"`
	Findings []Finding `json:"findings"`
}

// Counts is how many findings have each status.
type Counts struct {
	Pass int `json:"pass"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
}

// newReport fills in the worst status and the counts.
func newReport(host, build string, fs []Finding) Report {
	r := Report{Schema: SchemaVersion, Host: host, Build: build, Findings: fs}
	for _, f := range fs {
		r.Worst = max(r.Worst, f.Status)
		switch f.Status {
		case Pass:
			r.Counts.Pass++
		case Warn:
			r.Counts.Warn++
		case Fail:
			r.Counts.Fail++
		}
	}
	return r
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadJSON reads a report WriteJSON wrote, refusing another schema.
func ReadJSON(rd io.Reader) (Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	if r.Schema != SchemaVersion {
		return r, fmt.Errorf("report: schema %q, want %q", r.Schema, SchemaVersion)
	}
	return r, nil
}
