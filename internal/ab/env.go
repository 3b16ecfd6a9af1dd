// Package ab is the A/B boot state of a disk image with two root slots: GRUB's environment block
// (grubenv) on the EFI system partition, which the boot loader and Linux both read and write, the
// disk's partitions by GPT name, and the update record on the data partition.
//
// The environment is kept twice, EFI/debian/grubenv and EFI/debian/grubenv2, with the same
// content. Every writer (GRUB's save_env and Store.Write) writes grubenv first and grubenv2 second;
// a reader takes grubenv when it is valid and grubenv2 otherwise, so a write torn by a power cut
// leaves either the new state (in grubenv) or the old one (in grubenv2). GRUB's save_env rewrites
// an existing file's blocks in place (grub-core/commands/loadenv.c) and never repairs a corrupt
// block, so Linux does: Store.Read rewrites the copy that is bad.
//
// Variables (all five in every block):
//
//	genai_env=1         format of the block
//	genai_active=A|B    the committed slot
//	genai_trial=none|A|B the slot on trial (GRUB boots it while genai_left > 0)
//	genai_left=N        the trial's tries left; GRUB decrements it before each trial boot
//	genai_spare_ok=0|1  the slot that is not active holds a complete, verified system
package ab

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Slot names one of the two root slots.
type Slot string

const (
	A Slot = "A"
	B Slot = "B"
)

// Other is the slot that is not s.
func (s Slot) Other() Slot {
	if s == A {
		return B
	}
	return A
}

// PartName is the slot's GPT partition name.
func (s Slot) PartName() string { return "genai-" + strings.ToLower(string(s)) }

// Valid says whether s is A or B.
func (s Slot) Valid() bool { return s == A || s == B }

// ParseSlot reads "A" or "B" (either case).
func ParseSlot(v string) (Slot, error) {
	s := Slot(strings.ToUpper(v))
	if !s.Valid() {
		return "", fmt.Errorf("slot %q: want A or B", v)
	}
	return s, nil
}

// GPT partition names of the rest of the disk.
const (
	ESPName  = "genai-esp"
	DataName = "genai-data"
)

// Paths of the two copies of the environment block on the ESP.
const (
	EnvPath  = "EFI/debian/grubenv"
	EnvPath2 = "EFI/debian/grubenv2"
)

// DefaultTries is how many boots a trial gets before GRUB goes back to the committed slot, when
// the edition sets no disk.tries (and the running system's boot.conf no update.tries). The one
// default the image's GRUB ladder, genai-update and the init's "did GRUB count?" check share.
const DefaultTries = 3

// EnvSize is the size of a GRUB environment block (GRUB_ENVBLK_DEFCFG, include/grub/lib/envblk.h).
const EnvSize = 1024

// envHeader is GRUB_ENVBLK_SIGNATURE.
const envHeader = "# GRUB Environment Block\n"

// Version is the value of genai_env this package writes and reads.
const Version = 1

// Env is the boot state.
type Env struct {
	Active  Slot // committed slot
	Trial   Slot // slot on trial; "" when none
	Left    int  // tries left for the trial
	SpareOK bool // the other slot than Active holds a complete, verified system
}

// Factory is the state of a freshly written image: slot A, committed, nothing in B.
var Factory = Env{Active: A}

// TrialName is Trial as the block writes it.
func (e Env) TrialName() string {
	if e.Trial == "" {
		return "none"
	}
	return string(e.Trial)
}

// Validate checks the fields' ranges.
func (e Env) Validate() error {
	if !e.Active.Valid() {
		return fmt.Errorf("active slot %q: want A or B", e.Active)
	}
	if e.Trial != "" && !e.Trial.Valid() {
		return fmt.Errorf("trial slot %q: want A, B or none", e.Trial)
	}
	if e.Left < 0 || e.Left > 9 {
		return fmt.Errorf("tries left %d: want 0 to 9 (the boot loader counts with a ladder of single digits)", e.Left)
	}
	return nil
}

// Format writes e as one 1024-byte GRUB environment block. The variables sit in the first
// sector, so a write cut at a sector boundary leaves the old or the new state of them.
func (e Env) Format() []byte {
	if err := e.Validate(); err != nil {
		panic("ab: Format of an invalid Env: " + err.Error())
	}
	spare := 0
	if e.SpareOK {
		spare = 1
	}
	var b bytes.Buffer
	b.WriteString(envHeader)
	fmt.Fprintf(&b, "genai_env=%d\ngenai_active=%s\ngenai_trial=%s\ngenai_left=%d\ngenai_spare_ok=%d\n",
		Version, e.Active, e.TrialName(), e.Left, spare)
	for b.Len() < EnvSize {
		b.WriteByte('#')
	}
	return b.Bytes()
}

// ErrBadEnv is a block that is not a valid environment of this format.
var ErrBadEnv = errors.New("invalid boot state block")

// ParseEnv reads a block written by Format or by GRUB's save_env (which keeps the variables it
// does not set, and may reorder them). Unknown variables are ignored.
func ParseEnv(b []byte) (Env, error) {
	bad := func(format string, a ...any) (Env, error) {
		return Env{}, fmt.Errorf("%w: %s", ErrBadEnv, fmt.Sprintf(format, a...))
	}
	if len(b) != EnvSize {
		return bad("%d bytes, want %d", len(b), EnvSize)
	}
	if !bytes.HasPrefix(b, []byte(envHeader)) {
		return bad("no GRUB environment block header")
	}
	vars := map[string]string{}
	rest := b[len(envHeader):]
	for len(rest) > 0 && rest[0] != '#' {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return bad("unterminated line")
		}
		line := string(rest[:i])
		rest = rest[i+1:]
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return bad("line %q is not name=value", line)
		}
		if strings.ContainsRune(v, '\\') {
			// GRUB escapes '\' and newline with '\' (grub-core/lib/envblk.c); none of ours needs it
			v = unescape(v)
		}
		vars[k] = v
	}
	for _, c := range rest {
		if c != '#' {
			return bad("padding holds %q", c)
		}
	}
	if vars["genai_env"] != strconv.Itoa(Version) {
		return bad("genai_env=%q, want %d", vars["genai_env"], Version)
	}
	var e Env
	var err error
	if e.Active, err = ParseSlot(vars["genai_active"]); err != nil {
		return bad("genai_active: %v", err)
	}
	switch t := vars["genai_trial"]; t {
	case "none":
	default:
		if e.Trial, err = ParseSlot(t); err != nil {
			return bad("genai_trial: %v", err)
		}
	}
	left := vars["genai_left"]
	if len(left) != 1 || left[0] < '0' || left[0] > '9' {
		return bad("genai_left=%q, want one digit", left)
	}
	e.Left = int(left[0] - '0')
	switch vars["genai_spare_ok"] {
	case "0":
	case "1":
		e.SpareOK = true
	default:
		return bad("genai_spare_ok=%q, want 0 or 1", vars["genai_spare_ok"])
	}
	return e, nil
}

func unescape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// String is the state as the console lines show it.
func (e Env) String() string {
	spare := 0
	if e.SpareOK {
		spare = 1
	}
	return fmt.Sprintf("active=%s trial=%s left=%d spare_ok=%d", e.Active, e.TrialName(), e.Left, spare)
}
