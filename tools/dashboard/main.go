package dashboard

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

const usage = `Usage: security-dashboard [--json | --html FILE] [-v] [--section NAME,...] [--root DIR]

Reports the running system's security posture: boot (firmware, Secure Boot, lockdown, verity
root), the image's identity (build id, root manifest, medium layers, SBOM), listening sockets and
the unit that owns each, accounts that can log in and how, the SSH server's settings, the
firewall, audit, and services running without hardening. Each check says pass, warn or fail with
the reason. Run it as root to see every process's sockets, /etc/shadow and sshd -T.

Exit status: 0 every check passed, 1 the worst is a warning, 2 something failed, 3 usage error.

Options:
`

const examples = `
Examples:
  security-dashboard                      # the report as text (coloured on a terminal)
  security-dashboard -v --section ssh,sockets
  security-dashboard --json | jq '.findings[] | select(.status != "pass")'
  security-dashboard --html /tmp/posture.html
  security-dashboard --json >/dev/null; [ $? -le 1 ] || echo "fix the failures"
  security-dashboard --root /mnt/image    # a tree at rest: files only, no init, no programs run
`

// Main is the security-dashboard command.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("security-dashboard", flag.ContinueOnError)
	fl.SetOutput(stderr)
	asJSON := fl.Bool("json", false, "write the report as JSON (schema "+SchemaVersion+", see security-dashboard(1))")
	htmlFile := fl.String("html", "", "also write the report as one self-contained HTML page to `FILE`")
	verbose := fl.Bool("v", false, "show each finding's evidence under it")
	sections := fl.String("section", "", "only these sections (comma-separated): "+sectionNames())
	root := fl.String("root", "", "check the tree at `DIR` instead of the running system (files only)")
	noColour := fl.Bool("no-color", false, "no colour, even on a terminal (as NO_COLOR=1)")
	fl.Usage = func() {
		fmt.Fprint(stderr, usage)
		fl.PrintDefaults()
		fmt.Fprint(stderr, examples)
	}
	if err := fl.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fl.SetOutput(stdout)
			fl.Usage = func() { fmt.Fprint(stdout, usage); fl.PrintDefaults(); fmt.Fprint(stdout, examples) }
			fl.Usage()
			return 0
		}
		return 3
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "security-dashboard: unexpected argument %q (see --help)\n", fl.Arg(0))
		return 3
	}
	var only []string
	if *sections != "" {
		for _, n := range strings.Split(*sections, ",") {
			if !strings.Contains(","+sectionNames()+",", ","+n+",") {
				fmt.Fprintf(stderr, "security-dashboard: no section %q; the sections: %s\n", n, sectionNames())
				return 3
			}
			only = append(only, n)
		}
	}
	sys := Live()
	if *root != "" {
		sys = &System{Root: *root, Privileged: os.Geteuid() == 0}
	}
	r := Collect(sys, only...)
	if *htmlFile != "" {
		if err := writeFile(*htmlFile, r.WriteHTML); err != nil {
			fmt.Fprintf(stderr, "security-dashboard: %v\n", err)
			return 3
		}
	}
	var err error
	if *asJSON {
		err = r.WriteJSON(stdout)
	} else {
		err = r.WriteText(stdout, !*noColour && os.Getenv("NO_COLOR") == "" && isTerminal(stdout), *verbose)
	}
	if err != nil {
		fmt.Fprintf(stderr, "security-dashboard: %v\n", err)
		return 3
	}
	return r.Worst.ExitCode()
}

func sectionNames() string {
	var n []string
	for _, s := range Sections {
		n = append(n, s.Name)
	}
	return strings.Join(n, ",")
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return f.Close()
}
