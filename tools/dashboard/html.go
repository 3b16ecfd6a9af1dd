package dashboard

import (
	"html/template"
	"io"
)

// page is one self-contained HTML document: inline style, no scripts, no external assets.
var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Security posture of {{.Host}}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #ddd; vertical-align: top; }
td.status { font-weight: bold; text-transform: uppercase; }
tr.pass td.status { color: #1a7f37; }
tr.warn td.status { color: #9a6700; }
tr.fail td.status { color: #cf222e; }
ul { margin: 0.2em 0; padding-left: 1.2em; font-size: 0.9em; color: #555; }
</style>
</head>
<body>
<h1>Security posture of {{.Host}}</h1>
<p>Build {{with .Build}}{{.}}{{else}}unknown{{end}}: {{.Counts.Pass}} pass, {{.Counts.Warn}} warn, {{.Counts.Fail}} fail; worst <strong>{{.Worst}}</strong>.</p>
<table>
<thead><tr><th>Section</th><th>Status</th><th>Check</th><th>Reason</th></tr></thead>
<tbody>
{{- range .Findings}}
<tr class="{{.Status}}"><td>{{.Section}}</td><td class="status">{{.Status}}</td><td>{{.Check}}</td><td>{{.Reason}}{{if .Details}}<ul>{{range .Details}}<li>{{.}}</li>{{end}}</ul>{{end}}</td></tr>
{{- end}}
</tbody>
</table>
<p><small>{{.Schema}}</small></p>
</body>
</html>
`))

// WriteHTML writes the report as one HTML page.
func (r Report) WriteHTML(w io.Writer) error { return page.Execute(w, r) }
