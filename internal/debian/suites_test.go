package debian

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debtest"
)

// Dates of the fake suites: the release is older than its updates, as in the real archive.
var (
	releaseDate  = time.Date(2026, 11, 15, 9, 0, 0, 0, time.UTC)
	updatesDate  = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	securityDate = time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
)

// publishTrixie writes the three followed suites: the security suite has newer kernel, OpenSSH
// and libc; -updates a newer tzdata; the release a newer "base" than security (which must lose).
func publishTrixie(t *testing.T, a *debtest.Archive) {
	a.Publish(t,
		debtest.Suite{Name: "trixie", Date: releaseDate, Packages: []debtest.Pkg{
			{Name: "linux-image-amd64", Version: "6.12.57-1", Depends: "linux-image-6.12.57+deb13-amd64 (= 6.12.57-1)"},
			{Name: "linux-image-6.12.57+deb13-amd64", Version: "6.12.57-1"},
			{Name: "openssh-server", Version: "1:10.0p1-7", Depends: "libc6 (>= 2.38)"},
			{Name: "libc6", Version: "2.41-12"},
			{Name: "tzdata", Version: "2025a-1", Arch: "all"},
			{Name: "base", Version: "2.0-1"},
		}},
		debtest.Suite{Name: "trixie-updates", Date: updatesDate, ValidUntil: updatesDate.Add(7 * 24 * time.Hour), Packages: []debtest.Pkg{
			{Name: "tzdata", Version: "2025b-0+deb13u1", Arch: "all"},
		}},
		debtest.Suite{Name: "trixie-security", Date: securityDate, ValidUntil: securityDate.Add(7 * 24 * time.Hour), Packages: []debtest.Pkg{
			{Name: "linux-image-amd64", Version: "6.12.60-1", Depends: "linux-image-6.12.60+deb13-amd64 (= 6.12.60-1)"},
			{Name: "linux-image-6.12.60+deb13-amd64", Version: "6.12.60-1"},
			{Name: "openssh-server", Version: "1:10.0p1-7+deb13u1", Depends: "libc6 (>= 2.38)"},
			{Name: "libc6", Version: "2.41-12+deb13u1"},
			{Name: "base", Version: "1.0-1+deb13u1"},
		}},
	)
}

func trixieRequests() []Request {
	return []Request{{Name: "linux-image-amd64", FollowDepends: "linux-image-"}, {Name: "openssh-server"}, {Name: "libc6"}, {Name: "tzdata"}, {Name: "base"}}
}

func archiveFetcher(t *testing.T, a *debtest.Archive) *Fetcher {
	return &Fetcher{Mirror: Mirror{URL: a.MainURL()}, Security: Mirror{URL: a.SecurityURL()}, Cache: &cache.Cache{Dir: t.TempDir()}}
}

func trixieOptions(a *debtest.Archive, t *testing.T, prev *Lock) ArchiveOptions {
	return ArchiveOptions{Release: "trixie", Arch: "amd64", Keyring: a.Keyring(t), Now: testTime, Previous: prev}
}

// The highest version by Debian's ordering wins across the three suites, and each package
// records the suite it came from; the security suite is read from the security archive's root.
func TestLockAcrossSuites(t *testing.T) {
	a := debtest.NewArchive(t, testTime)
	publishTrixie(t, a)
	f := archiveFetcher(t, a)
	ctx := context.Background()
	lock, err := LockPackages(ctx, f, trixieOptions(a, t, nil), trixieRequests())
	if err != nil {
		t.Fatalf("%v\nserved: %v", err, a.Paths())
	}
	for _, tc := range []struct{ name, version, suite string }{
		{"linux-image-amd64", "6.12.60-1", "trixie-security"},
		{"linux-image-6.12.60+deb13-amd64", "6.12.60-1", "trixie-security"},
		{"openssh-server", "1:10.0p1-7+deb13u1", "trixie-security"},
		{"libc6", "2.41-12+deb13u1", "trixie-security"},
		{"tzdata", "2025b-0+deb13u1", "trixie-updates"},
		{"base", "2.0-1", "trixie"}, // the release's 2.0-1 is higher than security's 1.0-1+deb13u1
	} {
		p, ok := lock.Package(tc.name)
		if !ok || p.Version != tc.version || p.Suite != tc.suite {
			t.Errorf("%s: got %+v, want %s from %s", tc.name, p, tc.version, tc.suite)
		}
	}
	if k, _ := lock.Followed("linux-image-amd64"); k.Name != "linux-image-6.12.60+deb13-amd64" {
		t.Errorf("kernel followed to %s", k.Name)
	}
	var names []string
	for _, s := range lock.Suites {
		names = append(names, s.Name+"="+string(s.Archive))
	}
	if got := strings.Join(names, " "); got != "trixie=debian trixie-updates=debian trixie-security=debian-security" {
		t.Errorf("suites: %s", got)
	}
	if a.Hits("debian-security/dists/trixie-security/InRelease") != 1 || a.Hits("debian/dists/trixie-security/InRelease") != 0 {
		t.Error("the security suite was not read from the security archive's root")
	}

	// Fetched from the archive of its suite: the security .deb exists only under the security root.
	ssh, _ := lock.Package("openssh-server")
	if _, err := f.FetchLocked(ctx, ssh); err != nil {
		t.Fatal(err)
	}
	if a.Hits("debian-security/"+ssh.Filename) != 1 {
		t.Errorf("openssh-server not fetched from the security archive")
	}
	// Without a security mirror, a package from it cannot be fetched, and the error says what to set.
	noSec := &Fetcher{Mirror: f.Mirror, Cache: &cache.Cache{Dir: t.TempDir()}}
	if _, err := noSec.FetchLocked(ctx, ssh); !errors.Is(err, ErrNoSecurityMirror) || !strings.Contains(err.Error(), SecurityMirrorEnv) {
		t.Errorf("no security mirror: %v", err)
	}

	// The pinned indices come back merged, with the same winners.
	ix, err := archiveFetcher(t, a).FetchLockedIndex(ctx, lock)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := ix.Lookup("libc6"); p.Version != "2.41-12+deb13u1" || p.Suite != "trixie-security" {
		t.Errorf("merged index: libc6 %+v", p)
	}
	if n := len(ix.Versions("openssh-server")); n != 2 {
		t.Errorf("merged index has %d openssh-server versions, want 2", n)
	}
}

// A suite whose InRelease is older than the one the current lock recorded is refused, naming the
// suite and both dates; the same date, or a newer one, is accepted.
func TestLockRefusesRollback(t *testing.T) {
	a := debtest.NewArchive(t, testTime)
	publishTrixie(t, a)
	ctx := context.Background()
	first, err := LockPackages(ctx, archiveFetcher(t, a), trixieOptions(a, t, nil), trixieRequests())
	if err != nil {
		t.Fatal(err)
	}
	// Same archive again: fine.
	if _, err := LockPackages(ctx, archiveFetcher(t, a), trixieOptions(a, t, first), trixieRequests()); err != nil {
		t.Fatalf("same dates refused: %v", err)
	}
	// The security mirror replays an older signed release.
	old := securityDate.Add(-72 * time.Hour)
	a.Publish(t, debtest.Suite{Name: "trixie-security", Date: old, ValidUntil: testTime.Add(time.Hour), Packages: []debtest.Pkg{
		{Name: "openssh-server", Version: "1:10.0p1-7", Depends: "libc6 (>= 2.38)"},
	}})
	_, err = LockPackages(ctx, archiveFetcher(t, a), trixieOptions(a, t, first), trixieRequests())
	var rb *RollbackError
	if !errors.As(err, &rb) || rb.Suite != "trixie-security" {
		t.Fatalf("rollback: err = %v", err)
	}
	for _, want := range []string{"trixie-security", "2026-11-18T02:00:00Z", "2026-11-21T02:00:00Z", "rollback", "up-to-date mirror"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// Without a previous lock there is nothing to compare with.
	if _, err := LockPackages(ctx, archiveFetcher(t, a), trixieOptions(a, t, nil), trixieRequests()); err != nil {
		t.Errorf("first lock: %v", err)
	}
}

// A suite past its Valid-Until is refused, naming the suite, the dates and what to do.
func TestLockRefusesExpired(t *testing.T) {
	a := debtest.NewArchive(t, testTime)
	publishTrixie(t, a)
	a.Publish(t, debtest.Suite{Name: "trixie-updates", Date: updatesDate, ValidUntil: testTime.Add(-time.Minute)})
	_, err := LockPackages(context.Background(), archiveFetcher(t, a), trixieOptions(a, t, nil), trixieRequests())
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
	for _, want := range []string{"suite trixie-updates", "valid until 2026-11-21T11:59:00Z", "now is 2026-11-21T12:00:00Z", "up-to-date mirror"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
