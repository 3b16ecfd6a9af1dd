// Package live finds the medium a live image booted from and makes its root: the early init's
// stage 1 when the root sits on the medium (placement: image).
//
// The builder writes /etc/consciousness/live.conf into the early initramfs (this build's id and
// its layers, lowest first) and, on the medium, /live/build-id, /live/layers and one
// /live/<layer>.squashfs per layer. The init loads the storage modules, scans every block device
// until one holds /live/build-id equal to live.conf's, loop-mounts the layers read-only under a
// tmpfs upper directory with overlayfs, and switches into that root (SwitchRoot).
//
// With verity (the edition's root.verity), live.conf also carries each layer's dm-verity
// parameters (verity.<layer>=<root-hash> <salt> <data-blocks> <hash-start-block>) and what a
// corrupted block does (verity-on-corruption=eio|restart|panic). Each layer file then holds its
// hash tree after its data, and the init mounts it through a verity device only: the parameters
// come from the initramfs (inside the signed image), never from the medium or the command line.
//
// The medium is found by the build's identity, never by a device name: a hard-coded /dev/sr0 is
// what LinuxKit's issue #2375 is about, and a stale stick of another build must not boot.
package live

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/genai-os/genai-build/initramfs/dm"
	"github.com/genai-os/genai-build/initramfs/linescan"
)

// ConfPath is where the builder writes live.conf in the early initramfs (no leading slash).
const ConfPath = "etc/consciousness/live.conf"

// On the medium (paths relative to its root).
const (
	BuildIDPath = "live/build-id"
	LayersPath  = "live/layers"
	LayerDir    = "live"
	LayerSuffix = ".squashfs"
)

// Conf is live.conf: what the early initramfs knows of the medium it needs.
type Conf struct {
	BuildID string   // lower-case hex SHA-256 (64 characters)
	Layers  []string // layer names, lowest first
	Unknown []string // keys this init does not know (ignored; the caller may warn)
	// Verity holds every layer's verity parameters, or is nil: the layers are not verified.
	Verity map[string]dm.VerityParams
	// OnCorruption is what a corrupted block does (dm.CorruptionModes; eio when live.conf has
	// verity lines and does not say); "" without verity.
	OnCorruption string
}

// Verity keys of live.conf.
const (
	verityPrefix    = "verity."
	onCorruptionKey = "verity-on-corruption"
)

// Format writes c as live.conf (what ParseConf reads back).
func (c Conf) Format() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "build-id=%s\nlayers=%s\n", c.BuildID, strings.Join(c.Layers, ","))
	if c.Verity != nil {
		for _, l := range c.Layers {
			if p, ok := c.Verity[l]; ok {
				fmt.Fprintf(&b, "%s%s=%s\n", verityPrefix, l, p)
			}
		}
		fmt.Fprintf(&b, "%s=%s\n", onCorruptionKey, c.OnCorruption)
	}
	return []byte(b.String())
}

// Short is the build id's first 8 characters, as console lines show it.
func Short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// ParseConf reads live.conf: key=value lines, blank lines and '#' comments skipped. build-id and
// layers are required; every problem is reported (joined, each with name:line).
func ParseConf(name string, r io.Reader) (Conf, error) {
	var c Conf
	seen := map[string]int{}
	errs := linescan.Each(name, r, func(n int, l string) error {
		k, v, ok := strings.Cut(l, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return fmt.Errorf("want key=value, got %q", l)
		}
		if prev, dup := seen[k]; dup {
			return fmt.Errorf("%s already set on line %d", k, prev)
		}
		seen[k] = n
		switch {
		case k == "build-id":
			if err := checkID(v); err != nil {
				return fmt.Errorf("build-id: %w", err)
			}
			c.BuildID = v
		case k == "layers":
			ls, err := parseLayerNames(v)
			if err != nil {
				return fmt.Errorf("layers: %w", err)
			}
			c.Layers = ls
		case k == onCorruptionKey:
			if !slices.Contains(dm.CorruptionModes, v) {
				return fmt.Errorf("%s: %q: want one of %s", k, v, strings.Join(dm.CorruptionModes, ", "))
			}
			c.OnCorruption = v
		case strings.HasPrefix(k, verityPrefix):
			layer := strings.TrimPrefix(k, verityPrefix)
			if err := validName(layer); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			p, err := dm.ParseVerityParams(v)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			if c.Verity == nil {
				c.Verity = map[string]dm.VerityParams{}
			}
			c.Verity[layer] = p
		default:
			c.Unknown = append(c.Unknown, k)
		}
		return nil
	})
	if _, ok := seen["build-id"]; !ok {
		errs = append(errs, fmt.Errorf("%s: no build-id", name))
	}
	if _, ok := seen["layers"]; !ok {
		errs = append(errs, fmt.Errorf("%s: no layers", name))
	}
	errs = append(errs, c.checkVerity(name)...)
	return c, errors.Join(errs...)
}

// checkVerity: with any verity line, every layer has one and every line names a layer. A layer
// without its line is refused, never mounted unverified.
func (c *Conf) checkVerity(name string) []error {
	if c.Verity == nil && c.OnCorruption == "" {
		return nil
	}
	if c.OnCorruption == "" {
		c.OnCorruption = dm.CorruptionModes[0]
	}
	var errs []error
	for _, l := range c.Layers {
		if _, ok := c.Verity[l]; !ok {
			errs = append(errs, fmt.Errorf("%s: layer %s has no %s%s line: with verity every layer is verified, none is mounted without", name, l, verityPrefix, l))
		}
	}
	for _, l := range slices.Sorted(maps.Keys(c.Verity)) {
		if c.Layers != nil && !slices.Contains(c.Layers, l) {
			errs = append(errs, fmt.Errorf("%s: %s%s: no such layer in layers", name, verityPrefix, l))
		}
	}
	return errs
}

// checkID accepts a lower-case hex SHA-256.
func checkID(s string) error {
	if len(s) != 64 {
		return fmt.Errorf("%q: want 64 lower-case hex digits (SHA-256), got %d characters", s, len(s))
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return fmt.Errorf("%q: want lower-case hex digits only", s)
		}
	}
	return nil
}

// validName is a layer name: it becomes a file name on the medium and a mount point.
func validName(s string) error {
	if s == "" {
		return errors.New("empty layer name")
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("layer name %q: want a-z, 0-9, - and _ only", s)
		}
	}
	return nil
}

func parseLayerNames(v string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if err := validName(s); err != nil {
			return nil, err
		}
		if seen[s] {
			return nil, fmt.Errorf("layer %q listed twice", s)
		}
		seen[s] = true
		out = append(out, s)
	}
	return out, nil
}

// Layer is one line of /live/layers on the medium.
type Layer struct {
	Name   string
	Size   int64
	SHA256 string
}

// ParseLayers reads /live/layers: "<name> <size-in-bytes> <sha256>" per layer, lowest first.
func ParseLayers(name string, r io.Reader) ([]Layer, error) {
	var out []Layer
	seen := map[string]bool{}
	errs := linescan.Each(name, r, func(_ int, l string) error {
		f := strings.Fields(l)
		if len(f) != 3 {
			return fmt.Errorf("want \"<name> <size> <sha256>\", got %q", l)
		}
		if err := validName(f[0]); err != nil {
			return err
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("size %q: want a byte count", f[1])
		}
		if err := checkID(f[2]); err != nil {
			return fmt.Errorf("sha256: %w", err)
		}
		if seen[f[0]] {
			return fmt.Errorf("layer %q listed twice", f[0])
		}
		seen[f[0]] = true
		out = append(out, Layer{Name: f[0], Size: size, SHA256: f[2]})
		return nil
	})
	return out, errors.Join(errs...)
}

// Judge decides whether a medium holds this build: buildID is the content of its /live/build-id
// (nil: there is none), layers its /live/layers, and size the size of one of its layer files
// (an error when it cannot be read). It returns nil for this build's medium, else why not, as
// the failed line shows it; an *OtherBuildError for another build's.
func Judge(c Conf, buildID []byte, layers []Layer, size func(name string) (int64, error)) error {
	if buildID == nil {
		return errors.New("no /" + BuildIDPath)
	}
	id := strings.TrimSpace(string(buildID))
	if id != c.BuildID {
		return &OtherBuildError{ID: id}
	}
	byName := map[string]Layer{}
	for _, l := range layers {
		byName[l.Name] = l
	}
	for _, name := range c.Layers {
		l, ok := byName[name]
		if !ok {
			return fmt.Errorf("layer %s not in /%s", name, LayersPath)
		}
		got, err := size(name)
		if err != nil {
			return fmt.Errorf("layer %s: %w", name, err)
		}
		if got != l.Size {
			return fmt.Errorf("layer %s: %d bytes, /%s says %d", name, got, LayersPath, l.Size)
		}
	}
	return nil
}

// OtherBuildError is a medium that holds another build: it is refused (a stale stick, an older
// CD in the drive), and the scan goes on.
type OtherBuildError struct{ ID string }

func (e *OtherBuildError) Error() string {
	return fmt.Sprintf("another build (%s)", Short(e.ID))
}
