package gobuild

import (
	"context"
	"debug/elf"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
)

var (
	reproFlag = flag.Bool("gobuild.repro", false, "build the test busybox twice and compare the bytes (another minute)")
	coreFlag  = flag.Bool("gobuild.core", false, "build the CoreCommands busybox and report its time and size (minutes)")
)

func TestURootPackages(t *testing.T) {
	pkgs, names, err := urootPackages([]string{"core/ls", "github.com/u-root/u-root/cmds/core/cat", "core/echo", "core/ls"})
	if err != nil {
		t.Fatal(err)
	}
	wantPkgs := []string{urootCmdsPrefix + "core/cat", urootCmdsPrefix + "core/echo", urootCmdsPrefix + "core/ls"}
	if !slices.Equal(pkgs, wantPkgs) || !slices.Equal(names, []string{"cat", "echo", "ls"}) {
		t.Errorf("got %q %q", pkgs, names)
	}
	for _, bad := range [][]string{
		nil,
		{"ls"},
		{"core/..."},
		{"core/l*"},
		{"../cmds/core/ls"},
		{"core/ls/"},
		{"github.com/other/cmds/ls"},
		{"core/ls", "exp/ls"},
	} {
		if _, _, err := urootPackages(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestCoreCommands(t *testing.T) {
	pkgs, names, err := urootPackages(CoreCommands)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != len(CoreCommands) {
		t.Errorf("CoreCommands has duplicates")
	}
	for _, must := range []string{"gosh", "ls", "mount", "ip", "dhclient", "insmod", "poweroff"} {
		if !slices.Contains(names, must) {
			t.Errorf("CoreCommands lacks %s", must)
		}
	}
	if slices.Contains(names, "init") {
		t.Error("CoreCommands has init; our own PID 1 is init")
	}
	mod, err := urootModule(context.Background(), repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if err := checkCommands(context.Background(), mod.Dir, targetEnv(arch), pkgs); err != nil {
			t.Errorf("%s: %v", arch, err)
		}
	}
}

func TestGoSumLines(t *testing.T) {
	lines, err := goSumLines(filepath.Join(repoRoot, "go.sum"), URootModule, "v0.16.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[0], URootModule+" v0.16.0 h1:") {
		t.Errorf("go.sum lines %q", lines)
	}
	if _, err := goSumLines(filepath.Join(repoRoot, "go.sum"), URootModule, "v0.0.1"); err == nil {
		t.Error("no error for a version go.sum does not pin")
	}
}

func TestBuildURoot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a u-root busybox (about a minute)")
	}
	ctx := context.Background()
	var msgs []string
	opts := URootOptions{
		ModuleDir: repoRoot,
		Commands:  []string{"core/ls", "core/cat", "core/echo"},
		GOARCH:    "amd64",
		Cache:     &cache.Cache{Dir: t.TempDir()},
		Progress:  func(m string) { msgs = append(msgs, m) },
	}
	before := busyboxBuilds.Load()
	start := time.Now()
	res, err := BuildURoot(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cold: %v, progress %q", time.Since(start), msgs)
	if len(msgs) == 0 {
		t.Error("no progress reported")
	}
	if !slices.Equal(res.Commands, []string{"cat", "echo", "ls"}) {
		t.Errorf("commands %q", res.Commands)
	}
	checkStaticELF(t, res.Binary, elf.EM_X86_64)

	out, err := exec.Command(res.Binary, "echo", "hi").Output()
	if err != nil || string(out) != "hi\n" {
		t.Errorf("bb echo hi: %q, %v", out, err)
	}
	// Dispatch on argv[0], as through /bin/echo -> bb.
	link := filepath.Join(t.TempDir(), "echo")
	if err := os.Symlink(res.Binary, link); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(link, "hi").Output()
	if err != nil || string(out) != "hi\n" {
		t.Errorf("echo (symlink) hi: %q, %v", out, err)
	}

	msgs = nil
	start = time.Now()
	again, err := BuildURoot(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("warm: %v", time.Since(start))
	if busyboxBuilds.Load()-before != 1 || again.Binary != res.Binary || len(msgs) != 0 {
		t.Errorf("second call built again: %+v, progress %q", again, msgs)
	}

	if !*reproFlag {
		return
	}
	opts.Cache = &cache.Cache{Dir: t.TempDir()}
	other, err := BuildURoot(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := fileDigest(t, res.Binary), fileDigest(t, other.Binary); a != b {
		t.Errorf("two builds differ: sha256 %s and %s", a, b)
	} else {
		t.Logf("two builds are equal: sha256 %s", a)
	}
}

// TestBuildURootCore measures the default server busybox: go test -run Core -gobuild.core -v.
func TestBuildURootCore(t *testing.T) {
	if !*coreFlag {
		t.Skip("needs -gobuild.core")
	}
	ctx := context.Background()
	opts := URootOptions{ModuleDir: repoRoot, Commands: CoreCommands, GOARCH: "amd64", Cache: &cache.Cache{Dir: t.TempDir()}}
	start := time.Now()
	res, err := BuildURoot(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	cold := time.Since(start)
	fi, err := os.Stat(res.Binary)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := BuildURoot(ctx, opts); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d commands: cold %v, %.1f MB, warm %v", len(res.Commands), cold, float64(fi.Size())/1e6, time.Since(start))
	out, err := exec.Command(res.Binary, "gosh", "-c", "echo hi").CombinedOutput()
	if err != nil || string(out) != "hi\n" {
		t.Errorf("bb gosh -c 'echo hi': %q, %v", out, err)
	}
}
