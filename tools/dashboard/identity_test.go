package dashboard

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

func TestIdentityChecks(t *testing.T) {
	manifest := "genai-root-manifest 1\nedition server\nmemory_min_mb 180\nsegment base 3 file 5 usr/lib/base.marker\nsegment tools 2 dir 0 usr/share/tools\nend 2\n"
	whole := map[string]string{
		"etc/os-release":                  "NAME=\"GenAI OS\"\nID=genai-os\nPRETTY_NAME=\"GenAI OS 1.0 (server edition)\"\nVERSION_ID=1.0\nVARIANT_ID=server\nBUILD_ID=20251124T160000Z\n",
		"etc/consciousness/root.manifest": manifest,
		"usr/lib/base.marker":             "12345",
		"usr/share/tools/":                "",
		"var/lib/dpkg/status":             "Package: a\nStatus: install ok installed\n\nPackage: b\n",
		"proc/self/mounts":                "rootfs / rootfs rw 0 0\n",
	}
	layer := "squashfs bytes"
	sum := sha256.Sum256([]byte(layer))
	digest := hex.EncodeToString(sum[:])
	id := sha256.Sum256([]byte(digest + "\n"))
	medium := map[string]string{
		"proc/self/mounts":                   "overlay / overlay rw 0 0\n/dev/sr0 /run/live/medium iso9660 ro 0 0\n",
		"run/live/medium/live/build-id":      hex.EncodeToString(id[:]) + "\n",
		"run/live/medium/live/layers":        fmt.Sprintf("base %d %s\n", len(layer), digest),
		"run/live/medium/live/base.squashfs": layer,
		"run/live/medium/genai/build.json":   "{}\n",
	}
	for _, tc := range []struct {
		name   string
		files  map[string]string
		check  string
		status Status
		reason string
	}{
		{"os-release", whole, "os-release", Pass, "build 20251124T160000Z"},
		{"no build id", with(whole, map[string]string{"etc/os-release": "ID=genai-os\nPRETTY_NAME=x\n"}), "os-release", Warn, "no BUILD_ID"},
		{"no os-release", map[string]string{}, "os-release", Warn, "no /etc/os-release"},
		{"manifest whole", whole, "root-manifest", Pass, "2 initramfs segments are whole"},
		{"marker cut short", with(whole, map[string]string{"usr/lib/base.marker": "123"}), "root-manifest", Fail, "1 of 2 segments are not whole: base"},
		{"manifest truncated", with(whole, map[string]string{"etc/consciousness/root.manifest": strings.TrimSuffix(manifest, "end 2\n")}), "root-manifest", Fail, "cut short"},
		{"no manifest", map[string]string{}, "root-manifest", Pass, "not an initramfs"},
		{"sbom absent", whole, "sbom", Warn, "published beside the image"},
		{"medium whole", medium, "medium /run/live/medium", Pass, "its 1 layers hash to the digests"},
		{"medium layer changed", with(medium, map[string]string{"run/live/medium/live/base.squashfs": "squashfs bytez"}), "medium /run/live/medium", Fail, "1 of 1 layers differ"},
		{"medium other build", with(medium, map[string]string{"run/live/medium/live/build-id": strings.Repeat("0", 64) + "\n"}), "medium /run/live/medium", Fail, "the medium says 0000"},
		{"medium build.json", medium, "sbom", Pass, "/run/live/medium/genai/build.json sha256:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := only(t, identityChecks(fixture(t, tc.files)), tc.check)
			if f.Status != tc.status || !strings.Contains(f.Reason, tc.reason) {
				t.Errorf("got %s %q, want %s with %q (details %v)", f.Status, f.Reason, tc.status, tc.reason, f.Details)
			}
		})
	}
	f := only(t, identityChecks(fixture(t, whole)), "sbom")
	if f.Data["dpkg_packages"] != "2" {
		t.Errorf("dpkg packages = %q, want 2", f.Data["dpkg_packages"])
	}
}
