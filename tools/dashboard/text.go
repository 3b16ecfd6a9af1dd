package dashboard

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// ANSI SGR colours (ECMA-48 8.3.117): green, yellow, red; reset.
var colours = [...]string{"\x1b[32m", "\x1b[33m", "\x1b[31m"}

const reset = "\x1b[0m"

// WriteText writes the report as aligned columns (section, status, check, reason), each
// finding's details indented below with verbose; colour only when asked (on a terminal).
func (r Report) WriteText(w io.Writer, colour, verbose bool) error {
	fmt.Fprintf(w, "security-dashboard: %s", r.Host)
	if r.Build != "" {
		fmt.Fprintf(w, " build %s", r.Build)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, f := range r.Findings {
		st := strings.ToUpper(f.Status.String())
		if colour {
			st = colours[f.Status] + st + reset
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Section, st, f.Check, f.Reason)
		if verbose {
			for _, d := range f.Details {
				fmt.Fprintf(tw, "\t\t\t  %s\n", d)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d pass, %d warn, %d fail: worst %s (exit %d)\n", r.Counts.Pass, r.Counts.Warn, r.Counts.Fail, r.Worst, r.Worst.ExitCode())
	return err
}
