package boot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cli"
	"github.com/genai-os/genai-build/internal/release"
	"github.com/genai-os/genai-build/internal/sign"
)

// genaiBuild runs the command line in-process with the environment plus extra, and returns its
// exit code and output.
func genaiBuild(t *testing.T, extra map[string]string, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := cli.Main(context.Background(), cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(k string) string {
		if v, ok := extra[k]; ok {
			return v
		}
		return os.Getenv(k)
	}}, append([]string{"--root", root}, args...))
	return code, out.String()
}

// TestRelease cuts a release of the server edition as CI does, with a throwaway key, standing on
// the matrix's boots through a go test -json file (testdata/release/boot-passed.json: the
// server's six ISO rows passed), and checks it with the tools a user has: gpgv, sha256sum, and
// genai-build verify both ways. The build is the matrix's own (same SOURCE_DATE_EPOCH, same
// cache), so the released image is the one TestBootMatrix boots: the test checks the digests agree.
func TestRelease(t *testing.T) {
	for _, tool := range []string{"gpgv", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to check a release as users do (Debian: gpgv, coreutils): %v", tool, err)
		}
	}
	tmp := t.TempDir()
	env := map[string]string{"SOURCE_DATE_EPOCH": strconv.FormatInt(sourceDate.Unix(), 10)}
	keyDir := filepath.Join(tmp, "key")
	if code, out := genaiBuild(t, env, "release-key", "--out", keyDir, "--email", "release@example.org"); code != 0 {
		t.Fatalf("release-key: exit %d\n%s", code, out)
	}
	// What TestBootMatrix's server rows print under go test -json, naming the image they booted.
	tested := filepath.Join(tmp, "boot.json")
	if err := writeTested(tested, serverISO(t).SHA256); err != nil {
		t.Fatal(err)
	}
	out, images := filepath.Join(tmp, "release"), filepath.Join(tmp, "images")
	start := time.Now()
	code, log := genaiBuild(t, env, "release", "--editions", "server", "--key", filepath.Join(keyDir, "release-key.asc"),
		"--tested", tested, "--out", out, "--images", images, "--quiet")
	if code != 0 {
		t.Fatalf("release: exit %d\n%s", code, log)
	}
	t.Logf("release of the server edition in %.1fs:\n%s", time.Since(start).Seconds(), log)
	dir := filepath.Join(out, "0.1.0")
	iso := "genai-os-server-0.1.0-amd64.iso"
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"NOTES.md", "SHA256SUMS", "SHA256SUMS.asc", iso, iso + ".manifest.json", iso + ".spdx.json", "release-key.pub.asc"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("release folder holds %v, want %v", names, want)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*partial*")); len(left) > 0 {
		t.Errorf("temporary folders left: %v", left)
	}
	// The released image is the one the boot matrix boots.
	if got, err := release.FileSHA256(filepath.Join(dir, iso)); err != nil || got != serverISO(t).SHA256 {
		t.Errorf("released %s has SHA-256 %s (%v), the matrix boots %s", iso, got, err, serverISO(t).SHA256)
	}
	notes, _ := os.ReadFile(filepath.Join(dir, "NOTES.md"))
	for _, s := range []string{"| server | `" + iso + "` |", "Linux 6.12.", "boot tests passed (boot.json): server-iso-bios-cd", "first release"} {
		if !strings.Contains(string(notes), s) {
			t.Errorf("NOTES.md lacks %q:\n%s", s, notes)
		}
	}

	// What a user runs.
	run := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		o, err := cmd.CombinedOutput()
		return string(o), err
	}
	if o, err := run("gpgv", "--keyring", filepath.Join(keyDir, "release-key.gpg"), "SHA256SUMS.asc", "SHA256SUMS"); err != nil {
		t.Errorf("gpgv: %v\n%s", err, o)
	}
	if o, err := run("sha256sum", "--strict", "-c", "SHA256SUMS"); err != nil || strings.Count(o, ": OK") != 5 {
		t.Errorf("sha256sum -c: %v\n%s", err, o)
	}
	if code, o := genaiBuild(t, nil, "verify", filepath.Join(dir, iso), "--key", filepath.Join(keyDir, "release-key.pub.asc")); code != 0 || !strings.Contains(o, ": OK") {
		t.Errorf("verify of the released image: exit %d\n%s", code, o)
	}

	// A copy of the image with one byte flipped, in a download folder beside the release's files.
	dl := filepath.Join(tmp, "download")
	os.Mkdir(dl, 0o755)
	for _, n := range []string{"SHA256SUMS", "SHA256SUMS.asc", "release-key.pub.asc"} {
		data, _ := os.ReadFile(filepath.Join(dir, n))
		os.WriteFile(filepath.Join(dl, n), data, 0o644)
	}
	if err := flipCopy(filepath.Join(dir, iso), filepath.Join(dl, iso), 40000); err != nil {
		t.Fatal(err)
	}
	if code, o := genaiBuild(t, nil, "verify", filepath.Join(dl, iso)); code == 0 || !strings.Contains(o, "digest mismatch") {
		t.Errorf("verify of a changed image: exit %d, want a digest mismatch:\n%s", code, o)
	}
	// SHA256SUMS signed by another key, with the release's public key.
	other, err := sign.Generate("not the release key", "x@example.org", sourceDate)
	if err != nil {
		t.Fatal(err)
	}
	sums, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	sig, _ := other.DetachSign(bytes.NewReader(sums), sourceDate)
	os.WriteFile(filepath.Join(dl, "SHA256SUMS.asc"), sig, 0o644)
	if code, o := genaiBuild(t, nil, "verify", filepath.Join(dir, iso), "--sums", filepath.Join(dl, "SHA256SUMS"), "--key", filepath.Join(keyDir, "release-key.pub.asc")); code == 0 || !strings.Contains(o, "unknown key") {
		t.Errorf("verify with another key's signature: exit %d, want an unknown key:\n%s", code, o)
	}
	if o, err := exec.Command("gpgv", "--keyring", filepath.Join(keyDir, "release-key.gpg"), filepath.Join(dl, "SHA256SUMS.asc"), filepath.Join(dl, "SHA256SUMS")).CombinedOutput(); err == nil {
		t.Errorf("gpgv accepted another key's signature:\n%s", o)
	}

	// Boot tests of another image (another SOURCE_DATE_EPOCH) do not stand for this one.
	otherTested := filepath.Join(tmp, "boot-other.json")
	if err := writeTested(otherTested, strings.Repeat("0", 64)); err != nil {
		t.Fatal(err)
	}
	if code, o := genaiBuild(t, env, "release", "--editions", "server", "--key", filepath.Join(keyDir, "release-key.asc"), "--tested", otherTested,
		"--out", out, "--images", images, "--quiet", "--version", "0.1.2"); code == 0 || !strings.Contains(o, "booted other images") {
		t.Errorf("a release tested on other images: exit %d\n%s", code, o)
	}
	if _, err := os.Stat(filepath.Join(out, "0.1.2")); err == nil {
		t.Error("the refused release was written")
	}

	// The same version again is refused; the next one lists no package change against it.
	if code, o := genaiBuild(t, env, "release", "--editions", "server", "--key", filepath.Join(keyDir, "release-key.asc"), "--tested", tested,
		"--out", out, "--images", images); code == 0 || !strings.Contains(o, "--force") {
		t.Errorf("a second release of 0.1.0: exit %d\n%s", code, o)
	}
	if code, o := genaiBuild(t, env, "release", "--editions", "server", "--key", filepath.Join(keyDir, "release-key.asc"), "--tested", tested,
		"--out", out, "--images", images, "--quiet", "--version", "0.1.1", "--previous", dir); code != 0 {
		t.Errorf("release 0.1.1: exit %d\n%s", code, o)
	}
	notes, _ = os.ReadFile(filepath.Join(out, "0.1.1", "NOTES.md"))
	if !strings.Contains(string(notes), "Since 0.1.0") || !strings.Contains(string(notes), "No package changed") {
		t.Errorf("0.1.1's notes against 0.1.0:\n%s", notes)
	}
}

// writeTested writes go test -json events of the server's ISO rows passing, each logging image.
func writeTested(path, image string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, fw := range []string{"bios", "uefi", "secureboot"} {
		for _, media := range []string{"cd", "usb"} {
			test := fmt.Sprintf("TestBootMatrix/server-iso-%s-%s", fw, media)
			enc.Encode(map[string]any{"Action": "output", "Package": "github.com/genai-os/genai-build/test/boot", "Test": test,
				"Output": fmt.Sprintf("    boot_test.go:262: server-iso-%s-%s: ready after 20.0s wall (tcg), image sha256=%s: genai-os: ready edition=server\n", fw, media, image)})
			enc.Encode(map[string]any{"Action": "pass", "Package": "github.com/genai-os/genai-build/test/boot", "Test": test, "Elapsed": 20.0})
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// flipCopy copies src to dst with the byte at off inverted.
func flipCopy(src, dst string, off int) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	data[off] ^= 0xff
	return os.WriteFile(dst, data, 0o644)
}
