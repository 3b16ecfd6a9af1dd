package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// defaultSocket is the init's control socket (initramfs/ctl.DefaultSocket).
const defaultSocket = "/run/consciousness/control.sock"

// socketPath is where the init listens: CONSCIOUSNESS_SOCKET, else the default.
func socketPath() string {
	if p := os.Getenv("CONSCIOUSNESS_SOCKET"); p != "" {
		return p
	}
	return defaultSocket
}

// The wire types are initramfs/ctl's JSON (newline-delimited, one request per connection),
// declared here with only the fields the library reads, so the library does not link the init's
// service manager.
type request struct {
	Verb string   `json:"verb"`
	Args []string `json:"args,omitempty"`
}

type response struct {
	Error    string    `json:"error,omitempty"`
	Services []service `json:"services,omitempty"`
	Level    string    `json:"level,omitempty"`
	Event    *event    `json:"event,omitempty"`
}

type service struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Result   string `json:"result"`
	Level    string `json:"level"`
	PID      int    `json:"pid"`
	Restarts int    `json:"restarts"`
}

// event is ctl.Event: Kind "hello" (first, with the current level), "unit" or "level".
type event struct {
	TimeMs int64  `json:"time_ms"`
	Kind   string `json:"kind"`
	Unit   string `json:"unit,omitempty"`
	State  string `json:"state,omitempty"`
	Result string `json:"result,omitempty"`
	Level  string `json:"level,omitempty"`
}

// dial sends req and returns a decoder for the answers and the connection to close.
func (c *conContext) dial(ctx context.Context, req request) (*json.Decoder, net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return nil, nil, fmt.Errorf("the init's control socket: %w", err)
	}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	return json.NewDecoder(bufio.NewReader(conn)), conn, nil
}

// call sends one request and reads its one answer.
func (c *conContext) call(ctx context.Context, req request) (response, error) {
	dec, conn, err := c.dial(ctx, req)
	if err != nil {
		return response{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var r response
	if err := dec.Decode(&r); err != nil {
		return response{}, fmt.Errorf("reading the init's answer: %w", err)
	}
	if r.Error != "" {
		return response{}, errors.New(r.Error)
	}
	return r, nil
}

func (c *conContext) level(ctx context.Context) (float64, error) {
	r, err := c.call(ctx, request{Verb: "level"})
	if err != nil {
		return 0, err
	}
	return parseLevel(r.Level)
}

// services returns every service, or the named one ("" for all).
func (c *conContext) services(ctx context.Context, name string) ([]service, error) {
	req := request{Verb: "status"}
	if name != "" {
		if !strings.Contains(name, ".") {
			name += ".service"
		}
		req.Args = []string{name}
	}
	r, err := c.call(ctx, req)
	if err != nil {
		return nil, err
	}
	return r.Services, nil
}

// events subscribes to the init's events and sends the level of the hello event and of every
// level event to levels, until ctx ends (nil) or the stream does (an error).
func (c *conContext) events(ctx context.Context, levels chan<- float64) error {
	dec, conn, err := c.dial(ctx, request{Verb: "events"})
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	for {
		var r response
		if err := dec.Decode(&r); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return errors.New("the init closed the event stream")
			}
			return fmt.Errorf("reading events: %w", err)
		}
		if r.Error != "" {
			return fmt.Errorf("events: %s", r.Error)
		}
		if r.Event == nil || (r.Event.Kind != "hello" && r.Event.Kind != "level") {
			continue
		}
		l, err := parseLevel(r.Event.Level)
		if err != nil {
			return err
		}
		select {
		case levels <- l:
		case <-ctx.Done():
			return nil
		}
	}
}
