package gobuild

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
)

// repoRoot is the genai-build checkout holding this package.
const repoRoot = "../.."

const helloPkg = "./internal/gobuild/testdata/hello"

func fileDigest(t *testing.T, name string) string {
	t.Helper()
	sum, err := fileSHA256(name)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// checkStaticELF checks that the file is a statically linked linux ELF for the machine.
func checkStaticELF(t *testing.T, name string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s: machine %v, want %v", name, f.Machine, machine)
	}
	if f.Type != elf.ET_EXEC {
		t.Errorf("%s: type %v, want ET_EXEC", name, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: has %v, want a static binary", name, p.Type)
		}
	}
}

func TestBuildProgram(t *testing.T) {
	ctx := context.Background()
	c := &cache.Cache{Dir: t.TempDir()}
	opts := ProgramOptions{ModuleDir: repoRoot, Package: helloPkg, GOARCH: "amd64", Cache: c}

	before := goBuilds.Load()
	bin, err := BuildProgram(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := goBuilds.Load() - before; got != 1 {
		t.Fatalf("first build ran go build %d times, want 1", got)
	}
	if filepath.Base(bin) != "hello" {
		t.Errorf("binary %s, want it named hello", bin)
	}
	checkStaticELF(t, bin, elf.EM_X86_64)
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "hello from gobuild\n" {
		t.Errorf("hello printed %q", out)
	}

	start := time.Now()
	again, err := BuildProgram(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cached BuildProgram took %v", time.Since(start))
	if got := goBuilds.Load() - before; got != 1 {
		t.Errorf("unchanged sources ran go build again (%d runs)", got)
	}
	if again != bin {
		t.Errorf("cached build gave %s, want %s", again, bin)
	}

	// Reproducible: a build into another cache (so go build runs again) gives the same bytes.
	opts.Cache = &cache.Cache{Dir: t.TempDir()}
	other, err := BuildProgram(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if goBuilds.Load()-before != 2 {
		t.Fatal("the second cache did not build")
	}
	if a, b := fileDigest(t, bin), fileDigest(t, other); a != b {
		t.Errorf("two builds differ: sha256 %s and %s", a, b)
	}
}

func TestBuildProgramArm64(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the standard library")
	}
	bin, err := BuildProgram(context.Background(), ProgramOptions{
		ModuleDir: repoRoot, Package: helloPkg, GOARCH: "arm64", Cache: &cache.Cache{Dir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkStaticELF(t, bin, elf.EM_AARCH64)
}

func TestBuildProgramErrors(t *testing.T) {
	ctx := context.Background()
	c := &cache.Cache{Dir: t.TempDir()}
	for name, opts := range map[string]ProgramOptions{
		"no GOARCH":    {ModuleDir: repoRoot, Package: helloPkg, Cache: c},
		"no cache":     {ModuleDir: repoRoot, Package: helloPkg, GOARCH: "amd64"},
		"not main":     {ModuleDir: repoRoot, Package: "./internal/cache", GOARCH: "amd64", Cache: c},
		"missing":      {ModuleDir: repoRoot, Package: "./no/such/package", GOARCH: "amd64", Cache: c},
		"outside":      {ModuleDir: repoRoot, Package: "github.com/u-root/u-root/cmds/core/ls", GOARCH: "amd64", Cache: c},
		"unknown arch": {ModuleDir: repoRoot, Package: helloPkg, GOARCH: "vax", Cache: c},
	} {
		if _, err := BuildProgram(ctx, opts); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// writeModule writes a small module with a command and a local library that embeds a file.
func writeModule(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"go.mod":        "module example.com/m\n\ngo 1.24\n",
		"cmd/m/main.go": "package main\n\nimport \"example.com/m/lib\"\n\nfunc main() { println(lib.Msg) }\n",
		"lib/lib.go":    "package lib\n\nimport _ \"embed\"\n\n//go:embed msg.txt\nvar Msg string\n",
		"lib/msg.txt":   "one\n",
		"unused/u.go":   "package unused\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestProgramKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeModule(t, dir)
	opts := ProgramOptions{ModuleDir: dir, Package: "./cmd/m", GOARCH: "amd64"}
	key := func() string {
		t.Helper()
		in, err := programInputs(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if in.importPath != "example.com/m/cmd/m" {
			t.Fatalf("import path %s", in.importPath)
		}
		return in.key
	}
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := key()
	if key() != base {
		t.Fatal("key is not stable")
	}

	write("lib/lib.go", "package lib\n\nimport _ \"embed\"\n\n//go:embed msg.txt\nvar Msg string // edited\n")
	edited := key()
	if edited == base {
		t.Error("editing a dependency's source did not change the key")
	}
	write("lib/msg.txt", "two\n")
	if k := key(); k == edited {
		t.Error("editing an embedded file did not change the key")
	} else {
		edited = k
	}
	write("unused/u.go", "package unused // edited\n")
	if key() != edited {
		t.Error("editing a package the program does not import changed the key")
	}
	write("go.mod", "module example.com/m\n\ngo 1.24\n\n// edited\n")
	if key() == edited {
		t.Error("editing go.mod did not change the key")
	}
	opts.GOARCH = "arm64"
	if key() == edited {
		t.Error("another GOARCH has the same key")
	}
	opts.GOARCH = "amd64"

	// The module's place on disk is not an input: a copy elsewhere has the same key and, thanks to
	// -trimpath, builds the same bytes.
	k1 := key()
	dir2 := t.TempDir()
	writeModule(t, dir2)
	opts2 := opts
	opts2.ModuleDir = dir2
	for _, name := range []string{"go.mod", "lib/lib.go", "lib/msg.txt"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir2, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in2, err := programInputs(ctx, opts2)
	if err != nil {
		t.Fatal(err)
	}
	if in2.key != k1 {
		t.Error("the same module in another folder has another key")
	}
	c := &cache.Cache{Dir: t.TempDir()}
	bin1, err := BuildProgram(ctx, ProgramOptions{ModuleDir: dir, Package: "./cmd/m", GOARCH: "amd64", Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	opts2.Cache = &cache.Cache{Dir: t.TempDir()}
	bin2, err := BuildProgram(ctx, opts2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(digest(t, bin1), digest(t, bin2)) {
		t.Error("the same sources in two folders built different binaries")
	}
}

func digest(t *testing.T, name string) []byte {
	b, err := hex.DecodeString(fileDigest(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestProgramKeyTime measures the warm key of the test program (the cost of a cache hit).
func TestProgramKeyTime(t *testing.T) {
	ctx := context.Background()
	opts := ProgramOptions{ModuleDir: repoRoot, Package: helloPkg, GOARCH: "amd64"}
	if _, err := programInputs(ctx, opts); err != nil { // warm go's own caches
		t.Fatal(err)
	}
	const n = 5
	start := time.Now()
	for range n {
		if _, err := programInputs(ctx, opts); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("warm key: %v per program", time.Since(start)/n)
}
