package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/genai-os/genai-build/initramfs/bootconf"
)

// signedCmdlinePath holds, in the early initramfs of a signed unified kernel image, the command
// line signed into the image (internal/build writes it). Under Secure Boot systemd-stub ignores a
// command line passed by the firmware or a boot manager, but still appends SMBIOS
// io.systemd.stub.kernel-cmdline-extra (systemd src/boot/stub.c), and the kernel has acted on
// those words before the init runs: a boot whose command line is not exactly the signed one is
// refused.
const signedCmdlinePath = "etc/consciousness/cmdline.signed"

// cmdlineVerdict compares the kernel's command line with the signed one: "" when they are the same
// (or the image signs none), else what differs.
func cmdlineVerdict(signed, got string) string {
	want, have := strings.Fields(signed), strings.Fields(got)
	if strings.Join(want, " ") == strings.Join(have, " ") {
		return ""
	}
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	var extra, missing []string
	for _, w := range have {
		if count[w] > 0 {
			count[w]--
			continue
		}
		extra = append(extra, w)
	}
	for _, w := range want {
		if count[w] > 0 {
			count[w]--
			missing = append(missing, w)
		}
	}
	switch {
	case len(extra) > 0 && len(missing) > 0:
		return fmt.Sprintf("added %q, missing %q", strings.Join(extra, " "), strings.Join(missing, " "))
	case len(extra) > 0:
		return fmt.Sprintf("added %q", strings.Join(extra, " "))
	case len(missing) > 0:
		return fmt.Sprintf("missing %q", strings.Join(missing, " "))
	}
	return "the words are in another order"
}

// checkSignedCmdline refuses a boot whose command line is not the signed one: it says so on every
// console and halts, honouring nothing the command line asked for (init.debug's rescue shell).
func (in *initProc) checkSignedCmdline() bool {
	signed, err := os.ReadFile(in.path(signedCmdlinePath))
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	detail := ""
	if err != nil {
		detail = "the signed command line is unreadable: " + err.Error()
	} else if got, err := os.ReadFile(in.path(cmdlinePath)); err != nil {
		detail = "/proc/cmdline is unreadable: " + err.Error()
	} else if d := cmdlineVerdict(string(signed), string(got)); d != "" {
		detail = "the kernel command line is not the one signed into the boot image: " + d
	}
	if detail == "" {
		in.log.Info("kernel command line is the signed one")
		return true
	}
	in.everyConsole(fmt.Sprintf("genai-os: failed reason=cmdline edition=%s detail=%q", in.conf.Edition, detail))
	in.cmdline = bootconf.Cmdline{}
	in.afterFailure()
	return false
}
