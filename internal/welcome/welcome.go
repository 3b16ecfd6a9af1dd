// Package welcome renders the welcome page a graphical edition opens in the browser at first
// login: a local HTML file, written at build time from what the build knows (the edition, its
// version, the kernel, each Debian package with its version and licence), with the session's
// keyboard shortcuts and how to reach the native tools.
//
// The page needs nothing from the network: one file, its style inline. Its top holds a block of
// one colour (MarkerColour) that a screen test finds in a screenshot of the browser.
package welcome

import (
	"bytes"
	"cmp"
	"errors"
	"html/template"
	"slices"
)

// Path is where the page lives in the root.
const Path = "usr/share/genai/welcome.html"

// MarkerColour is the colour of the block at the page's top, as CSS and as the RGB a screenshot
// shows (the browser draws an sRGB colour as given).
const MarkerColour = "#1b6ac9"

// MarkerRGB is MarkerColour's red, green and blue.
var MarkerRGB = [3]uint8{0x1b, 0x6a, 0xc9}

// Page is what the page shows.
type Page struct {
	Edition string
	Version string
	Arch    string
	Kernel  string
	// Shortcuts are the session's keys and what they do, in the order shown.
	Shortcuts []Shortcut
	// Tools are the native tools of the image, in the order shown.
	Tools []Tool
	// Packages are the Debian packages of the root; the page sorts them by name.
	Packages []Package
}

// Shortcut is one key chord of the session.
type Shortcut struct{ Keys, Does string }

// Tool is one native program: its command and what it is for.
type Tool struct{ Command, Does string }

// Package is one Debian package: License is what Debian's copyright file states ("" when it does
// not say in machine-readable form).
type Package struct{ Name, Version, License string }

var page = template.Must(template.New("welcome").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Welcome to GenAI OS {{.Edition}} {{.Version}}</title>
<style>
body { margin: 0; font-family: "DejaVu Sans", sans-serif; background: #f4f5f7; color: #1d2129; }
#marker { height: 96px; background: ` + MarkerColour + `; color: #ffffff; padding: 0 32px; display: flex; align-items: center; }
#marker h1 { margin: 0; font-size: 32px; font-weight: normal; }
main { padding: 16px 32px; max-width: 960px; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 2px 16px 2px 0; vertical-align: top; }
code, kbd { font-family: "DejaVu Sans Mono", monospace; }
kbd { border: 1px solid #9aa0a6; border-radius: 3px; padding: 0 4px; background: #ffffff; }
</style>
</head>
<body>
<div id="marker"><h1>Welcome to GenAI OS</h1></div>
<main>
<p>Edition <b>{{.Edition}}</b>, version <b>{{.Version}}</b> ({{.Arch}}), Linux <b>{{.Kernel}}</b>.</p>
<p><span lang="el">Καλώς ήρθατε</span> · <span lang="ru">Добро пожаловать</span> · <span lang="fr">Bienvenue</span></p>
{{- if .Shortcuts}}
<h2>Keys</h2>
<table>
{{- range .Shortcuts}}
<tr><td><kbd>{{.Keys}}</kbd></td><td>{{.Does}}</td></tr>
{{- end}}
</table>
{{- end}}
{{- if .Tools}}
<h2>Native tools</h2>
<p>Open a terminal and run:</p>
<table>
{{- range .Tools}}
<tr><td><code>{{.Command}}</code></td><td>{{.Does}}</td></tr>
{{- end}}
</table>
{{- end}}
<h2>Packages ({{len .Packages}})</h2>
<p>From Debian, as the build unpacked them; the licence is what each package's copyright file declares.</p>
<table>
<tr><th>package</th><th>version</th><th>licence</th></tr>
{{- range .Packages}}
<tr><td>{{.Name}}</td><td>{{.Version}}</td><td>{{if .License}}{{.License}}{{else}}see /usr/share/doc/{{.Name}}/copyright{{end}}</td></tr>
{{- end}}
</table>
</main>
</body>
</html>
`))

// Render writes the page. The same Page gives the same bytes.
func Render(p Page) ([]byte, error) {
	if p.Edition == "" || p.Version == "" || p.Kernel == "" {
		return nil, errors.New("welcome page: the edition, its version and the kernel must be known")
	}
	p.Packages = slices.Clone(p.Packages)
	slices.SortFunc(p.Packages, func(a, b Package) int { return cmp.Compare(a.Name, b.Name) })
	var b bytes.Buffer
	if err := page.Execute(&b, p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
