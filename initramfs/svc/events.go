package svc

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Event is one change the init publishes to its subscribers (consciousness-manager's control
// socket, verb "events"): Kind "unit" (a unit's State and Result changed), "level" (the running
// Level changed) or "hello" (the first event of every subscription, with the current Level).
type Event struct {
	TimeMs int64  `json:"time_ms"` // since boot
	Kind   string `json:"kind"`
	Unit   string `json:"unit,omitempty"`
	State  string `json:"state,omitempty"`
	Result string `json:"result,omitempty"`
	Level  string `json:"level,omitempty"`
}

// EventBuffer is how many events a subscriber may fall behind before it is dropped: a boot of
// the server edition publishes about 40, a crash-looping unit 3 per restart.
const EventBuffer = 256

// Subscription is one subscriber's stream. C is closed when the subscription ends: by Cancel, or
// because the subscriber fell EventBuffer events behind (then Dropped is closed first).
type Subscription struct {
	C       <-chan Event
	Hello   Event
	dropped chan struct{}
	cancel  func()
}

// Dropped is closed when the subscriber was too slow and lost its stream.
func (s *Subscription) Dropped() <-chan struct{} { return s.dropped }

// Cancel ends the subscription; it may be called more than once.
func (s *Subscription) Cancel() { s.cancel() }

// hub fans events out without ever blocking the publisher: a full subscriber is dropped.
type hub struct {
	mu   sync.Mutex
	subs map[chan Event]chan struct{} // event channel -> its dropped signal
}

func (h *hub) subscribe(buf int, hello Event) *Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[chan Event]chan struct{}{}
	}
	ch, dropped := make(chan Event, buf), make(chan struct{})
	h.subs[ch] = dropped
	return &Subscription{C: ch, Hello: hello, dropped: dropped, cancel: func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}}
}

func (h *hub) publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch, dropped := range h.subs {
		select {
		case ch <- e:
		default: // PID 1 never waits for a client: the slow one loses its stream
			delete(h.subs, ch)
			close(dropped)
			close(ch)
		}
	}
}

// Subscribe starts a stream of events; the first is the hello with the current level.
func (m *Manager) Subscribe() *Subscription {
	return m.SubscribeBuffer(EventBuffer)
}

// SubscribeBuffer is Subscribe with another bound (tests).
func (m *Manager) SubscribeBuffer(buf int) *Subscription {
	m.mu.Lock()
	defer m.mu.Unlock() // under mu: no change is published between the hello and the stream
	return m.events.subscribe(buf, Event{TimeMs: m.cfg.Clock().Milliseconds(), Kind: "hello", Level: m.level.String()})
}

// Exit is one end of a unit's main process (or of its start) that the unit did not ask for:
// a crash, a clean exit of a Restart=always unit, a failed ExecStartPre=, a start timeout.
type Exit struct {
	AtMs     int64     `json:"at_ms"`               // since boot
	Result   string    `json:"result"`              // as the unit's status says: "exit-code 3", "signal SIGKILL", "timeout", ...
	Code     *int      `json:"code,omitempty"`      // the exit status, when it exited
	Signal   string    `json:"signal,omitempty"`    // the signal that killed it
	Restart  bool      `json:"restart"`             // the init restarted it after this
	LastLogs []LogLine `json:"last_logs,omitempty"` // the last lines of that run
}

// History is a unit's recent exits, oldest first.
type History struct {
	Unit     string `json:"unit"`
	Restarts int    `json:"restarts"`
	Exits    []Exit `json:"exits"`
}

// Bounds of the crash history: per unit, the last historyExits exits with historyLines log lines
// each, of at most historyLineBytes bytes.
const (
	historyExits     = 16
	historyLines     = 5
	historyLineBytes = 256
)

// recordExit notes an exit of s with the last lines it wrote in that run.
func (m *Manager) recordExit(s *service, result string, restart bool) {
	m.mu.Lock()
	out := s.outDone
	m.mu.Unlock()
	if out != nil { // its last lines may still be in the pipe
		select {
		case <-out:
		case <-time.After(200 * time.Millisecond):
		}
	}
	e := Exit{AtMs: m.cfg.Clock().Milliseconds(), Result: result, Restart: restart}
	if i := strings.Index(result, "exit-code "); i >= 0 {
		if c, err := strconv.Atoi(strings.Fields(result[i+len("exit-code "):])[0]); err == nil {
			e.Code = &c
		}
	}
	if i := strings.Index(result, "signal "); i >= 0 {
		e.Signal = strings.Fields(result[i+len("signal "):])[0]
	}
	m.mu.Lock()
	began := s.startedAt
	m.mu.Unlock()
	var lines []LogLine
	for _, l := range s.ring.snapshot() { // this run's lines only
		if l.At >= began {
			lines = append(lines, l)
		}
	}
	lines = lines[max(0, len(lines)-historyLines):]
	for _, l := range lines {
		if len(l.Text) > historyLineBytes {
			l.Text = l.Text[:historyLineBytes] + "…"
		}
		e.LastLogs = append(e.LastLogs, l)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s.exits = append(s.exits, e)
	if len(s.exits) > historyExits {
		s.exits = append([]Exit(nil), s.exits[len(s.exits)-historyExits:]...)
	}
}

// History returns the crash history of every unit (or the named ones), sorted by name.
func (m *Manager) History(names ...string) ([]History, error) {
	if len(names) == 0 {
		names = m.names
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []History
	for _, n := range names {
		s := m.svcs[n]
		if s == nil {
			return nil, fmt.Errorf("%s: %w", n, ErrNoUnit)
		}
		out = append(out, History{Unit: n, Restarts: s.restarts, Exits: append([]Exit{}, s.exits...)})
	}
	return out, nil
}
