package dashboard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/genai-os/genai-build/initramfs/live"
	"github.com/genai-os/genai-build/initramfs/rootcheck"
)

func identityChecks(s *System) []Finding {
	fs := []Finding{osReleaseCheck(s), rootManifestCheck(s)}
	fs = append(fs, mediumCheck(s)...)
	return append(fs, sbomCheck(s))
}

// osRelease reads /etc/os-release (os-release(5): KEY=value, values maybe quoted).
func (s *System) osRelease() map[string]string {
	out := map[string]string{}
	b, err := s.read("/etc/os-release")
	if err != nil {
		return out
	}
	for _, l := range lines(b) {
		k, v, ok := strings.Cut(l, "=")
		if ok {
			out[k] = strings.Trim(v, `"'`)
		}
	}
	return out
}

func osReleaseCheck(s *System) Finding {
	f := Finding{Section: "identity", Check: "os-release"}
	o := s.osRelease()
	if o["ID"] == "" {
		f.Status, f.Reason = Warn, "no /etc/os-release: the system does not say what it is"
		return f
	}
	f.Data = map[string]string{"id": o["ID"], "version": o["VERSION_ID"], "variant": o["VARIANT_ID"], "build_id": o["BUILD_ID"]}
	if o["BUILD_ID"] == "" {
		f.Status, f.Reason = Warn, o["PRETTY_NAME"]+", with no BUILD_ID: the build cannot be named"
		return f
	}
	f.Status, f.Reason = Pass, fmt.Sprintf("%s, build %s", o["PRETTY_NAME"], o["BUILD_ID"])
	return f
}

// sha256File is the lower-case hex SHA-256 of a file and its size.
func sha256File(p string) (string, int64, error) {
	fd, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer fd.Close()
	h := sha256.New()
	n, err := io.Copy(h, fd)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// rootManifestCheck checks the root against the manifest the builder wrote into it: every
// initramfs segment's marker is there (the init checked the same before it reported ready).
func rootManifestCheck(s *System) Finding {
	f := Finding{Section: "identity", Check: "root-manifest"}
	p := "/" + rootcheck.Path
	b, err := s.read(p)
	if os.IsNotExist(err) {
		f.Status, f.Reason = Pass, "no "+p+": the root is not an initramfs (see the medium)"
		return f
	}
	if err != nil {
		f.Status, f.Reason = Warn, fmt.Sprintf("%s: %v", p, err)
		return f
	}
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:])
	f.Data = map[string]string{"sha256": digest}
	f.Details = append(f.Details, p+" sha256:"+digest)
	m, err := rootcheck.Parse(bytes.NewReader(b))
	if err != nil {
		f.Status, f.Reason = Fail, fmt.Sprintf("%s: %v", p, err)
		return f
	}
	f.Data["edition"] = m.Edition
	if miss := rootcheck.Check(s.Root, m); len(miss) > 0 {
		for _, x := range miss {
			f.Details = append(f.Details, "segment "+x.Segment.Name+": "+x.Why)
		}
		f.Status, f.Reason = Fail, fmt.Sprintf("%d of %d segments are not whole: %s", len(miss), len(m.Segments), rootcheck.Names(miss))
		return f
	}
	f.Status, f.Reason = Pass, fmt.Sprintf("the %s edition's %d initramfs segments are whole (their markers are in place)", m.Edition, len(m.Segments))
	return f
}

// medium finds a mounted boot medium: a mount point holding live/build-id.
func (s *System) medium() string {
	ms, _ := s.mounts()
	for _, m := range ms {
		if s.exists(filepath.Join(m.dir, live.BuildIDPath)) {
			return m.dir
		}
	}
	return ""
}

// mediumCheck verifies the layers on a mounted medium against its /live/layers list and the
// build id (the SHA-256 of the layers' digests, each in hex and a newline, lowest first).
func mediumCheck(s *System) []Finding {
	dir := s.medium()
	if dir == "" {
		return nil
	}
	f := Finding{Section: "identity", Check: "medium " + dir}
	id, err := s.read(filepath.Join(dir, live.BuildIDPath))
	if err != nil {
		f.Status, f.Reason = Fail, err.Error()
		return []Finding{f}
	}
	lb, err := s.read(filepath.Join(dir, live.LayersPath))
	if err != nil {
		f.Status, f.Reason = Fail, err.Error()
		return []Finding{f}
	}
	layers, err := live.ParseLayers(live.LayersPath, bytes.NewReader(lb))
	if err != nil {
		f.Status, f.Reason = Fail, err.Error()
		return []Finding{f}
	}
	want := strings.TrimSpace(string(id))
	f.Data = map[string]string{"build_id": want}
	h := sha256.New()
	bad := 0
	for _, l := range layers {
		h.Write([]byte(l.SHA256 + "\n"))
		got, n, err := sha256File(s.path(filepath.Join(dir, live.LayerDir, l.Name+live.LayerSuffix)))
		switch {
		case err != nil:
			bad++
			f.Details = append(f.Details, fmt.Sprintf("layer %s: %v", l.Name, err))
		case got != l.SHA256 || n != l.Size:
			bad++
			f.Details = append(f.Details, fmt.Sprintf("layer %s: sha256 %s (%d bytes), the list says %s (%d bytes)", l.Name, got, n, l.SHA256, l.Size))
		default:
			f.Details = append(f.Details, fmt.Sprintf("layer %s: sha256 %s, %d bytes, as listed", l.Name, got, n))
		}
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != want {
		f.Status, f.Reason = Fail, fmt.Sprintf("the layer list's digests make build %s, the medium says %s", sum, want)
		return []Finding{f}
	}
	if bad > 0 {
		f.Status, f.Reason = Fail, fmt.Sprintf("%d of %d layers differ from the build's list", bad, len(layers))
		return []Finding{f}
	}
	f.Status, f.Reason = Pass, fmt.Sprintf("build %s: its %d layers hash to the digests the build id is made of", live.Short(want), len(layers))
	return []Finding{f}
}

// sbomCheck looks for the build's manifest and SBOM. genai-build writes build.json into the ISO
// (/genai/build.json) and the SPDX SBOM beside the image; the root itself carries dpkg's database.
func sbomCheck(s *System) Finding {
	f := Finding{Section: "identity", Check: "sbom"}
	f.Data = map[string]string{}
	if b, err := s.read("/var/lib/dpkg/status"); err == nil {
		n := bytes.Count(b, []byte("\nPackage: "))
		if bytes.HasPrefix(b, []byte("Package: ")) {
			n++
		}
		f.Data["dpkg_packages"] = fmt.Sprint(n)
		f.Details = append(f.Details, fmt.Sprintf("/var/lib/dpkg/status: %d packages", n))
	}
	if dir := s.medium(); dir != "" {
		p := filepath.Join(dir, "genai/build.json")
		if sum, _, err := sha256File(s.path(p)); err == nil {
			f.Data["build_json_sha256"] = sum
			f.Status, f.Reason = Pass, p+" sha256:"+sum+": the build's record of every file and package"
			return f
		}
	}
	f.Status, f.Reason = Warn, "no build manifest or SBOM on this system: they are published beside the image (genai/build.json on the ISO, IMAGE.spdx.json)"
	return f
}
