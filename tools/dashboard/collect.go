package dashboard

import (
	"strings"
)

// Sections are the report's parts, in order; each check's function reads s and says what it saw.
var Sections = []struct {
	Name  string
	Check func(*System) []Finding
}{
	{"boot", bootChecks},
	{"identity", identityChecks},
	{"sockets", socketChecks},
	{"accounts", accountChecks},
	{"ssh", sshChecks},
	{"firewall", func(s *System) []Finding { return []Finding{firewallCheck(s)} }},
	{"audit", func(s *System) []Finding { return []Finding{auditCheck(s)} }},
	{"hardening", hardeningChecks},
}

// Collect runs every check (or those of the named sections) and makes the report.
func Collect(s *System, only ...string) Report {
	var fs []Finding
	for _, sec := range Sections {
		if len(only) > 0 && !contains(only, sec.Name) {
			continue
		}
		fs = append(fs, sec.Check(s)...)
	}
	host := ""
	if b, err := s.read("/etc/hostname"); err == nil {
		host = strings.TrimSpace(string(b))
	}
	return newReport(host, s.osRelease()["BUILD_ID"], fs)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
