package debugger

import (
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/genai-os/genai-build/initramfs/ctl"
	"github.com/genai-os/genai-build/initramfs/svc"
)

const timelineHelp = `usage: consciousness-debugger timeline [--svg FILE]

The boot as a Gantt chart, in ms since the kernel started: the init's phases
(each from the end of the one before), then each unit from its start to ready
(a oneshot: to its exit). Units started after the ready line (restarts, starts
by hand, socket activations) are listed below the chart.

examples:
  consciousness-debugger timeline
  consciousness-debugger timeline --svg /tmp/boot.svg   # a self-contained SVG for a browser
`

// bar is one row of the chart: from Start to End ms; Open says it has not ended (not ready yet).
type bar struct {
	Kind       string // "phase" or "unit"
	Name       string
	Start, End int64
	Open       bool
	Note       string // the unit's state when it is not running
}

// timeline is the boot as rows on one time axis.
type timeline struct {
	Title string
	End   int64 // the axis' end: the ready line, or the last row's end
	Bars  []bar
	Later []bar // units started after End
}

// buildTimeline lays the init's phases and the units' start and ready times on one axis.
func buildTimeline(bi ctl.BootInfo, units []svc.Status) timeline {
	ready := fmt.Sprintf("ready at %d ms", bi.ReadyMs)
	if bi.ReadyMs == 0 {
		ready = "no ready line (yet)"
	}
	t := timeline{Title: fmt.Sprintf("boot of %s at level %s: %d/%d units, %s", bi.Edition, bi.Level, bi.ServicesOK, bi.ServicesTotal, ready)}
	if bi.Edition == "" {
		t.Title = "boot: the init reported no boot information (not started as PID 1?)"
	}
	prev := bi.InitMs
	if bi.ExecMs > 0 {
		t.Bars = append(t.Bars, bar{Kind: "phase", Name: "kernel", Start: 0, End: bi.ExecMs})
		prev = bi.ExecMs
	}
	for _, p := range bi.Phases {
		t.Bars = append(t.Bars, bar{Kind: "phase", Name: p.Name, Start: prev, End: p.Ms})
		prev = p.Ms
	}
	t.End = max(bi.ReadyMs, prev)
	var us []bar
	for _, u := range units {
		if u.StartedMs == 0 {
			continue
		}
		b := bar{Kind: "unit", Name: u.Name, Start: u.StartedMs, End: u.ReadyMs}
		if u.ReadyMs < u.StartedMs {
			b.End, b.Open = u.StartedMs, true
		}
		if u.State != svc.Running && u.State != svc.Exited {
			b.Note = string(u.State)
			if u.Result != "" {
				b.Note += " (" + u.Result + ")"
			}
		}
		us = append(us, b)
	}
	sort.SliceStable(us, func(i, j int) bool {
		if us[i].Start != us[j].Start {
			return us[i].Start < us[j].Start
		}
		return us[i].Name < us[j].Name
	})
	if bi.ReadyMs == 0 { // not ready (yet): the axis ends with the last unit
		for _, b := range us {
			t.End = max(t.End, b.End)
		}
	}
	for _, b := range us {
		if b.Start > t.End {
			t.Later = append(t.Later, b)
		} else {
			t.Bars = append(t.Bars, b)
		}
	}
	return t
}

// chartWidth is the columns of the time axis in the text chart.
const chartWidth = 50

// writeText draws the chart: one row per bar, "#" where it ran, ">" where it has no end yet.
func (t timeline) writeText(w io.Writer) {
	nameW := len("phase")
	for _, b := range append(append([]bar(nil), t.Bars...), t.Later...) {
		nameW = max(nameW, len(b.Name))
	}
	end := max(t.End, 1)
	col := func(ms int64) int { return int(min(max(ms, 0)*chartWidth/end, chartWidth-1)) }
	fmt.Fprintln(w, t.Title)
	fmt.Fprintf(w, "%-5s %-*s %7s %7s  |0 ms%s%d ms|\n", "", nameW, "", "start", "took", strings.Repeat(" ", max(chartWidth-8-len(fmt.Sprint(end)), 1)), end)
	for _, b := range t.Bars {
		row := []byte(strings.Repeat(" ", chartWidth))
		from, to := col(b.Start), col(b.End)
		for i := from; i <= to; i++ {
			row[i] = '#'
		}
		took := fmt.Sprintf("%d", b.End-b.Start)
		if b.Open {
			row[from], took = '>', "-"
		}
		line := fmt.Sprintf("%-5s %-*s %7d %7s  |%s|", b.Kind, nameW, b.Name, b.Start, took, row)
		if b.Note != "" {
			line += " " + b.Note
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	if len(t.Later) > 0 {
		fmt.Fprintln(w, "started after the boot:")
		for _, b := range t.Later {
			took := fmt.Sprintf("%d", b.End-b.Start)
			if b.Open {
				took = "-"
			}
			line := fmt.Sprintf("%-5s %-*s %7d %7s", b.Kind, nameW, b.Name, b.Start, took)
			if b.Note != "" {
				line += "  " + b.Note
			}
			fmt.Fprintln(w, line)
		}
	}
}

// writeSVG draws the chart as a self-contained SVG document (no scripts, no outside fonts).
func (t timeline) writeSVG(w io.Writer) error {
	const rowH, labelW, chartW, top = 20, 260, 640, 50
	end := max(t.End, 1)
	x := func(ms int64) float64 { return labelW + float64(min(ms, end))*chartW/float64(end) }
	height := top + rowH*(len(t.Bars)+1) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="monospace" font-size="12">`+"\n",
		labelW+chartW+80, height, labelW+chartW+80, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14">%s</text>`+"\n", esc(t.Title))
	for i := int64(0); i <= 4; i++ { // five ticks on the axis
		ms := end * i / 4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#dddddd"/>`+"\n", x(ms), top-10, x(ms), height-10)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d ms</text>`+"\n", x(ms), top-14, ms)
	}
	for i, r := range t.Bars {
		y := top + i*rowH
		color := "#4a90d9"
		switch {
		case r.Kind == "phase":
			color = "#888888"
		case r.Note != "":
			color = "#d9534f"
		}
		w := max(x(r.End)-x(r.Start), 2)
		label := r.Name
		if r.Note != "" {
			label += " — " + r.Note
		}
		fmt.Fprintf(&b, `<text x="10" y="%d">%s</text>`+"\n", y+14, esc(r.Kind+" "+r.Name))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`+"\n",
			x(r.Start), y+3, w, rowH-6, color, esc(fmt.Sprintf("%s: %d–%d ms", label, r.Start, r.End)))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#333333">%s</text>`+"\n", x(r.Start)+w+4, y+14, esc(fmt.Sprintf("%d ms", r.End-r.Start)))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func timelineCmd(e *env, args []string) error {
	fs := flag.NewFlagSet("timeline", flag.ContinueOnError)
	svg := fs.String("svg", "", "write the chart as SVG to FILE")
	pos, err := e.parse(fs, timelineHelp, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: no arguments expected, got %q", errUsage, pos)
	}
	r, err := e.call(ctl.Request{Verb: "boot"})
	if err != nil {
		return err
	}
	var bi ctl.BootInfo
	if r.Boot != nil {
		bi = *r.Boot
	}
	t := buildTimeline(bi, r.Services)
	if *svg != "" {
		f, err := os.Create(*svg)
		if err != nil {
			return err
		}
		if err := t.writeSVG(f); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", *svg, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("%s: %w", *svg, err)
		}
	}
	t.writeText(e.stdout)
	return nil
}
