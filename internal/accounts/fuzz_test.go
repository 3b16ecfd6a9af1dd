package accounts

import "testing"

// FuzzParseSysusers feeds arbitrary sysusers.d text (it comes from Debian packages): no panic, and
// what parses can be merged and built into an account database or refused with an error.
func FuzzParseSysusers(f *testing.F) {
	f.Add([]byte("u sshd -:nogroup \"sshd user\" /run/sshd\n"))
	f.Add([]byte("g messagebus -\nu messagebus - \"System Message Bus\" /nonexistent\nm messagebus audio\n"))
	f.Add([]byte("# comment\n\nu x 123 - - /bin/false\n"))
	f.Add([]byte("u \"quoted name\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sys, err := ParseSysusers(data)
		if err != nil {
			return
		}
		_, _ = Build(sys, nil)
	})
}
