package dashboard

import (
	"path/filepath"
	"sort"
	"strings"
)

// sshDefaults are OpenSSH's own defaults for the settings checked (sshd_config(5)).
var sshDefaults = map[string]string{
	"passwordauthentication":       "yes",
	"permitrootlogin":              "prohibit-password",
	"kbdinteractiveauthentication": "yes",
	"pubkeyauthentication":         "yes",
	"usepam":                       "no",
	"permitemptypasswords":         "no",
}

// sshAliases are old names sshd still reads.
var sshAliases = map[string]string{"challengeresponseauthentication": "kbdinteractiveauthentication"}

// parseSSHDConfig reads the settings sshd uses outside Match blocks: keywords case-insensitive,
// the first value given wins, Include files read in place (relative to /etc/ssh), as sshd does.
func (s *System) parseSSHDConfig(file string, into map[string]string, depth int) error {
	b, err := s.read(file)
	if err != nil {
		return err
	}
	for _, l := range lines(b) {
		k, v, _ := strings.Cut(strings.Replace(l, "=", " ", 1), " ")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if a := sshAliases[k]; a != "" {
			k = a
		}
		switch k {
		case "match":
			return errMatch
		case "include":
			if depth > 8 {
				continue
			}
			for _, pat := range strings.Fields(v) {
				if !filepath.IsAbs(pat) {
					pat = filepath.Join("/etc/ssh", pat)
				}
				ms, _ := filepath.Glob(s.path(pat))
				sort.Strings(ms)
				for _, m := range ms {
					rel, _ := filepath.Rel(s.path("/"), m)
					if err := s.parseSSHDConfig("/"+rel, into, depth+1); err == errMatch {
						return err
					}
				}
			}
			continue
		}
		if _, seen := into[k]; !seen {
			into[k] = strings.ToLower(strings.Fields(v + " x")[0])
		}
	}
	return nil
}

type matchErr struct{}

func (matchErr) Error() string { return "Match block" }

var errMatch error = matchErr{}

func sshChecks(s *System) []Finding {
	sshd := s.findProgram("sshd")
	if sshd == "" && !s.exists("/etc/ssh/sshd_config") {
		return []Finding{{Section: "ssh", Check: "sshd", Status: Pass, Reason: "no SSH server installed"}}
	}
	conf := map[string]string{}
	source := ""
	if sshd != "" && s.Privileged && s.Root == "/" {
		if out, err := s.run(sshd, "-T"); err == nil {
			for _, l := range lines(out) {
				k, v, _ := strings.Cut(l, " ")
				conf[k] = v
			}
			source = "sshd -T"
		} else {
			source = "/etc/ssh/sshd_config (sshd -T: " + err.Error() + ")"
		}
	}
	if len(conf) == 0 {
		if source == "" {
			source = "/etc/ssh/sshd_config"
		}
		if err := s.parseSSHDConfig("/etc/ssh/sshd_config", conf, 0); err != nil && err != errMatch {
			return []Finding{{Section: "ssh", Check: "sshd_config", Status: Warn, Reason: err.Error()}}
		}
	}
	get := func(k string) string {
		if v, ok := conf[k]; ok {
			return v
		}
		return sshDefaults[k]
	}
	mk := func(check, key string, st Status, reason string) Finding {
		return Finding{Section: "ssh", Check: check, Status: st, Reason: reason,
			Details: []string{"from " + source}, Data: map[string]string{key: get(key), "source": source}}
	}
	var out []Finding
	switch get("passwordauthentication") {
	case "no":
		out = append(out, mk("password-authentication", "passwordauthentication", Pass, "no: passwords are never sent over the network"))
	default:
		out = append(out, mk("password-authentication", "passwordauthentication", Warn, "yes: passwords can be guessed over the network; keys only is safer"))
	}
	if get("permitemptypasswords") == "yes" && get("passwordauthentication") == "yes" {
		out = append(out, mk("permit-empty-passwords", "permitemptypasswords", Fail, "yes: accounts with no password log in over the network"))
	}
	switch r := get("permitrootlogin"); r {
	case "no":
		out = append(out, mk("permit-root-login", "permitrootlogin", Pass, "no: root never logs in over SSH"))
	case "prohibit-password", "without-password":
		out = append(out, mk("permit-root-login", "permitrootlogin", Pass, r+": root logs in with a key only"))
	case "forced-commands-only":
		out = append(out, mk("permit-root-login", "permitrootlogin", Pass, r+": root runs only the commands its keys force"))
	default:
		out = append(out, mk("permit-root-login", "permitrootlogin", Fail, r+": root logs in with a password"))
	}
	switch {
	case get("kbdinteractiveauthentication") == "no":
		out = append(out, mk("kbd-interactive-authentication", "kbdinteractiveauthentication", Pass, "no"))
	case get("usepam") == "yes":
		out = append(out, mk("kbd-interactive-authentication", "kbdinteractiveauthentication", Warn, "yes, with UsePAM yes: PAM asks for a password, whatever PasswordAuthentication says"))
	default:
		out = append(out, mk("kbd-interactive-authentication", "kbdinteractiveauthentication", Pass, "yes, but UsePAM no: nothing to ask (set it to no to be plain)"))
	}
	if get("pubkeyauthentication") == "no" {
		out = append(out, mk("pubkey-authentication", "pubkeyauthentication", Warn, "no: keys are refused, only passwords remain"))
	} else {
		out = append(out, mk("pubkey-authentication", "pubkeyauthentication", Pass, "yes"))
	}
	return out
}
