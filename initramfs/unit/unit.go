// Package unit parses service and socket unit files in the systemd dialect the
// roadmap uses (systemd.unit(5), systemd.service(5), systemd.socket(5)), plus
// GenAI OS's own keys ConsciousnessLevel= and AIIntegration=.
//
// Unknown keys and invalid values are reported with file:line and skipped, as
// systemd does; a unit is rejected only when it cannot run (no ExecStart=).
package unit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/genai-os/genai-build/initramfs/bootconf"
)

// Type is Type= of [Service].
type Type string

const (
	Simple  Type = "simple"
	Oneshot Type = "oneshot"
	Notify  Type = "notify"
	// Socket is the type of every .socket unit (it has no Type= key).
	Socket Type = "socket"
	// Target is the type of a target the init itself reaches (see NewTarget).
	Target Type = "target"
)

// NewTarget makes a unit for a state of the system that its maker reports reached (as
// network-online.target when the network is configured). It starts only when another unit wants
// or requires it, and is up once reached.
func NewTarget(name, description string) *Unit {
	return &Unit{Name: name, Path: "(built in)", Description: description, Type: Target, HasInstall: true}
}

// Stdio is StandardInput=, StandardOutput= or StandardError= of [Service].
type Stdio string

const (
	StdDefault Stdio = ""        // the key was not given
	StdNull    Stdio = "null"    // /dev/null
	StdJournal Stdio = "journal" // the service's captured log (also "kmsg", "journal+console")
	StdInherit Stdio = "inherit" // output: what stdin is; error: what stdout is
	StdSocket  Stdio = "socket"  // the accepted connection (an instance of an Accept=yes socket)
)

// DefaultMaxConnections is MaxConnections= of a socket when not given (systemd's default).
const DefaultMaxConnections = 64

// Restart is Restart= of [Service].
type Restart string

const (
	RestartNo        Restart = "no"
	RestartOnFailure Restart = "on-failure"
	RestartAlways    Restart = "always"
)

// Command is one Exec*= line.
type Command struct {
	Argv          []string // words, quotes removed; $VAR and ${VAR} expanded at run time
	IgnoreFailure bool     // "-" prefix: a failing exit status counts as success
	NoEnvExpand   bool     // ":" prefix
	Argv0         string   // "@" prefix: Argv[0] is the file, Argv0 the name the process sees
	FullPrivilege bool     // "+" prefix: as root, outside User= and the unit's Sandbox (its cgroup limits still apply)
}

// Unit is one parsed .service file.
type Unit struct {
	Name string // file name, "sshd.service"
	Path string

	Description string
	Wants       []string
	Requires    []string
	After       []string
	Before      []string

	// ConditionPathExists are absolute paths that must exist ("!" prefix: must not) for the unit
	// to start, as systemd's: when one is not met the unit is skipped, which is not a failure.
	ConditionPathExists []string

	StartLimitBurst    int           // restarts allowed within StartLimitInterval; 0 = no limit
	StartLimitInterval time.Duration // StartLimitIntervalSec=

	Type             Type
	ExecStartPre     []Command
	ExecStart        []Command // more than one only for oneshot
	ExecReload       []Command
	ExecStop         []Command
	Restart          Restart
	RestartSec       time.Duration
	TimeoutStartSec  time.Duration // 0 = no timeout
	TimeoutStopSec   time.Duration // 0 = no timeout (SIGKILL never sent)
	User, Group      string
	WorkingDirectory string
	// RuntimeDirectory names folders under /run made (owned by User/Group) before the service
	// starts, as systemd does; the service sees them in $RUNTIME_DIRECTORY.
	RuntimeDirectory []string
	Environment      []string // KEY=value, in order
	EnvironmentFile  []string // "-" prefix: optional

	// Sandbox is what the processes may do (NoNewPrivileges=, ProtectSystem=, ...: see Sandbox);
	// MemoryMax= and TasksMax= limit the service's cgroup (nil: no limit set).
	Sandbox             Sandbox
	MemoryMax, TasksMax *Limit

	ConsciousnessLevel bootconf.Level // starts only when the level is at least this
	AIIntegration      bool           // gets the assistant endpoint in its environment

	// StandardInput=, StandardOutput=, StandardError= (see Stdio and Streams).
	StandardInput, StandardOutput, StandardError Stdio

	// [Socket] of a .socket unit.
	ListenStream   []Listen // where it listens
	Accept         bool     // yes: one instance of a template per connection; no: the service gets the sockets
	Service        string   // Service=: the unit it activates (default: see Activates)
	MaxConnections int      // Accept=yes: connections served at once; more are closed

	WantedBy   []string
	HasInstall bool // an [Install] section was present
}

// Listen is one ListenStream= address: a TCP address for net.Listen ("tcp", ":22") or a unix
// socket path ("unix", "/run/x.sock").
type Listen struct {
	Network, Address string
}

func (l Listen) String() string { return l.Address }

// IsTemplate says whether the unit is a template ("sshd@.service"), run only as instances.
func (u *Unit) IsTemplate() bool { return strings.Contains(u.Name, "@.") }

// Activates is the service a socket unit starts: Service= if given, else for Accept=yes the
// template "<name>@.service" and for Accept=no "<name>.service" (systemd.socket(5)).
func (u *Unit) Activates() string {
	if u.Service != "" {
		return u.Service
	}
	base := strings.TrimSuffix(u.Name, ".socket")
	if u.Accept {
		return base + "@.service"
	}
	return base + ".service"
}

// Streams resolves StandardInput/Output/Error= to what each of fds 0, 1 and 2 is: StdNull,
// StdJournal or StdSocket (systemd.exec(5): output inherits a socket input, error inherits output,
// and both default to the journal otherwise).
func (u *Unit) Streams() (in, out, errOut Stdio) {
	in = u.StandardInput
	if in != StdSocket {
		in = StdNull
	}
	out = u.StandardOutput
	switch {
	case out == StdDefault && in == StdSocket, out == StdInherit:
		out = in
	case out == StdDefault:
		out = StdJournal
	}
	errOut = u.StandardError
	if errOut == StdDefault || errOut == StdInherit {
		errOut = out
	}
	return in, out, errOut
}

// Defaults, as systemd's where it has one (systemd-system.conf(5)), shorter
// stop timeout so that poweroff stays quick.
const (
	DefaultRestartSec         = 100 * time.Millisecond
	DefaultTimeoutStartSec    = 90 * time.Second
	DefaultTimeoutStopSec     = 5 * time.Second
	DefaultStartLimitBurst    = 5
	DefaultStartLimitInterval = 10 * time.Second
)

// Diag is a problem found in a unit file.
type Diag struct {
	File  string
	Line  int
	Msg   string
	Fatal bool // the unit was rejected
}

func (d Diag) String() string {
	if d.Line == 0 {
		return d.File + ": " + d.Msg
	}
	return fmt.Sprintf("%s:%d: %s", d.File, d.Line, d.Msg)
}

// ErrUnusable is returned by Parse for a unit that cannot be run; the Diags
// say why. Other units are unaffected.
var ErrUnusable = errors.New("unit unusable")

type parser struct {
	u     *Unit
	diags []Diag
	file  string
}

func (p *parser) warn(line int, format string, args ...any) {
	p.diags = append(p.diags, Diag{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Parse parses the unit named name (its file name, like "sshd.service") from r.
// file is used in diagnostics.
func Parse(name, file string, r io.Reader) (*Unit, []Diag, error) {
	u := &Unit{
		Name: name, Path: file, Type: Simple, Restart: RestartNo,
		RestartSec: DefaultRestartSec, TimeoutStartSec: DefaultTimeoutStartSec, TimeoutStopSec: DefaultTimeoutStopSec,
		StartLimitBurst: DefaultStartLimitBurst, StartLimitInterval: DefaultStartLimitInterval,
	}
	if kindSection(name) == "Socket" {
		u.Type = Socket
	}
	p := &parser{u: u, file: file}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 256*1024)
	section := ""
	n := 0
	var cont strings.Builder
	contStart := 0
	for sc.Scan() {
		n++
		raw := sc.Text()
		if cont.Len() == 0 {
			t := strings.TrimSpace(raw)
			if t == "" || t[0] == '#' || t[0] == ';' {
				continue
			}
		}
		// A trailing backslash continues the line (systemd.syntax(7)).
		if strings.HasSuffix(raw, `\`) {
			if cont.Len() == 0 {
				contStart = n
			}
			cont.WriteString(strings.TrimSuffix(raw, `\`))
			cont.WriteByte(' ')
			continue
		}
		line, at := raw, n
		if cont.Len() > 0 {
			cont.WriteString(raw)
			line, at = cont.String(), contStart
			cont.Reset()
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				p.warn(at, "bad section header %q", line)
				section = "?"
				continue
			}
			section = line[1 : len(line)-1]
			switch section {
			case "Unit":
			case "Service", "Socket":
				if want := kindSection(name); section != want {
					p.warn(at, "section [%s] in a %s unit, skipped", section, strings.ToLower(want))
					section = "?"
				}
			case "Install":
				u.HasInstall = true
			default:
				p.warn(at, "unknown section [%s], skipped", section)
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			p.warn(at, "want Key=value, got %q, skipped", line)
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if section == "" {
			p.warn(at, "%s= outside any section, skipped", k)
			continue
		}
		p.set(section, k, v, at)
	}
	if err := sc.Err(); err != nil {
		p.diags = append(p.diags, Diag{File: file, Line: n + 1, Msg: err.Error(), Fatal: true})
		return nil, p.diags, fmt.Errorf("%s: %w: %v", file, ErrUnusable, err)
	}
	fatal := func(msg string) (*Unit, []Diag, error) {
		p.diags = append(p.diags, Diag{File: file, Msg: msg, Fatal: true})
		return nil, p.diags, fmt.Errorf("%s: %w: %s", file, ErrUnusable, msg)
	}
	if u.Type == Socket {
		if len(u.ListenStream) == 0 {
			return fatal("no ListenStream=")
		}
		if !u.Accept && strings.Contains(u.Activates(), "@.") {
			return fatal("Accept=no activates one service, not the template " + u.Activates() + ": set Service= or Accept=yes")
		}
		if u.MaxConnections == 0 {
			u.MaxConnections = DefaultMaxConnections
		}
		return u, p.diags, nil
	}
	switch {
	case len(u.ExecStart) == 0:
		return fatal("no ExecStart=")
	case len(u.ExecStart) > 1 && u.Type != Oneshot:
		return fatal("more than one ExecStart= is only allowed with Type=oneshot")
	}
	return u, p.diags, nil
}

func (p *parser) set(section, k, v string, line int) {
	u := p.u
	names := func(dst *[]string) {
		if v == "" { // an empty assignment resets the list
			*dst = nil
			return
		}
		for _, f := range strings.Fields(v) {
			*dst = append(*dst, Normalize(f))
		}
	}
	cmd := func(dst *[]Command) {
		if v == "" {
			*dst = nil
			return
		}
		c, err := ParseCommand(v)
		if err != nil {
			p.warn(line, "%s=: %v, skipped", k, err)
			return
		}
		*dst = append(*dst, c)
	}
	dur := func(dst *time.Duration) {
		d, err := ParseTimespan(v)
		if err != nil {
			p.warn(line, "%s=: %v, skipped", k, err)
			return
		}
		*dst = d
	}
	switch section + "." + k {
	case "Unit.Description":
		u.Description = v
	case "Unit.Wants":
		names(&u.Wants)
	case "Unit.Requires":
		names(&u.Requires)
	case "Unit.After":
		names(&u.After)
	case "Unit.Before":
		names(&u.Before)
	case "Unit.ConditionPathExists":
		if v == "" { // an empty assignment resets the list, as systemd's
			u.ConditionPathExists = nil
			return
		}
		if !strings.HasPrefix(strings.TrimPrefix(v, "!"), "/") {
			p.warn(line, "ConditionPathExists=%q: want an absolute path (a ! prefix: must not exist), skipped", v)
			return
		}
		u.ConditionPathExists = append(u.ConditionPathExists, v)
	case "Unit.StartLimitBurst":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			p.warn(line, "StartLimitBurst=%q: want a count, skipped", v)
			return
		}
		u.StartLimitBurst = n
	case "Unit.StartLimitIntervalSec", "Service.StartLimitIntervalSec":
		dur(&u.StartLimitInterval)
	case "Service.Type":
		switch t := Type(v); t {
		case Simple, Oneshot, Notify:
			u.Type = t
		default:
			p.warn(line, "Type=%q: want simple, oneshot or notify, skipped", v)
		}
	case "Service.ExecStart":
		cmd(&u.ExecStart)
	case "Service.ExecStartPre":
		cmd(&u.ExecStartPre)
	case "Service.ExecReload":
		cmd(&u.ExecReload)
	case "Service.ExecStop":
		cmd(&u.ExecStop)
	case "Service.Restart":
		switch r := Restart(v); r {
		case RestartNo, RestartOnFailure, RestartAlways:
			u.Restart = r
		default:
			p.warn(line, "Restart=%q: want no, on-failure or always, skipped", v)
		}
	case "Service.RestartSec":
		dur(&u.RestartSec)
	case "Service.TimeoutStartSec":
		dur(&u.TimeoutStartSec)
	case "Service.TimeoutStopSec":
		dur(&u.TimeoutStopSec)
	case "Service.TimeoutSec":
		dur(&u.TimeoutStartSec)
		u.TimeoutStopSec = u.TimeoutStartSec
	case "Service.User":
		u.User = v
	case "Service.Group":
		u.Group = v
	case "Service.WorkingDirectory":
		u.WorkingDirectory = v
	case "Service.RuntimeDirectory":
		for _, d := range strings.Fields(v) {
			if strings.Contains(d, "..") || strings.HasPrefix(d, "/") {
				p.warn(line, "RuntimeDirectory=%q: want a name under /run without \"..\", skipped", d)
				continue
			}
			u.RuntimeDirectory = append(u.RuntimeDirectory, d)
		}
	case "Service.Environment":
		if v == "" {
			u.Environment = nil
			return
		}
		words, err := SplitWords(v)
		if err != nil {
			p.warn(line, "Environment=: %v, skipped", err)
			return
		}
		for _, w := range words {
			if k, _, ok := strings.Cut(w, "="); !ok || k == "" {
				p.warn(line, "Environment=: %q is not KEY=value, skipped", w)
				continue
			}
			u.Environment = append(u.Environment, w)
		}
	case "Service.EnvironmentFile":
		if v == "" {
			u.EnvironmentFile = nil
			return
		}
		u.EnvironmentFile = append(u.EnvironmentFile, v)
	case "Service.ConsciousnessLevel", "Unit.ConsciousnessLevel":
		l, err := bootconf.ParseLevel(v)
		if err != nil {
			p.warn(line, "ConsciousnessLevel=: %v, skipped", err)
			return
		}
		u.ConsciousnessLevel = l
	case "Service.AIIntegration", "Unit.AIIntegration":
		switch b, ok := parseBool(v); {
		case v == "enabled" || v == "disabled":
			u.AIIntegration = v == "enabled"
		case ok:
			u.AIIntegration = b
		default:
			p.warn(line, "AIIntegration=%q: want enabled or disabled, skipped", v)
		}
	case "Service.StandardInput", "Service.StandardOutput", "Service.StandardError":
		var dst *Stdio
		switch k {
		case "StandardInput":
			dst = &u.StandardInput
		case "StandardOutput":
			dst = &u.StandardOutput
		default:
			dst = &u.StandardError
		}
		switch v {
		case "null":
			*dst = StdNull
		case "socket":
			*dst = StdSocket
		case "journal", "kmsg", "journal+console", "kmsg+console":
			*dst = StdJournal
		case "inherit":
			if k == "StandardInput" {
				p.warn(line, "StandardInput=inherit: want null or socket, skipped")
				return
			}
			*dst = StdInherit
		default:
			p.warn(line, "%s=%q: want null, socket, journal or inherit, skipped", k, v)
		}
	case "Socket.ListenStream":
		if v == "" {
			u.ListenStream = nil
			return
		}
		l, err := ParseListen(v)
		if err != nil {
			p.warn(line, "ListenStream=%v, skipped", err)
			return
		}
		u.ListenStream = append(u.ListenStream, l)
	case "Socket.Accept":
		b, ok := parseBool(v)
		if !ok {
			p.warn(line, "Accept=%q: want yes or no, skipped", v)
			return
		}
		u.Accept = b
	case "Socket.Service":
		if !strings.HasSuffix(v, ".service") {
			p.warn(line, "Service=%q: want a .service unit name, skipped", v)
			return
		}
		u.Service = v
	case "Socket.MaxConnections":
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			p.warn(line, "MaxConnections=%q: want a count of at least 1, skipped", v)
			return
		}
		u.MaxConnections = n
	case "Install.WantedBy":
		names(&u.WantedBy)
	default:
		if section == "Service" && p.setSandbox(k, v, line) {
			return
		}
		if section == "Unit" || section == "Service" || section == "Socket" || section == "Install" {
			p.warn(line, "unknown key %s= in [%s], skipped", k, section)
		}
	}
}

// kindSection is the section that says what a unit of this name does: [Socket] for .socket units,
// [Service] for the rest.
func kindSection(name string) string {
	if strings.HasSuffix(name, ".socket") {
		return "Socket"
	}
	return "Service"
}

// ParseListen parses a ListenStream= value: a port ("22", every address), an address and port
// ("0.0.0.0:22", "[::1]:8080") or an absolute unix socket path.
func ParseListen(v string) (Listen, error) {
	if strings.HasPrefix(v, "/") {
		return Listen{"unix", v}, nil
	}
	host, port := "", v
	if strings.Contains(v, ":") {
		h, pt, err := net.SplitHostPort(v)
		if err != nil {
			return Listen{}, fmt.Errorf("%q: want PORT, ADDRESS:PORT, [IPV6]:PORT or /path", v)
		}
		if h != "" && net.ParseIP(h) == nil {
			return Listen{}, fmt.Errorf("%q: %q is not an IP address", v, h)
		}
		host, port = h, pt
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return Listen{}, fmt.Errorf("%q: want a port from 1 to 65535", v)
	}
	return Listen{"tcp", net.JoinHostPort(host, port)}, nil
}

// Normalize adds ".service" to a bare unit name.
func Normalize(name string) string {
	if strings.Contains(name, ".") {
		return name
	}
	return name + ".service"
}

// ParseCommand parses the value of an Exec*= key (systemd.service(5),
// "Command lines"): optional prefixes "-", "@", ":", "+", "!" ("+" and "!" are
// accepted; "+" runs the command with full privileges, outside User= and the unit's sandbox, as
// systemd does; "!" has no effect), then words with C-style quoting.
func ParseCommand(v string) (Command, error) {
	var c Command
	at := false
	for len(v) > 0 && strings.ContainsRune("-@:+!", rune(v[0])) {
		switch v[0] {
		case '-':
			c.IgnoreFailure = true
		case '@':
			at = true
		case ':':
			c.NoEnvExpand = true
		case '+':
			c.FullPrivilege = true
		}
		v = v[1:]
	}
	words, err := SplitWords(v)
	if err != nil {
		return c, err
	}
	if at {
		if len(words) < 2 {
			return c, errors.New("@ needs a file and an argv[0]")
		}
		c.Argv0 = words[1]
		words = append(words[:1], words[2:]...)
	}
	if len(words) == 0 {
		return c, errors.New("empty command")
	}
	if !filepath.IsAbs(words[0]) && !strings.HasPrefix(words[0], "$") {
		// systemd also searches a fixed PATH; we require what it recommends.
		return c, fmt.Errorf("%q: want an absolute path", words[0])
	}
	c.Argv = words
	return c, nil
}

// SplitWords splits on blanks, honouring "double" and 'single' quotes and
// backslash escapes (systemd.syntax(7), "Quoting").
func SplitWords(s string) ([]string, error) {
	var out []string
	var b strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote, inWord = c, true
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(s[i])
			}
			inWord = true
		case quote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				out = append(out, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		out = append(out, b.String())
	}
	return out, nil
}

// ParseTimespan parses a systemd time span (systemd.time(7)): "90", "5s",
// "100ms", "1min 30s", "infinity" (returned as 0: no timeout).
func ParseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "infinity" {
		return 0, nil
	}
	if s == "" {
		return 0, errors.New("empty time span")
	}
	var total time.Duration
	rest := s
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("time span %q: want a number", s)
		}
		num, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("time span %q: %w", s, err)
		}
		rest = strings.TrimLeft(rest[i:], " ")
		j := 0
		for j < len(rest) && (rest[j] >= 'a' && rest[j] <= 'z' || rest[j] >= 'A' && rest[j] <= 'Z') {
			j++
		}
		unit := rest[:j]
		rest = rest[j:]
		var mult time.Duration
		switch unit {
		case "", "s", "sec", "second", "seconds":
			mult = time.Second
		case "ms", "msec":
			mult = time.Millisecond
		case "us", "usec":
			mult = time.Microsecond
		case "m", "min", "minute", "minutes":
			mult = time.Minute
		case "h", "hr", "hour", "hours":
			mult = time.Hour
		case "d", "day", "days":
			mult = 24 * time.Hour
		default:
			return 0, fmt.Errorf("time span %q: unknown unit %q", s, unit)
		}
		if num > float64(1<<62)/float64(mult) {
			return 0, fmt.Errorf("time span %q: too large", s)
		}
		total += time.Duration(num * float64(mult))
	}
	return total, nil
}

// parseBool parses a systemd boolean (systemd.syntax(7)).
func parseBool(v string) (value, ok bool) {
	switch v {
	case "yes", "true", "on", "1", "y", "t":
		return true, true
	case "no", "false", "off", "0", "n", "f":
		return false, true
	}
	return false, false
}

// LoadDir parses every *.service and *.socket file in dir, sorted by name. Units that
// cannot be used are left out; all diagnostics are returned.
func LoadDir(dir string) ([]*Unit, []Diag, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, e := range ents {
		if (strings.HasSuffix(e.Name(), ".service") || strings.HasSuffix(e.Name(), ".socket")) && !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var units []*Unit
	var diags []Diag
	for _, n := range names {
		path := filepath.Join(dir, n)
		f, err := os.Open(path)
		if err != nil {
			diags = append(diags, Diag{File: path, Msg: err.Error(), Fatal: true})
			continue
		}
		u, d, _ := Parse(n, path, f)
		f.Close()
		diags = append(diags, d...)
		if u != nil {
			units = append(units, u)
		}
	}
	return units, diags, nil
}
