package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// ErrNoQMP says the machine was started without a QMP socket (Config.QMP, or Start's default).
var ErrNoQMP = errors.New("qemu: the machine has no QMP socket")

// qmpMessage is one message from QEMU (docs/interop/qmp-spec.rst: a greeting, a success with
// "return", an "error", or an asynchronous "event").
type qmpMessage struct {
	QMP    json.RawMessage `json:"QMP"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string `json:"event"`
}

// qmpCall runs one command within a session.
type qmpCall func(command string, args any) (json.RawMessage, error)

// QMP runs one QMP command (with args, or nil) on the machine and returns its "return" value.
// Each call opens a session of its own: the greeting, qmp_capabilities, then the command.
func (m *Machine) QMP(ctx context.Context, command string, args any) (json.RawMessage, error) {
	var ret json.RawMessage
	err := m.qmpSession(ctx, func(call qmpCall) error {
		var err error
		ret, err = call(command, args)
		return err
	})
	return ret, err
}

// qmpSession opens a QMP session (the greeting, qmp_capabilities) and runs do with it.
func (m *Machine) qmpSession(ctx context.Context, do func(qmpCall) error) error {
	if m.qmp == "" {
		return ErrNoQMP
	}
	c, err := m.dialQMP(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	dec, enc := json.NewDecoder(c), json.NewEncoder(c)
	var greeting qmpMessage
	if err := dec.Decode(&greeting); err != nil || greeting.QMP == nil {
		return fmt.Errorf("qmp: no greeting: %v", err)
	}
	call := func(cmd string, args any) (json.RawMessage, error) {
		req := map[string]any{"execute": cmd}
		if args != nil {
			req["arguments"] = args
		}
		if err := enc.Encode(req); err != nil {
			return nil, fmt.Errorf("qmp %s: %w", cmd, err)
		}
		for {
			var msg qmpMessage
			if err := dec.Decode(&msg); err != nil {
				return nil, fmt.Errorf("qmp %s: %w", cmd, err)
			}
			switch {
			case msg.Error != nil:
				return nil, fmt.Errorf("qmp %s: %s: %s", cmd, msg.Error.Class, msg.Error.Desc)
			case msg.Return != nil:
				return msg.Return, nil
			} // an event: read on
		}
	}
	if _, err := call("qmp_capabilities", nil); err != nil {
		return err
	}
	return do(call)
}

// dialQMP connects to the QMP socket, waiting for QEMU to have made it.
func (m *Machine) dialQMP(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "unix", m.qmp)
		if err == nil {
			return c, nil
		}
		m.mu.Lock()
		exited := m.exited
		m.mu.Unlock()
		if exited {
			return nil, fmt.Errorf("qmp: qemu has exited: %w", err)
		}
		select { // QEMU makes the socket as it starts: try again
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp: %w (%w)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PowerButton presses the machine's ACPI power button (system_powerdown), as a VM manager's
// "shutdown" does.
func (m *Machine) PowerButton(ctx context.Context) error {
	_, err := m.QMP(ctx, "system_powerdown", nil)
	return err
}

// SendKeys presses keys together on the machine's keyboard, by QEMU key code (QKeyCode: "ctrl",
// "alt", "delete", "a", ...), then releases them: SendKeys(ctx, "ctrl", "alt", "delete").
func (m *Machine) SendKeys(ctx context.Context, keys ...string) error {
	_, err := m.QMP(ctx, "send-key", sendKeyArgs(keys, 0))
	return err
}

// sendKeyArgs are send-key's arguments (qapi/ui.json); hold 0 leaves QEMU's default of 100 ms.
func sendKeyArgs(keys []string, hold time.Duration) map[string]any {
	type keyValue struct {
		Type string `json:"type"`
		Data string `json:"data"`
	}
	kv := make([]keyValue, len(keys))
	for i, k := range keys {
		kv[i] = keyValue{Type: "qcode", Data: k}
	}
	args := map[string]any{"keys": kv}
	if hold > 0 {
		args["hold-time"] = hold.Milliseconds()
	}
	return args
}
