package unit

import (
	"bufio"
	"io"
	"strings"
)

// ParseEnvFile reads an EnvironmentFile: KEY=value lines, '#' and ';'
// comments, values optionally quoted. Bad lines are skipped.
func ParseEnvFile(r io.Reader) []string {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		l = strings.TrimPrefix(l, "export ")
		k, v, ok := strings.Cut(l, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		v = strings.TrimSpace(v)
		if w, err := SplitWords(v); err == nil && len(w) == 1 {
			v = w[0]
		}
		out = append(out, k+"="+v)
	}
	return out
}

// Expand expands $VAR (as many words as its value has) and ${VAR} (in place,
// one word) in argv with env (KEY=value, later wins), per systemd.service(5).
// Unknown variables expand to nothing.
func Expand(argv []string, env []string) []string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	var out []string
	for _, w := range argv {
		if len(w) > 1 && w[0] == '$' && w[1] != '{' && isVarName(w[1:]) {
			out = append(out, strings.Fields(m[w[1:]])...)
			continue
		}
		var b strings.Builder
		for i := 0; i < len(w); i++ {
			if w[i] == '$' && i+1 < len(w) && w[i+1] == '{' {
				if end := strings.IndexByte(w[i:], '}'); end > 0 {
					b.WriteString(m[w[i+2:i+end]])
					i += end
					continue
				}
			}
			b.WriteByte(w[i])
		}
		out = append(out, b.String())
	}
	return out
}

func isVarName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}
