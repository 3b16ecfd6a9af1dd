package login

import (
	"errors"
	"testing"
)

func TestSHA512Crypt(t *testing.T) {
	// The test vectors of the spec ("Unix crypt using SHA-256 and SHA-512", Drepper).
	for _, tc := range []struct{ setting, pw, want string }{
		{"$6$saltstring", "Hello world!",
			"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
		{"$6$rounds=10000$saltstringsaltstring", "Hello world!",
			"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
		{"$6$rounds=5000$toolongsaltstring", "This is just a test",
			"$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"},
		{"$6$rounds=10$roundstoolow", "the minimum number is still observed",
			"$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."},
	} {
		got, err := SHA512Crypt(tc.pw, tc.setting)
		if err != nil || got != tc.want {
			t.Errorf("SHA512Crypt(%q, %q) =\n %s, %v\nwant\n %s", tc.pw, tc.setting, got, err, tc.want)
		}
	}
}

// Made by the host's libxcrypt: perl -e 'print crypt("correct horse", q{$y$j9T$F5Jx5fExrKuPp53xLKQ..1$})'.
const (
	yescryptHash  = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79"
	yescryptEmpty = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$5P1uc1zvKhieqEtKttbwCQrTPXpY1cK9wEnTDKAqLD8" // of ""
)

func TestVerify(t *testing.T) {
	h := "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
	for _, tc := range []struct {
		hash, pw string
		ok       bool
		err      error
	}{
		{h, "Hello world!", true, nil},
		{h, "hello world!", false, nil},
		{"!" + h, "Hello world!", false, ErrLocked},
		{"*", "", false, ErrLocked},
		{"", "", false, ErrLocked},
		{yescryptHash, "correct horse", true, nil},
		{yescryptHash, "correct horse ", false, nil},
		{yescryptEmpty, "", true, nil},
		{yescryptEmpty, "x", false, nil},
		{"$y$jFT$abcdefghijklmnop$fhmcMpTbJjO2o6veXjb2yEiIYVWJLNRbOGzSVgmzyl1", "pässwörd", true, nil},
		{"$y$j9T$abc$def", "x", false, ErrUnsupportedHash}, // "abc" is no salt in yescrypt's encoding
		{"$y$jZZ$abc$def", "x", false, ErrUnsupportedHash},
		{"$y$", "x", false, ErrUnsupportedHash},
		{"$2b$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui", "x", false, ErrUnsupportedHash},
		{"plaintext", "plaintext", false, ErrUnsupportedHash},
	} {
		ok, err := Verify(tc.hash, tc.pw)
		if ok != tc.ok || !errors.Is(err, tc.err) {
			t.Errorf("Verify(%q, %q) = %v, %v; want %v, %v", tc.hash, tc.pw, ok, err, tc.ok, tc.err)
		}
	}
}
