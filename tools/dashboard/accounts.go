package dashboard

import (
	"fmt"
	"path"
	"strings"
)

// hashNames names crypt(5)'s hash prefixes; strong ones are what Debian's login makes today.
var hashNames = map[string]struct {
	name   string
	strong bool
}{
	"$y$": {"yescrypt", true}, "$gy$": {"gost-yescrypt", true}, "$7$": {"scrypt", true},
	"$2b$": {"bcrypt", true}, "$2y$": {"bcrypt", true}, "$6$": {"sha512crypt", true},
	"$5$": {"sha256crypt", true}, "$1$": {"md5crypt", false},
}

// passwordState describes a password field of shadow(5): empty (no password at all), locked
// ("!" or "*" first: no password matches), or a hash named by its crypt(5) prefix.
func passwordState(h string) (state string, usable, weak bool) {
	switch {
	case h == "":
		return "empty", true, true
	case strings.HasPrefix(h, "!") || strings.HasPrefix(h, "*"):
		return "locked", false, false
	}
	for p, n := range hashNames {
		if strings.HasPrefix(h, p) {
			return n.name, true, !n.strong
		}
	}
	return "descrypt", true, true // no $id$: the traditional DES crypt
}

func accountChecks(s *System) []Finding {
	pw, err := s.read("/etc/passwd")
	if err != nil {
		return []Finding{{Section: "accounts", Check: "passwd", Status: Warn, Reason: err.Error()}}
	}
	shadow := map[string]string{}
	sb, shadowErr := s.read("/etc/shadow")
	for _, l := range lines(sb) {
		f := strings.Split(l, ":")
		if len(f) >= 2 {
			shadow[f[0]] = f[1]
		}
	}
	var out []Finding
	var nologin []string
	for _, l := range lines(pw) {
		f := strings.Split(l, ":")
		if len(f) != 7 {
			continue
		}
		name, pass, home, shell := f[0], f[1], f[5], f[6]
		switch path.Base(shell) {
		case "nologin", "false", "sync", "shutdown", "halt":
			nologin = append(nologin, name)
			continue
		}
		a := Finding{Section: "accounts", Check: "account " + name,
			Data: map[string]string{"user": name, "uid": f[2], "shell": shell}}
		var methods []string
		if pass == "x" {
			h, ok := shadow[name]
			if !ok && shadowErr != nil {
				pass = ""
				a.Data["password"] = "unknown"
			} else if !ok {
				pass = "*" // shadow has no entry: no password matches
			} else {
				pass = h
			}
		}
		if a.Data["password"] != "unknown" {
			state, usable, weak := passwordState(pass)
			a.Data["password"] = state
			if usable {
				methods = append(methods, "password")
			}
			switch {
			case state == "empty":
				a.Status, a.Reason = Fail, "no password: anyone at the console logs in as "+name
			case weak:
				a.Status, a.Reason = Warn, "password hashed with "+state+", which is cheap to crack"
			}
		}
		keys := 0
		if kb, err := s.read(path.Join(home, ".ssh/authorized_keys")); err == nil {
			keys = len(lines(kb))
		}
		a.Data["keys"] = fmt.Sprint(keys)
		if keys > 0 {
			methods = append(methods, "key")
			a.Details = append(a.Details, fmt.Sprintf("%s/.ssh/authorized_keys: %s", home, count(keys, "key")))
		}
		a.Data["methods"] = strings.Join(methods, ",")
		if a.Reason == "" {
			switch {
			case a.Data["password"] == "unknown":
				a.Status, a.Reason = Warn, fmt.Sprintf("password unknown (/etc/shadow: %v); %s", shadowErr, count(keys, "SSH key"))
			case len(methods) == 0:
				a.Status, a.Reason = Pass, "cannot log in: password locked, no SSH key"
			case keys > 0 && len(methods) == 1:
				a.Status, a.Reason = Pass, fmt.Sprintf("key only: %s, password %s", count(keys, "SSH key"), a.Data["password"])
			default:
				a.Status, a.Reason = Pass, fmt.Sprintf("by %s (password %s, %s), shell %s", strings.Join(methods, " or "), a.Data["password"], count(keys, "SSH key"), shell)
			}
		}
		out = append(out, a)
	}
	out = append(out, Finding{Section: "accounts", Check: "system accounts", Status: Pass,
		Reason: fmt.Sprintf("%d accounts have no login shell", len(nologin)), Details: []string{strings.Join(nologin, " ")}})
	return out
}

// count is "1 key" or "2 keys".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
