package bootconf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// Config is /etc/consciousness/boot.conf.
//
// The format is one "key = value" per line; '#' starts a comment line; blank
// lines are ignored. Keys are lower case; dotted keys group settings
// ("network.mode = dhcp"), so new groups extend the format without a new syntax.
// Every key may appear once.
type Config struct {
	Edition  string // edition = server
	Hostname string // hostname = genai-server
	Level    Level  // level = 0.7 (the default consciousness level)
	LogLevel string // log_level = debug|info|warn|error
	Console  string // console = shell|login (what the serial console offers; default shell)
	Network  Network
	AI       AI
	// UpdateTries is update.tries = 1..9 on an A/B system: the boot loader's trial boots of an
	// update (the edition's disk.tries; 0 when not given: the init's default, 3). A trial boot
	// that still sees this many tries left was not counted by the boot loader.
	UpdateTries int
}

// AI holds the ai.* keys: the assistant endpoint that units with
// AIIntegration=enabled get in their environment.
type AI struct {
	Endpoint string // ai.endpoint = http://10.0.2.2:11434/v1 (OpenAI-compatible base URL)
	Model    string // ai.model = llama3.2
}

// Network holds the network.* keys.
type Network struct {
	Mode      string       // network.mode = dhcp|static|off
	Interface string       // network.interface = eth0 (default: the first wired one)
	Address   netip.Prefix // network.address = 10.0.2.15/24 (static)
	Gateway   netip.Addr   // network.gateway = 10.0.2.2 (static)
	DNS       []netip.Addr // network.dns = 10.0.2.3 1.1.1.1
	Search    []string     // network.search = example.org
}

// Default is the configuration used when boot.conf is missing.
func Default() Config {
	return Config{Edition: "unknown", Hostname: "genai-os", Level: 500, LogLevel: "info",
		Network: Network{Mode: "dhcp"}}
}

// Warning is a problem that does not invalidate the file, such as an unknown key.
type Warning struct {
	File string
	Line int
	Msg  string
}

func (w Warning) String() string { return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg) }

type setter func(c *Config, v string) error

var keys = map[string]setter{
	"edition": func(c *Config, v string) error {
		if !isName(v) {
			return fmt.Errorf("edition %q: want letters, digits, '-' or '_'", v)
		}
		c.Edition = v
		return nil
	},
	"hostname": func(c *Config, v string) error {
		if !isHostname(v) {
			return fmt.Errorf("hostname %q: want 1-63 letters, digits or '-' per label (RFC 1123)", v)
		}
		c.Hostname = v
		return nil
	},
	"level": func(c *Config, v string) (err error) {
		c.Level, err = ParseLevel(v)
		return err
	},
	"log_level": func(c *Config, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			c.LogLevel = v
			return nil
		}
		return fmt.Errorf("log_level %q: want debug, info, warn or error", v)
	},
	"ai.endpoint": func(c *Config, v string) error {
		if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
			return fmt.Errorf("ai.endpoint %q: want an http:// or https:// URL", v)
		}
		c.AI.Endpoint = v
		return nil
	},
	"console": func(c *Config, v string) error {
		if v != "shell" && v != "login" {
			return fmt.Errorf("console %q: want shell or login", v)
		}
		c.Console = v
		return nil
	},
	"update.tries": func(c *Config, v string) error {
		// One digit: GRUB counts the tries down with an if-ladder (internal/ab's genai_left is 0-9).
		if len(v) != 1 || v[0] < '1' || v[0] > '9' {
			return fmt.Errorf("update.tries %q: want 1 to 9", v)
		}
		c.UpdateTries = int(v[0] - '0')
		return nil
	},
	"ai.model": func(c *Config, v string) error {
		c.AI.Model = v
		return nil
	},
	"network.mode": func(c *Config, v string) error {
		switch v {
		case "dhcp", "static", "off":
			c.Network.Mode = v
			return nil
		}
		return fmt.Errorf("network.mode %q: want dhcp, static or off", v)
	},
	"network.interface": func(c *Config, v string) error {
		if v == "" || len(v) > 15 || strings.ContainsAny(v, "/ \t") { // IFNAMSIZ-1, linux/if.h
			return fmt.Errorf("network.interface %q: not an interface name", v)
		}
		c.Network.Interface = v
		return nil
	},
	"network.address": func(c *Config, v string) (err error) {
		c.Network.Address, err = netip.ParsePrefix(v)
		return err
	},
	"network.gateway": func(c *Config, v string) (err error) {
		c.Network.Gateway, err = netip.ParseAddr(v)
		return err
	},
	"network.dns": func(c *Config, v string) error {
		c.Network.DNS = nil
		for _, f := range strings.Fields(v) {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return err
			}
			c.Network.DNS = append(c.Network.DNS, a)
		}
		return nil
	},
	"network.search": func(c *Config, v string) error {
		c.Network.Search = strings.Fields(v)
		for _, d := range c.Network.Search {
			if !isDomain(d) {
				return fmt.Errorf("network.search %q: not a domain", d)
			}
		}
		return nil
	},
}

// Parse reads a boot.conf from r, starting from Default(). name is used in
// messages. It returns every error at once (joined), each with name:line, and
// warnings for unknown keys, which are skipped.
func Parse(name string, r io.Reader) (Config, []Warning, error) {
	c := Default()
	var warns []Warning
	var errs []error
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("%s:%d: want key = value, got %q", name, n, line))
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			errs = append(errs, fmt.Errorf("%s:%d: empty key", name, n))
			continue
		}
		set, known := keys[k]
		if !known {
			warns = append(warns, Warning{name, n, fmt.Sprintf("unknown key %q skipped", k)})
			continue
		}
		if prev, dup := seen[k]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: %s already set on line %d", name, n, k, prev))
			continue
		}
		seen[k] = n
		if err := set(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, n, err))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s:%d: %w", name, n+1, err))
	}
	if c.Network.Mode == "static" && !c.Network.Address.IsValid() {
		errs = append(errs, fmt.Errorf("%s: network.mode = static needs network.address", name))
	}
	return c, warns, errors.Join(errs...)
}

func isName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// isHostname checks RFC 1123 labels; total length at most 64 (HOST_NAME_MAX).
func isHostname(s string) bool { return len(s) <= 64 && labelsOK(s) }

func isDomain(s string) bool { s = strings.TrimSuffix(s, "."); return len(s) <= 253 && labelsOK(s) }

func labelsOK(s string) bool {
	if s == "" {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
