package release

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/qemu"
)

// BootRow is one boot an edition's image promises: an output format started by a firmware from a
// medium (or directly, Media ""). Its Name is the subtest of test/boot's TestBootMatrix that boots
// the same: <edition>-<output>-<firmware>-<media>, or <edition>-<output>-direct.
type BootRow struct {
	Edition, Output string
	Firmware        qemu.Firmware
	Media           qemu.Media
}

// MatrixTest is the boot test whose subtests are the rows; DiskTest the one of the disk-image
// rows (test/boot's TestEmbeddedBoot, which also checks the boot loader's A/B line).
const (
	MatrixTest = "TestBootMatrix"
	DiskTest   = "TestEmbeddedBoot"
)

func (r BootRow) Name() string {
	if r.Media == "" {
		return fmt.Sprintf("%s-%s-direct", r.Edition, r.Output)
	}
	return fmt.Sprintf("%s-%s-%s-%s", r.Edition, r.Output, r.Firmware, r.Media)
}

// TestName is the row's full go test name.
func (r BootRow) TestName() string {
	if r.Output == "disk-image" {
		return DiskTest + "/" + r.Name()
	}
	return MatrixTest + "/" + r.Name()
}

// BootRows are the boots an edition's outputs promise: a hybrid ISO on every firmware (BIOS,
// UEFI, UEFI with Secure Boot) from a CD and a USB stick; a kernel and initramfs booted directly.
// An output format this list does not know is an error: a release must not ship an image nothing
// has booted.
func BootRows(edition string, outputs []string) ([]BootRow, error) {
	var rows []BootRow
	for _, o := range outputs {
		switch o {
		case "iso":
			for _, fw := range qemu.Firmwares {
				for _, m := range qemu.ISOMedias {
					rows = append(rows, BootRow{edition, o, fw, m})
				}
			}
		case "kernel-initrd":
			rows = append(rows, BootRow{edition, o, qemu.BIOS, ""})
		case "disk-image":
			// UEFI only (the ESP's shim and GRUB): each bus once, Secure Boot on half of them
			for _, b := range []struct {
				fw qemu.Firmware
				m  qemu.Media
			}{{qemu.SecureBoot, qemu.Virtio}, {qemu.UEFI, qemu.NVMe}, {qemu.SecureBoot, qemu.SATA}, {qemu.UEFI, qemu.USB}} {
				rows = append(rows, BootRow{edition, o, b.fw, b.m})
			}
		default:
			return nil, fmt.Errorf("edition %s: output %q has no boot check; release it with --no-boot or add its boots to release.BootRows and test/boot", edition, o)
		}
	}
	return rows, nil
}

// Config is the virtual machine that boots the row from a build's images.
func (r BootRow) Config(res *build.Result) (qemu.Config, error) {
	cfg := qemu.Config{Firmware: r.Firmware, Media: r.Media, CPUs: 1}
	for _, im := range res.Images {
		if im.Output != r.Output {
			continue
		}
		switch im.Format {
		case "iso", "disk-image":
			cfg.Image = im.Path
		case "vmlinuz":
			cfg.Kernel = im.Path
		case "initrd":
			cfg.Initrd = im.Path
		}
	}
	if r.Media == "" {
		if cfg.Kernel == "" || cfg.Initrd == "" {
			return cfg, fmt.Errorf("%s: the build wrote no kernel and initramfs for output %s", r.Name(), r.Output)
		}
		if res.ManifestData != nil {
			cfg.Append = strings.Join(res.ManifestData.Cmdline, " ")
		}
		return cfg, nil
	}
	if cfg.Image == "" {
		return cfg, fmt.Errorf("%s: the build wrote no image for output %s", r.Name(), r.Output)
	}
	return cfg, nil
}

// BootTimeout is how long one boot may take to reach the ready line: the boot tests' limit
// (TCG on a busy 2-core machine).
const BootTimeout = 4 * time.Minute

// Boot boots the row and returns the ready line; a boot that prints the init's failed line, a
// kernel panic, or nothing within BootTimeout is an error carrying the console's tail.
func (r BootRow) Boot(ctx context.Context, res *build.Result) (*qemu.Result, error) {
	cfg, err := r.Config(res)
	if err != nil {
		return nil, err
	}
	// The ready and failed lines are the init's contract (README: "What the image does at boot").
	w := qemu.Watch{
		Ready:   regexp.MustCompile(`genai-os: ready edition=` + regexp.QuoteMeta(r.Edition) + ` `),
		Fail:    regexp.MustCompile(`genai-os: failed |Kernel panic - not syncing|KVM internal error|emulation failure`),
		Timeout: BootTimeout,
	}
	out, err := qemu.Boot(ctx, cfg, w)
	if err != nil {
		return nil, fmt.Errorf("boot %s: %w", r.Name(), err)
	}
	return out, nil
}

// TestResults are what a `go test -json` run says of each test, by full name.
type TestResults map[string]TestResult

// TestResult is a test's outcome ("pass", "fail", "skip": the last one given) and the SHA-256 of
// the image it booted, as TestBootMatrix logs it ("image sha256=<hex>").
type TestResult struct {
	Action string
	Image  string
}

// imageLogged is how TestBootMatrix names the image a row booted, in its log line.
var imageLogged = regexp.MustCompile(`image sha256=([0-9a-f]{64})`)

// ParseTestJSON reads `go test -json` output (test2json's events, one JSON object a line). Lines
// that are not JSON events (a build's messages) are ignored; a file with no test event at all is
// an error.
func ParseTestJSON(r io.Reader) (TestResults, error) {
	res := TestResults{}
	events := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		var ev struct{ Action, Test, Output string }
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Action == "" {
			continue
		}
		events++
		if ev.Test == "" {
			continue
		}
		tr := res[ev.Test]
		switch ev.Action {
		case "pass", "fail", "skip":
			tr.Action = ev.Action
		case "output":
			if m := imageLogged.FindStringSubmatch(ev.Output); m != nil {
				tr.Image = m[1]
			}
		}
		res[ev.Test] = tr
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if events == 0 {
		return nil, fmt.Errorf("no go test -json events: give the output of `go test -json ./test/boot/ ...`")
	}
	return res, nil
}

// CheckTested returns the rows' names if every one passed in res; otherwise an error naming
// each row that failed, was skipped or did not run.
func (res TestResults) CheckTested(rows []BootRow) ([]string, error) {
	var passed, problems []string
	for _, r := range rows {
		switch a := res[r.TestName()].Action; a {
		case "pass":
			passed = append(passed, r.Name())
		case "":
			problems = append(problems, r.TestName()+" did not run")
		case "skip":
			problems = append(problems, r.TestName()+" was skipped")
		default:
			problems = append(problems, r.TestName()+" failed")
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("the boot tests do not show every image booting:\n%s\nrun them (go test -json -run '%s/%s-' ./test/boot/) and release with their output, or let the release boot the images (no --tested)",
			strings.Join(problems, "\n"), MatrixTest, rows[0].Edition)
	}
	return passed, nil
}

// CheckImages checks that each row's test booted the very image the release ships: the SHA-256
// its log line names is the build's. Boot tests of other bytes (another SOURCE_DATE_EPOCH,
// another checkout) prove nothing about these.
func (res TestResults) CheckImages(rows []BootRow, build *build.Result) error {
	var problems []string
	for _, r := range rows {
		want, err := r.imageSHA256(build)
		if err != nil {
			return err
		}
		switch got := res[r.TestName()].Image; got {
		case want:
		case "":
			problems = append(problems, fmt.Sprintf("%s does not say which image it booted (no \"image sha256=\" in its log)", r.TestName()))
		default:
			problems = append(problems, fmt.Sprintf("%s booted image sha256=%s, the release's is %s", r.TestName(), got, want))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the boot tests booted other images than the ones released:\n%s\nrun them from the same checkout with the release's SOURCE_DATE_EPOCH (test/boot reads it), or let the release boot the images (no --tested)",
			strings.Join(problems, "\n"))
	}
	return nil
}

// imageSHA256 is the SHA-256 of the file the row boots: the ISO, or the initramfs of a direct
// boot (the kernel is Debian's, the same in every build).
func (r BootRow) imageSHA256(res *build.Result) (string, error) {
	cfg, err := r.Config(res)
	if err != nil {
		return "", err
	}
	p := cfg.Image
	if r.Media == "" {
		p = cfg.Initrd
	}
	for _, im := range res.Images {
		if im.Path == p {
			return im.SHA256, nil
		}
	}
	return "", fmt.Errorf("%s: %s is not among the build's images", r.Name(), p)
}
