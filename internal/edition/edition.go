// Package edition is the one schema of an edition manifest (editions/<name>.yaml): what goes into an
// image, how it boots and what it is written as. Load decodes strictly (an unknown field is an error
// with file:line), resolves `extends:` chains with the merge rules of Merge, and Validate reports every
// problem at once, each with its position.
package edition

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/genai-os/genai-build/internal/output"
)

// Edition is the manifest of one edition. Zero values mean "inherit" when the edition extends another.
type Edition struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Extends names the parent edition (editions/<extends>.yaml).
	Extends string `yaml:"extends"`
	// Abstract editions only serve as parents; they cannot be built. Not inherited.
	Abstract bool `yaml:"abstract"`
	// Version is the release version written into image names and /etc/os-release.
	Version string `yaml:"version"`
	// Arch is the target architecture, as GOARCH and Debian spell it ("amd64").
	Arch string `yaml:"arch"`

	Kernel    Kernel    `yaml:"kernel"`
	Recipes   []string  `yaml:"recipes"`  // recipes/<name>.yaml to include
	Overlays  []string  `yaml:"overlays"` // overlays/<name>/ copied over the root tree, in order
	Boot      Boot      `yaml:"boot"`
	Initramfs Initramfs `yaml:"initramfs"`
	// Root says where the root file system lives at run time.
	Root Root `yaml:"root"`
	// Outputs name the formats the boot chain is written as (internal/output's registry: iso,
	// kernel-initrd).
	Outputs []string `yaml:"outputs"`
	Debian  Debian   `yaml:"debian"`
	// Users are the accounts of the image besides those its packages need. root always exists; with
	// neither a password hash nor keys it cannot log in.
	Users []User `yaml:"users"`
	// Assistant is genai-assistant's endpoint, written to /etc/genai/assistant.conf.
	Assistant Assistant `yaml:"assistant"`
	// Firewall is the deny-by-default inbound firewall the init applies before any unit starts.
	Firewall Firewall `yaml:"firewall"`
	// Disk is the A/B disk image's layout (the disk-image output).
	Disk Disk `yaml:"disk"`
	// Session is the graphical session's build-time part (the desktop edition).
	Session Session `yaml:"session"`

	// Remove takes entries away from what the parent chain added.
	Remove Removals `yaml:"remove"`

	// Source is the file this edition was read from (the leaf of the extends chain).
	Source string `yaml:"-"`
	// Chain lists the files of the extends chain, leaf first.
	Chain []string `yaml:"-"`
}

// Kernel says which kernel the image boots and what it must offer.
type Kernel struct {
	// Recipe names the kernel recipe (recipes/<name>.yaml, kind kernel).
	Recipe string `yaml:"recipe"`
	// Config names requirement fragments kconfig/<name>.config checked against the kernel's config.
	Config []string `yaml:"config"`
	// Modules are loaded by the init at boot, with their dependencies.
	Modules []string `yaml:"modules"`
}

// Boot is the boot menu and the kernel command line.
type Boot struct {
	Hostname string `yaml:"hostname"`
	// Level is the default consciousness level (0.0..1.0) of the default menu entry.
	Level *float64 `yaml:"level"`
	// Cmdline is appended to every menu entry's kernel command line.
	Cmdline []string `yaml:"cmdline"`
	// Timeout is how long the menu waits, in seconds (0: boot the default at once).
	Timeout *int `yaml:"timeout"`
	// Serial is the serial console, as the kernel's console= takes it ("ttyS0,115200").
	Serial string `yaml:"serial"`
}

// Debian says how Debian packages are installed.
type Debian struct {
	// DropDocs leaves out documentation, man pages, info and locales (not copyright files).
	DropDocs *bool `yaml:"drop_docs"`
	// KeepMan keeps manual and info pages when drop_docs drops the rest.
	KeepMan *bool `yaml:"keep_man"`
}

// User is one account.
type User struct {
	Name         string   `yaml:"name"`
	UID          int      `yaml:"uid"`
	GID          int      `yaml:"gid"`
	Comment      string   `yaml:"comment"`
	Home         string   `yaml:"home"`
	Shell        string   `yaml:"shell"`
	Groups       []string `yaml:"groups"`
	PasswordHash string   `yaml:"password_hash"` // crypt(3), e.g. from `mkpasswd -m sha-512`
	Locked       bool     `yaml:"locked"`
	SSHKeys      []string `yaml:"ssh_keys"` // lines of ~/.ssh/authorized_keys
	// CommandLineKeys adds the keys of `genai-build iso --ssh-key` to the user's (they always go to
	// root's): the developer edition's dev logs in with them.
	CommandLineKeys bool `yaml:"command_line_keys"`
}

// Assistant is the OpenAI-compatible endpoint genai-assistant (and the tutor, libgenai) use.
// No key is ever written into an image: APIKeyFile names a file the user puts there at run time.
type Assistant struct {
	Endpoint   string `yaml:"endpoint"` // e.g. http://10.0.2.2:11434/v1
	Model      string `yaml:"model"`
	APIKeyFile string `yaml:"api_key_file"` // a path in the running system, e.g. /root/.config/genai/key
}

// Check returns what is wrong with the assistant's settings, as (field, message) pairs in field
// order; genai-build iso's --assistant-* flags are checked the same way.
func (a Assistant) Check() [][2]string {
	var ps [][2]string
	if a.Endpoint == "" {
		if a.Model != "" || a.APIKeyFile != "" {
			ps = append(ps, [2]string{"assistant.endpoint", "missing: a model or key file needs an endpoint (http://HOST:PORT/v1)"})
		}
	} else if u, err := url.Parse(a.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		ps = append(ps, [2]string{"assistant.endpoint", fmt.Sprintf("%q: want an http:// or https:// URL without credentials or query, e.g. http://10.0.2.2:11434/v1", a.Endpoint)})
	}
	if strings.ContainsAny(a.Model, " \t\n=#") {
		ps = append(ps, [2]string{"assistant.model", fmt.Sprintf("%q: a model name has no spaces, = or #", a.Model)})
	}
	if a.APIKeyFile != "" && (!path.IsAbs(a.APIKeyFile) || strings.ContainsAny(a.APIKeyFile, "\n#")) {
		ps = append(ps, [2]string{"assistant.api_key_file", fmt.Sprintf("%q: want an absolute path in the running system (the key itself never goes into the image)", a.APIKeyFile)})
	}
	return ps
}

// Firewall is the edition's inbound firewall (/etc/consciousness/firewall.conf). With Enabled,
// inbound traffic is dropped but for the listed ports, the ListenStream= ports of the image's
// socket units, loopback, replies and ICMP's essentials; forwarding is off.
type Firewall struct {
	Enabled  *bool `yaml:"enabled"`
	AllowTCP []int `yaml:"allow_tcp"`
	AllowUDP []int `yaml:"allow_udp"`
}

// On reports whether the firewall is enabled.
func (f Firewall) On() bool { return f.Enabled != nil && *f.Enabled }

// mergeFirewall: enabled is the child's when set; the port lists are the parent's then the
// child's, each port once.
func mergeFirewall(parent, child Firewall) Firewall {
	out := child
	if out.Enabled == nil {
		out.Enabled = parent.Enabled
	}
	ports := func(p, c []int) []int {
		var out []int
		for _, n := range append(append([]int{}, p...), c...) {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out
	}
	out.AllowTCP, out.AllowUDP = ports(parent.AllowTCP, child.AllowTCP), ports(parent.AllowUDP, child.AllowUDP)
	return out
}

// Check returns what is wrong with the firewall's settings, as (field, message) pairs.
func (f Firewall) Check() [][2]string {
	var ps [][2]string
	for _, l := range []struct {
		field string
		ports []int
	}{{"firewall.allow_tcp", f.AllowTCP}, {"firewall.allow_udp", f.AllowUDP}} {
		for _, p := range l.ports {
			if p < 1 || p > 65535 {
				ps = append(ps, [2]string{l.field, fmt.Sprintf("%d is not a port (1-65535)", p)})
			}
		}
		if len(l.ports) > 0 && !f.On() {
			ps = append(ps, [2]string{l.field, "ports are allowed only by an enabled firewall (firewall.enabled: true)"})
		}
	}
	return ps
}

// Session is what the build writes for a graphical session.
type Session struct {
	// Welcome writes the welcome page (internal/welcome) into the root, which the session opens
	// in the browser at first login.
	Welcome *bool `yaml:"welcome"`
	// Shortcuts are the session's keys, shown on the welcome page; the session's own
	// configuration (an overlay) binds them.
	Shortcuts []Shortcut `yaml:"shortcuts"`
	// Autologin starts the session at boot as the live user, with no password (the default, as on
	// a live medium). false: the session's boot units are skipped (the build writes
	// NoAutologinPath, which they are conditioned on) and the screen shows a login prompt; the
	// session starts when a user with a password logs in on tty1.
	Autologin *bool `yaml:"autologin"`
}

// NoAutologinPath is the file, in the image, that says the session waits for a login: the
// session's units have ConditionPathExists=!/etc/genai/no-autologin, and its login-shell profile
// starts the session only when the file is there.
const NoAutologinPath = "etc/genai/no-autologin"

// AutologinOn says whether the session starts at boot without a login.
func (s Session) AutologinOn() bool { return s.Autologin == nil || *s.Autologin }

// Shortcut is one key chord of the session and what it does.
type Shortcut struct {
	Keys string `yaml:"keys"`
	Does string `yaml:"does"`
}

// WelcomeOn says whether the build writes the welcome page.
func (s Session) WelcomeOn() bool { return s.Welcome != nil && *s.Welcome }

// Check returns what is wrong with the session settings, as (field, message) pairs.
func (s Session) Check() [][2]string {
	var ps [][2]string
	for i, k := range s.Shortcuts {
		if k.Keys == "" || k.Does == "" {
			ps = append(ps, [2]string{fmt.Sprintf("session.shortcuts[%d]", i), "each shortcut needs keys and does"})
		}
	}
	if len(s.Shortcuts) > 0 && !s.WelcomeOn() {
		ps = append(ps, [2]string{"session.shortcuts", "shortcuts are shown on the welcome page: set session.welcome: true"})
	}
	return ps
}

// Disk is the layout of an A/B disk image (output disk-image).
type Disk struct {
	// SlotSize is each root slot's size in MiB or GiB ("48M", "1G"); unset: 48M.
	SlotSize string `yaml:"slot_size"`
	// Tries is how often the boot loader boots an update on trial before it goes back to the
	// committed slot (1-9); unset: 3.
	Tries *int `yaml:"tries"`
}

var slotSizeRE = regexp.MustCompile(`^([1-9][0-9]{0,5})([MG])$`)

// SlotSizeBytes is SlotSize in bytes, or output.DefaultSlotSize when unset; 0 when malformed.
func (d Disk) SlotSizeBytes() int64 {
	if d.SlotSize == "" {
		return output.DefaultSlotSize
	}
	m := slotSizeRE.FindStringSubmatch(d.SlotSize)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	if m[2] == "G" {
		return n << 30
	}
	return n << 20
}

// TriesOr is Tries, or output.DefaultTries when unset.
func (d Disk) TriesOr() int {
	if d.Tries == nil {
		return output.DefaultTries
	}
	return *d.Tries
}

// Check returns what is wrong with the disk settings, as (field, message) pairs; hasDisk says
// whether the edition writes a disk image.
func (d Disk) Check(hasDisk bool) [][2]string {
	var ps [][2]string
	if !hasDisk && (d.SlotSize != "" || d.Tries != nil) {
		ps = append(ps, [2]string{"disk", "only an edition with the disk-image output has a disk layout"})
	}
	if d.SlotSize != "" && d.SlotSizeBytes() == 0 {
		ps = append(ps, [2]string{"disk.slot_size", fmt.Sprintf("%q: a size in MiB or GiB, e.g. 48M or 1G", d.SlotSize)})
	}
	if d.Tries != nil && (*d.Tries < 1 || *d.Tries > output.MaxTries) {
		ps = append(ps, [2]string{"disk.tries", fmt.Sprintf("%d: want 1 to %d (GRUB counts the tries with single digits)", *d.Tries, output.MaxTries)})
	}
	return ps
}

// Initramfs says how the initramfs is written.
type Initramfs struct {
	Compression string `yaml:"compression"` // zstd, gzip, xz, none
}

// Placements of the root file system (Root.Placement).
const (
	// PlacementInitramfs: the whole root is in the initramfs, unpacked into RAM (the server).
	PlacementInitramfs = "initramfs"
	// PlacementImage: the root is a stack of SquashFS layers on the medium under a tmpfs; a small
	// early initramfs finds the medium by the build's id and mounts them.
	PlacementImage = "image"
)

// Root says where the root file system lives.
type Root struct {
	Placement string `yaml:"placement"` // initramfs (default) or image
	// Tmpfs is the size of the tmpfs over the layers (placement image), as tmpfs's size= takes
	// it ("50%", "512m"); empty: the init's default.
	Tmpfs string `yaml:"tmpfs"`
	// Verity puts a dm-verity hash tree after each layer (placement image) and its root hash in
	// the initramfs's live.conf; the init mounts the layers only through it. Unset: off.
	Verity *bool `yaml:"verity"`
	// OnCorruption is what reading a corrupted block does with verity: eio (the default: the
	// read fails and the kernel log names the block), restart or panic.
	OnCorruption string `yaml:"on_corruption"`
}

// VerityOn says whether the layers get verity.
func (r Root) VerityOn() bool { return r.Verity != nil && *r.Verity }

// PlacementOr is the placement, initramfs when unset.
func (r Root) PlacementOr() string {
	if r.Placement == "" {
		return PlacementInitramfs
	}
	return r.Placement
}

// Removals are list entries an edition takes away from its parents.
type Removals struct {
	Recipes  []string `yaml:"recipes"`
	Overlays []string `yaml:"overlays"`
	Modules  []string `yaml:"modules"`
	Config   []string `yaml:"config"`
	Cmdline  []string `yaml:"cmdline"`
	Outputs  []string `yaml:"outputs"`
}

// LevelOr returns the boot level, or def when unset.
func (b Boot) LevelOr(def float64) float64 {
	if b.Level == nil {
		return def
	}
	return *b.Level
}

// TimeoutOr returns the menu timeout, or def when unset.
func (b Boot) TimeoutOr(def int) int {
	if b.Timeout == nil {
		return def
	}
	return *b.Timeout
}

// Merge returns child laid over parent. The rules, tested in TestMerge:
//   - scalars (name, description, version, arch, kernel.recipe, boot.hostname, boot.level,
//     boot.timeout, boot.serial, initramfs.compression, root.placement, root.tmpfs, root.verity,
//     root.on_corruption, disk.slot_size, disk.tries, assistant.endpoint,
//     assistant.model, assistant.api_key_file): the child's value when set, else the parent's;
//   - lists (recipes, overlays, outputs, kernel.config, kernel.modules, boot.cmdline): the parent's
//     entries then the child's, each once, in first-seen order; then the child's `remove:` entries are
//     taken out;
//   - users: the parent's, a child's user of the same name replacing the parent's, then the child's;
//   - firewall: enabled as a scalar, allow_tcp and allow_udp as lists (without remove:);
//   - session: welcome and autologin as scalars; shortcuts the child's list when it has one, else the parent's;
//   - abstract and remove are never inherited; extends is the child's.
func Merge(parent, child Edition) Edition {
	out := child
	out.Description = pick(child.Description, parent.Description)
	out.Version = pick(child.Version, parent.Version)
	out.Arch = pick(child.Arch, parent.Arch)
	out.Kernel.Recipe = pick(child.Kernel.Recipe, parent.Kernel.Recipe)
	out.Boot.Hostname = pick(child.Boot.Hostname, parent.Boot.Hostname)
	out.Boot.Serial = pick(child.Boot.Serial, parent.Boot.Serial)
	out.Initramfs.Compression = pick(child.Initramfs.Compression, parent.Initramfs.Compression)
	out.Root.Placement = pick(child.Root.Placement, parent.Root.Placement)
	out.Root.Tmpfs = pick(child.Root.Tmpfs, parent.Root.Tmpfs)
	out.Root.OnCorruption = pick(child.Root.OnCorruption, parent.Root.OnCorruption)
	if out.Root.Verity == nil {
		out.Root.Verity = parent.Root.Verity
	}
	out.Disk.SlotSize = pick(child.Disk.SlotSize, parent.Disk.SlotSize)
	if out.Session.Welcome == nil {
		out.Session.Welcome = parent.Session.Welcome
	}
	if out.Session.Autologin == nil {
		out.Session.Autologin = parent.Session.Autologin
	}
	if out.Session.Shortcuts == nil {
		out.Session.Shortcuts = parent.Session.Shortcuts
	}
	if out.Disk.Tries == nil {
		out.Disk.Tries = parent.Disk.Tries
	}
	out.Assistant.Endpoint = pick(child.Assistant.Endpoint, parent.Assistant.Endpoint)
	out.Assistant.Model = pick(child.Assistant.Model, parent.Assistant.Model)
	out.Assistant.APIKeyFile = pick(child.Assistant.APIKeyFile, parent.Assistant.APIKeyFile)
	if out.Boot.Level == nil {
		out.Boot.Level = parent.Boot.Level
	}
	if out.Boot.Timeout == nil {
		out.Boot.Timeout = parent.Boot.Timeout
	}
	if out.Debian.DropDocs == nil {
		out.Debian.DropDocs = parent.Debian.DropDocs
	}
	if out.Debian.KeepMan == nil {
		out.Debian.KeepMan = parent.Debian.KeepMan
	}
	out.Users = mergeUsers(parent.Users, child.Users)
	out.Firewall = mergeFirewall(parent.Firewall, child.Firewall)
	r := child.Remove
	out.Recipes = union(parent.Recipes, child.Recipes, r.Recipes)
	out.Overlays = union(parent.Overlays, child.Overlays, r.Overlays)
	out.Outputs = union(parent.Outputs, child.Outputs, r.Outputs)
	out.Kernel.Config = union(parent.Kernel.Config, child.Kernel.Config, r.Config)
	out.Kernel.Modules = union(parent.Kernel.Modules, child.Kernel.Modules, r.Modules)
	out.Boot.Cmdline = union(parent.Boot.Cmdline, child.Boot.Cmdline, r.Cmdline)
	out.Remove = Removals{}
	return out
}

// mergeUsers keeps the parent's users in order, a child's user of the same name replacing the
// parent's, then the child's new users.
func mergeUsers(parent, child []User) []User {
	byName := map[string]int{}
	var out []User
	for _, u := range parent {
		byName[u.Name] = len(out)
		out = append(out, u)
	}
	for _, u := range child {
		if i, ok := byName[u.Name]; ok {
			out[i] = u
			continue
		}
		byName[u.Name] = len(out)
		out = append(out, u)
	}
	return out
}

func pick(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func union(parent, child, remove []string) []string {
	drop := map[string]bool{}
	for _, s := range remove {
		drop[s] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, list := range [][]string{parent, child} {
		for _, s := range list {
			if seen[s] || drop[s] {
				continue
			}
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
