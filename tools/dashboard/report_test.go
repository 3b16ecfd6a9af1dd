package dashboard

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sample() Report {
	return newReport("genai-server", "20251124T160000Z", []Finding{
		{Section: "boot", Check: "secure-boot", Status: Pass, Reason: "on", Data: map[string]string{"secure_boot": "on"}},
		{Section: "sockets", Check: "tcp6 [::]:22", Status: Pass, Reason: "sshd.socket <&> \"quoted\"", Details: []string{"held by 1(init)"}},
		{Section: "firewall", Check: "packet filter", Status: Warn, Reason: "none"},
	})
}

func TestJSONRoundTrip(t *testing.T) {
	r := sample()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", back, r)
	}
	// The schema's names, as documented in security-dashboard(1).
	var raw map[string]any
	json.Unmarshal(b.Bytes(), &raw)
	for _, k := range []string{"schema", "host", "build", "worst", "counts", "findings"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no %q in %s", k, b.String())
		}
	}
	if raw["worst"] != "warn" || raw["schema"] != SchemaVersion {
		t.Errorf("worst %v schema %v", raw["worst"], raw["schema"])
	}
	f := raw["findings"].([]any)[0].(map[string]any)
	if f["status"] != "pass" || f["section"] != "boot" || f["check"] != "secure-boot" || f["data"].(map[string]any)["secure_boot"] != "on" {
		t.Errorf("finding: %v", f)
	}
	for _, bad := range []string{
		strings.Replace(b.String(), SchemaVersion, "genai-security-dashboard/0", 1),
		strings.Replace(b.String(), `"worst": "warn"`, `"worst": "bad"`, 1),
		strings.Replace(b.String(), `"host"`, `"hostname"`, 1),
	} {
		if _, err := ReadJSON(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}

// TestHTML parses the page back with encoding/xml in its HTML mode: every element closes, the
// text is escaped, and nothing is loaded from elsewhere.
func TestHTML(t *testing.T) {
	var b bytes.Buffer
	if err := sample().WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var stack []string
	var text strings.Builder
	rows, cells := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		switch x := tok.(type) {
		case xml.StartElement:
			stack = append(stack, x.Name.Local)
			switch x.Name.Local {
			case "tr":
				rows++
			case "td":
				cells++
			}
			for _, a := range x.Attr {
				if a.Name.Local == "src" || a.Name.Local == "href" {
					t.Errorf("external asset: <%s %s=%q>", x.Name.Local, a.Name.Local, a.Value)
				}
			}
			if x.Name.Local == "script" || x.Name.Local == "link" {
				t.Errorf("<%s> in a self-contained page", x.Name.Local)
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != x.Name.Local {
				t.Fatalf("</%s> closes %v", x.Name.Local, stack)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			text.Write(x)
		}
	}
	if len(stack) != 0 {
		t.Errorf("unclosed: %v", stack)
	}
	if rows != 4 || cells != 3*4 || !strings.Contains(text.String(), `sshd.socket <&> "quoted"`) || !strings.Contains(text.String(), "held by 1(init)") {
		t.Errorf("%d rows (want a header and 3), %d cells (want 12), text:\n%s", rows, cells, text.String())
	}
}

func TestText(t *testing.T) {
	var b bytes.Buffer
	sample().WriteText(&b, false, true)
	want := "security-dashboard: genai-server build 20251124T160000Z\n" +
		"boot      PASS  secure-boot    on\n" +
		"sockets   PASS  tcp6 [::]:22   sshd.socket <&> \"quoted\"\n" +
		"                                 held by 1(init)\n" +
		"firewall  WARN  packet filter  none\n" +
		"2 pass, 1 warn, 0 fail: worst warn (exit 1)\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	sample().WriteText(&b, true, false)
	if !strings.Contains(b.String(), "\x1b[33mWARN\x1b[0m") || strings.Contains(b.String(), "held by") {
		t.Errorf("colour, not verbose:\n%q", b.String())
	}
}

// TestExitStatus runs the command over fixture trees: the exit status is the worst finding's.
func TestExitStatus(t *testing.T) {
	root := tree(t, map[string]string{
		"etc/ssh/sshd_config": "PasswordAuthentication no\nKbdInteractiveAuthentication no\n",
		"etc/passwd":          "root:x:0:0:root:/root:/bin/bash\ndev:x:1000:1000::/home/dev:/bin/bash\n",
		"etc/shadow":          "root:*:1::::::\ndev::1::::::\n",
	})
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--section", "ssh"}, 0, "worst pass (exit 0)"},
		{[]string{"--section", "firewall"}, 1, "worst warn (exit 1)"},
		{[]string{"--section", "accounts,ssh"}, 2, "worst fail (exit 2)"},
		{[]string{"--section", "accounts", "--json"}, 2, `"worst": "fail"`},
		{[]string{"--section", "nope"}, 3, ""},
		{[]string{"extra"}, 3, ""},
		{[]string{"--bogus"}, 3, ""},
	} {
		var out, errb bytes.Buffer
		code := Main(append([]string{"--root", root}, tc.args...), nil, &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("%v: exit %d, want %d; output:\n%s%s", tc.args, code, tc.code, out.String(), errb.String())
		}
	}
	page := filepath.Join(t.TempDir(), "p.html")
	var out bytes.Buffer
	if code := Main([]string{"--root", root, "--section", "ssh", "--html", page}, nil, &out, &out); code != 0 {
		t.Fatalf("--html: exit %d: %s", code, out.String())
	}
	if b, err := os.ReadFile(page); err != nil || !strings.Contains(string(b), "password-authentication") {
		t.Errorf("--html wrote %q, %v", b, err)
	}
}

func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"--help"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Usage: security-dashboard", "Exit status: 0", "Examples:", "--json | jq", "-html FILE"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, out.String())
		}
	}
}

// TestManPage checks the developer overlay installs the same man page, and that it names every
// option and section.
func TestManPage(t *testing.T) {
	src, err := os.ReadFile("security-dashboard.1")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := os.ReadFile("../../overlays/developer/usr/share/man/man1/security-dashboard.1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src, inst) {
		t.Error("overlays/developer/usr/share/man/man1/security-dashboard.1 differs from tools/dashboard/security-dashboard.1")
	}
	for _, s := range append(strings.Split(sectionNames(), ","), `\-\-json`, `\-\-html`, `\-\-root`, `\-\-section`, SchemaVersion) {
		if !bytes.Contains(src, []byte(s)) {
			t.Errorf("the man page does not mention %q", s)
		}
	}
}
