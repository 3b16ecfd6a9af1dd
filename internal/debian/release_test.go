package debian

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func releaseText(files map[string][]byte, extra string) string {
	var b strings.Builder
	b.WriteString("Origin: Debian\nLabel: Debian\nSuite: stable\nVersion: 13.2\nCodename: trixie\n")
	b.WriteString("Date: Sat, 21 Nov 2026 09:15:44 UTC\nAcquire-By-Hash: yes\nArchitectures: amd64\nComponents: main\n")
	b.WriteString(extra)
	b.WriteString("MD5Sum:\n 00000000000000000000000000000000 1 ignored\nSHA256:\n")
	for _, n := range sortedKeys(files) {
		fmt.Fprintf(&b, " %s %8d %s\n", sha(files[n]), len(files[n]), n)
	}
	return b.String()
}

func sortedKeys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func TestVerifyInRelease(t *testing.T) {
	trusted, stranger := newKey(t, "archive"), newKey(t, "stranger")
	ring := publicRing(t, trusted)
	files := map[string][]byte{"main/binary-amd64/Packages.xz": []byte("xz"), "main/binary-amd64/Packages": []byte("plain")}
	text := releaseText(files, "")
	good := clearsignWith(t, text, stranger, trusted) // the trusted signature is the second one

	rel, err := VerifyInRelease(good, bytes.NewReader(ring), testTime)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Suite != "stable" || rel.Codename != "trixie" || rel.Dist != "trixie" || !rel.AcquireByHash ||
		!rel.Date.Equal(time.Date(2026, 11, 21, 9, 15, 44, 0, time.UTC)) {
		t.Errorf("release: %+v", rel)
	}
	if got := rel.Files["main/binary-amd64/Packages"]; got.Size != 5 || got.SHA256 != sha([]byte("plain")) {
		t.Errorf("Files: %+v", rel.Files)
	}
	if len(rel.SignedBy) != 1 || rel.SignedBy[0] != fmt.Sprintf("%X", trusted.PrimaryKey.Fingerprint) {
		t.Errorf("SignedBy = %v", rel.SignedBy)
	}

	tampered := bytes.Replace(good, []byte("Codename: trixie"), []byte("Codename: trixif"), 1)
	expired := clearsignWith(t, releaseText(files, "Valid-Until: Sat, 21 Nov 2026 13:00:00 UTC\n"), trusted)
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"unsigned":    {[]byte(text), ErrNotVerified},
		"tampered":    {tampered, ErrNotVerified},
		"unknown key": {clearsignWith(t, text, stranger), ErrNotVerified},
		"prefix":      {append([]byte("Suite: evil\n"), good...), ErrNotVerified},
		"trailing":    {append(append([]byte{}, good...), "Suite: evil\n"...), nil},
		"expired":     {expired, ErrExpired},
	} {
		now := testTime
		if name == "expired" {
			now = testTime.Add(2 * time.Hour)
		}
		_, err := VerifyInRelease(tc.data, bytes.NewReader(ring), now)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
	if _, err := VerifyInRelease(expired, bytes.NewReader(ring), testTime.Add(30*time.Minute)); err != nil {
		t.Errorf("before Valid-Until: %v", err)
	}
	if _, err := VerifyInRelease(good, bytes.NewReader(ring), time.Time{}); err == nil {
		t.Error("zero now accepted")
	}
}

func TestParseReleaseErrors(t *testing.T) {
	for _, in := range []string{
		"Suite: x\nDate: yesterday\nSHA256:\n",
		"Suite: x\nDate: Sat, 21 Nov 2026 09:15:44 UTC\n",
		"Suite: x\nDate: Sat, 21 Nov 2026 09:15:44 UTC\nSHA256:\n abc 1 f\n",
		"Suite: ../x\nDate: Sat, 21 Nov 2026 09:15:44 UTC\nSHA256:\n",
	} {
		if _, err := ParseRelease(strings.NewReader(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}
