package debresolve

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/genai-os/genai-build/internal/debian"
)

func testIndex(t *testing.T) *debian.Index {
	t.Helper()
	f, err := os.Open("testdata/Packages")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, err := debian.ParsePackages(f)
	if err != nil {
		t.Fatal(err)
	}
	return debian.NewIndex(pkgs)
}

func TestResolve(t *testing.T) {
	ix := testIndex(t)
	tests := []struct {
		name     string
		requests []Request
		exclude  []string
		want     string // "name=version" sorted, space-separated
		why      map[string]string
		excluded map[string]string
		err      string // substring of the error, "" for success
	}{
		{
			name:     "alternatives, arch, provides, pre-depends, exclude",
			requests: []Request{{Name: "app"}},
			exclude:  []string{"perl-base"},
			want:     "app=1.0-1 exim4=4.98-1 gcc-14-base=14.2.0-19 init-system-helpers=1.68 libb=2 libc6=2.41-12 libgcc-s1=14.2.0-19 libssl3t64=3.5.1-1",
			// liba is i386 only, so "liba | libb" takes libb; the MTA is the first provider by name;
			// openssl-provider-legacy [i386] does not apply; essential bash is not pulled in.
			why:      map[string]string{"app": "", "libb": "app", "exim4": "app", "gcc-14-base": "libgcc-s1", "init-system-helpers": "app"},
			excluded: map[string]string{"perl-base": "init-system-helpers"},
		},
		{
			name:     "without exclusions perl-base comes in",
			requests: []Request{{Name: "init-system-helpers"}},
			want:     "init-system-helpers=1.68 perl-base=5.40.1-6",
		},
		{
			name:     "versioned provides",
			requests: []Request{{Name: "newlib"}},
			want:     "libfoo2=2.5 newlib=1",
		},
		{
			name:     "unversioned provides does not meet a versioned dependency",
			requests: []Request{{Name: "wantsunversioned"}},
			err:      "wantsunversioned -> libfoo-any (>= 1): no provider of libfoo-any satisfies the version",
		},
		{
			name:     "cycle and :any",
			requests: []Request{{Name: "ping"}},
			want:     "helper=1 ping=1 pong=1",
			why:      map[string]string{"pong": "ping", "helper": "ping"},
		},
		{
			name:     "unsatisfiable chain",
			requests: []Request{{Name: "server"}},
			err:      "server -> libmid -> libdeep (>= 2): libdeep has only version 1.5",
		},
		{
			name:     "unknown request",
			requests: []Request{{Name: "nosuch"}},
			err:      "nosuch: no package provides nosuch",
		},
		{
			name:     "conflicts via a provided virtual name",
			requests: []Request{{Name: "postfix"}, {Name: "exim4"}},
			err:      "exim4 (exim4) Conflicts: mail-transport-agent, and postfix (postfix) is also chosen",
		},
		{
			name:     "breaks with a version",
			requests: []Request{{Name: "breaker"}, {Name: "libgcc-s1"}},
			err:      "breaker (breaker) Breaks: libc6 (<< 2.42), and libc6 (libgcc-s1 -> libc6 (>= 2.35)) is also chosen",
		},
		{
			name:     "prefers an alternative already chosen",
			requests: []Request{{Name: "prefers"}},
			want:     "exim4=4.98-1 prefers=1",
		},
		{
			name:     "excluded alternative satisfies",
			requests: []Request{{Name: "debconfuser"}},
			exclude:  []string{"debconf"},
			want:     "debconfuser=1",
			excluded: map[string]string{"debconf": "debconfuser"},
		},
		{
			name:     "excluded provider satisfies a virtual",
			requests: []Request{{Name: "debconfuser"}},
			want:     "debconf=1.5.91 debconfuser=1 perl-base=5.40.1-6",
		},
		{
			name:     "request with a version constraint takes an older version",
			requests: []Request{{Name: "libc6", Version: "<< 2.40"}},
			want:     "gcc-14-base=14.2.0-19 libc6=2.36-9 libgcc-s1=14.2.0-19",
		},
		{
			name:     "request with a bare version",
			requests: []Request{{Name: "libc6", Version: "2.41-12"}},
			want:     "gcc-14-base=14.2.0-19 libc6=2.41-12 libgcc-s1=14.2.0-19",
		},
		{
			name:     "request version not available",
			requests: []Request{{Name: "libc6", Version: ">= 1:3"}},
			err:      "libc6 (>= 1:3): libc6 has only version 2.41-12, 2.36-9",
		},
		{
			name:     "a dependency cannot take a second version of a chosen package",
			requests: []Request{{Name: "libc6", Version: "<< 2.40"}, {Name: "app"}},
			exclude:  []string{"perl-base"},
			err:      "app -> libc6 (>= 2.38): libc6 has only version 2.41-12, 2.36-9",
		},
		{
			name:     "requested and excluded",
			requests: []Request{{Name: "debconf"}},
			exclude:  []string{"debconf"},
			err:      "requested and excluded",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Resolve(ix, "amd64", tc.requests, Options{Exclude: tc.exclude})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range res.Packages {
				got = append(got, p.Name+"="+p.Version)
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("resolved\n %s\nwant\n %s", g, tc.want)
			}
			byName := map[string]Chosen{}
			for _, p := range res.Packages {
				byName[p.Name] = p
			}
			for name, why := range tc.why {
				if byName[name].Why != why {
					t.Errorf("%s pulled in by %q, want %q", name, byName[name].Why, why)
				}
			}
			for name, by := range tc.excluded {
				if res.Excluded[name] != by {
					t.Errorf("excluded %s cut from %q, want %q (all: %v)", name, res.Excluded[name], by, res.Excluded)
				}
			}
		})
	}
}

func TestResolveErrorTypes(t *testing.T) {
	ix := testIndex(t)
	_, err := Resolve(ix, "amd64", []Request{{Name: "server"}}, Options{})
	var ue *UnsatisfiableError
	if !errors.As(err, &ue) || strings.Join(ue.Chain, "|") != "server|libmid|libdeep (>= 2)" {
		t.Errorf("got %#v", err)
	}
	_, err = Resolve(ix, "amd64", []Request{{Name: "postfix"}, {Name: "exim4"}}, Options{})
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Errorf("got %#v", err)
	}
}

func TestResolveLockedAndSize(t *testing.T) {
	ix := testIndex(t)
	res, err := Resolve(ix, "amd64", []Request{{Name: "libgcc-s1"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Size() != 70+3000+50 {
		t.Errorf("size %d", res.Size())
	}
	l := res.Locked()
	if len(l) != 3 || l[1].Name != "libc6" || l[1].Requested != "libgcc-s1" || l[1].Filename != "pool/main/g/glibc/libc6_2.41-12_amd64.deb" {
		t.Errorf("locked %+v", l)
	}
}
