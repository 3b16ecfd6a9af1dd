// Package update is genai-update, the device side of A/B updates: it installs a signed bundle
// (internal/bundle) into the slot the system did not boot from, verifying each chunk before it
// is written, and marks that slot for a trial boot (internal/ab); status shows both slots.
//
//	genai-update install SRC [--allow-downgrade] [--reboot]   SRC: a file, - (stdin), an http(s) URL
//	genai-update status [--json]
//
// The lines tests and operators match (docs: the README's "Updating an embedded device"):
//
//	genai-update: progress=<n>%                                   every 10 %
//	genai-update: installed slot=<B> version=<v>: reboot to try it
//	genai-update: refused: <why>                                  exit status 1
package update

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/genai-os/genai-build/initramfs/bootconf"
	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/internal/ab"
)

// Tries is how many boots a trial gets before the boot loader goes back to the committed slot
// when the running system's boot.conf does not say (update.tries, from the edition's disk.tries).
const Tries = ab.DefaultTries

// tries is the running system's update.tries (/etc/consciousness/boot.conf): the count the boot
// loader's ladder and the init's "did GRUB count?" check use too.
func (s System) tries() int {
	f, err := os.Open(filepath.Join(s.Root, "etc/consciousness/boot.conf"))
	if err != nil {
		return Tries
	}
	defer f.Close()
	c, _, err := bootconf.Parse("boot.conf", f)
	if err != nil || c.UpdateTries == 0 {
		return Tries
	}
	return c.UpdateTries
}

// System is where the tool finds the device: the defaults are the running system's paths; tests
// point them at files.
type System struct {
	Root     string // the running root: etc/os-release, etc/genai/update-keys
	Cmdline  string // /proc/cmdline
	Mounts   string // /proc/self/mounts: which partition the booted slot's medium is
	SysBlock string // /sys/class/block
	DevDir   string // /dev
	DataDir  string // the data partition's mount, /data
	Now      func() time.Time
	// Reboot asks the init to reboot (nil: through its control socket).
	Reboot func(ctx context.Context) error
	Client *http.Client
	// Stall is how long a download may send nothing (0: DefaultStall).
	Stall time.Duration
}

// Default is the running system.
func Default() System {
	return System{Root: "/", Cmdline: "/proc/cmdline", Mounts: "/proc/self/mounts", SysBlock: "/sys/class/block", DevDir: "/dev", DataDir: "/data",
		Now: time.Now, Client: http.DefaultClient, Reboot: func(ctx context.Context) error {
			_, err := ctl.Call(ctx, ctl.DefaultSocket, ctl.Request{Verb: "reboot"}, nil)
			return err
		}}
}

const usage = `usage:
  genai-update install SRC [--allow-downgrade] [--reboot]
      SRC: a bundle file, - for standard input, or an http(s) URL (streamed: no copy is kept)
  genai-update status [--json]
`

// Main runs genai-update with its arguments (after the tool's name) and returns the exit status.
func Main(ctx context.Context, sys System, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("genai-update "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	switch args[0] {
	case "install":
		allow := fs.Bool("allow-downgrade", false, "")
		reboot := fs.Bool("reboot", false, "")
		if err := parse(fs, args[1:]); err != nil || fs.NArg() != 1 {
			fmt.Fprintf(stderr, "genai-update install: want one SRC and the flags --allow-downgrade, --reboot\n%s", usage)
			return 2
		}
		res, err := sys.Install(ctx, fs.Arg(0), stdin, *allow, func(pct int) { fmt.Fprintf(stdout, "genai-update: progress=%d%%\n", pct) })
		if err != nil {
			fmt.Fprintf(stderr, "genai-update: refused: %s\n", oneLine(err))
			return 1
		}
		fmt.Fprintf(stdout, "genai-update: installed slot=%s version=%s: reboot to try it\n", res.Slot, res.Version)
		if *reboot {
			if err := sys.Reboot(ctx); err != nil {
				fmt.Fprintf(stderr, "genai-update: reboot: %v (the update waits for the next boot)\n", err)
				return 1
			}
		}
		return 0
	case "status":
		asJSON := fs.Bool("json", false, "")
		if err := parse(fs, args[1:]); err != nil || fs.NArg() != 0 {
			fmt.Fprintf(stderr, "genai-update status: takes only --json\n%s", usage)
			return 2
		}
		st, err := sys.Status()
		if err != nil {
			fmt.Fprintf(stderr, "genai-update: status: %v\n", err)
			return 1
		}
		if *asJSON {
			err = st.WriteJSON(stdout)
		} else {
			err = st.WriteText(stdout)
		}
		if err != nil {
			return 1
		}
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "genai-update: no verb %q\n%s", args[0], usage)
	return 2
}

// parse parses flags placed before or after the arguments.
func parse(fs *flag.FlagSet, args []string) error {
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// booted is the slot the kernel command line names (genai.slot=, GRUB adds it).
func (s System) booted() (ab.Slot, error) {
	b, err := os.ReadFile(s.Cmdline)
	if err != nil {
		return "", err
	}
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, "genai.slot="); ok {
			return ab.ParseSlot(v)
		}
	}
	return "", errors.New("no genai.slot= on the kernel command line: this system did not boot from an A/B disk")
}

// disk finds the A/B disk the system booted from: the one whose partition of the booted slot
// is mounted (the init mounts the slot's medium from it), else the only disk with a partition of
// that name (a second A/B disk, such as a stick being flashed, makes that ambiguous).
func (s System) disk(booted ab.Slot) (ab.Disk, error) {
	if b, err := os.ReadFile(s.Mounts); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) < 2 || !strings.HasPrefix(f[0], "/dev/") {
				continue
			}
			name := filepath.Base(f[0])
			if n, err := ab.PartName(s.SysBlock, name); err == nil && n == booted.PartName() {
				return ab.FindDisk(s.SysBlock, s.DevDir, name)
			}
		}
	}
	return ab.FindDiskBySlot(s.SysBlock, s.DevDir, booted)
}

// osRelease reads the running root's os-release(5) (KEY=value, values maybe quoted).
func (s System) osRelease() (map[string]string, error) {
	f, err := os.Open(filepath.Join(s.Root, "etc/os-release"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			m[k] = strings.Trim(v, `"'`)
		}
	}
	return m, sc.Err()
}

// running is the running system's edition and version, from os-release (VARIANT_ID, VERSION_ID).
func (s System) running() (edition, version string, err error) {
	osr, err := s.osRelease()
	if err != nil {
		return "", "", err
	}
	edition, version = osr["VARIANT_ID"], osr["VERSION_ID"]
	if edition == "" || version == "" {
		return "", "", fmt.Errorf("%s names no VARIANT_ID or VERSION_ID", filepath.Join(s.Root, "etc/os-release"))
	}
	return edition, version, nil
}

// arch is the running system's architecture as editions name it (GOARCH: amd64, arm64).
func arch() string { return runtime.GOARCH }
