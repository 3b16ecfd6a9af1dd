package build

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdxlib"
)

// validSPDX reads data with the SPDX project's own Go library (its JSON loader for SPDX 2.3, then
// its document validation) and checks the fields SPDX 2.3 requires of the document (chapter 6)
// and of each package (chapter 7) that the loader takes without complaint.
func validSPDX(t *testing.T, data []byte) *spdx.Document {
	t.Helper()
	doc, err := json.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("SPDX JSON loader: %v", err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatalf("SPDX validation: %v", err)
	}
	if doc.SPDXVersion != spdx.Version || doc.DataLicense != spdx.DataLicense || doc.SPDXIdentifier != "DOCUMENT" ||
		doc.DocumentName == "" || doc.DocumentNamespace == "" {
		t.Errorf("document: version %q, data licence %q, id %q, name %q, namespace %q",
			doc.SPDXVersion, doc.DataLicense, doc.SPDXIdentifier, doc.DocumentName, doc.DocumentNamespace)
	}
	if doc.CreationInfo == nil || doc.CreationInfo.Created == "" || len(doc.CreationInfo.Creators) == 0 {
		t.Errorf("creation info: %+v", doc.CreationInfo)
	}
	ids := map[spdx.ElementID]bool{}
	for _, p := range doc.Packages {
		if ids[p.PackageSPDXIdentifier] {
			t.Errorf("package id %s used twice", p.PackageSPDXIdentifier)
		}
		ids[p.PackageSPDXIdentifier] = true
		if p.PackageName == "" || p.PackageDownloadLocation == "" {
			t.Errorf("package %s: name %q, download location %q", p.PackageSPDXIdentifier, p.PackageName, p.PackageDownloadLocation)
		}
	}
	describes := false
	for _, r := range doc.Relationships {
		describes = describes || (r.Relationship == "DESCRIBES" && r.RefA.ElementRefID == "DOCUMENT")
	}
	if !describes {
		t.Error("the document describes nothing (no DESCRIBES relationship)")
	}
	return doc
}

func sbomManifest() *Manifest {
	return &Manifest{Edition: "server", Version: "0.1.0", Arch: "amd64", SourceDateEpoch: 1700000000, Kernel: "6.12.57+deb13-amd64",
		Image: &ImageRecord{Name: "genai-os-server-0.1.0-amd64.iso", Format: "iso", Size: 1 << 20, SHA256: strings.Repeat("a", 64)},
		Inputs: []Input{
			{Name: "linux-image-6.12.57+deb13-amd64", Version: "6.12.57-1", SHA256: strings.Repeat("b", 64), From: "debian:trixie:pool/main/l/linux-signed-amd64/x.deb", Recipe: "kernel"},
			{Name: "openssh-server", Version: "1:10.0p1-7", SHA256: strings.Repeat("c", 64), From: "debian:trixie:pool/main/o/openssh/y.deb", Recipe: "server-packages"},
			{Name: "consciousness-init", Version: "source", SHA256: strings.Repeat("d", 64), From: "go:./initramfs/cmd/consciousness-init", Recipe: "consciousness-init"},
			// The same input twice (two recipes naming it) is one SPDX package.
			{Name: "openssh-server", Version: "1:10.0p1-7", SHA256: strings.Repeat("c", 64), From: "debian:trixie:pool/main/o/openssh/y.deb", Recipe: "other"},
		},
		Packages: []InstalledPackage{{Name: "openssh-server", Version: "1:10.0p1-7", Architecture: "amd64", License: "BSD-2-clause"}},
	}
}

// TestSBOMValidSPDX: the SBOM of a manifest passes the SPDX library's loader and validation, and
// says what a reader of it looks for: each input once with its digest, Debian packages with
// their purl and licence, the image contained in the document.
func TestSBOMValidSPDX(t *testing.T) {
	data, err := SBOM(sbomManifest())
	if err != nil {
		t.Fatal(err)
	}
	doc := validSPDX(t, data)
	if len(doc.Packages) != 4 {
		t.Fatalf("%d packages, want the image and 3 inputs", len(doc.Packages))
	}
	byName := map[string]*spdx.Package{}
	for _, p := range doc.Packages {
		byName[p.PackageName] = p
	}
	img := byName["genai-os-server-0.1.0-amd64.iso"]
	if img == nil || img.PackageSPDXIdentifier != "Image" || len(img.PackageChecksums) != 1 || img.PackageChecksums[0].Value != strings.Repeat("a", 64) {
		t.Errorf("image package: %+v", img)
	}
	ssh := byName["openssh-server"]
	if ssh == nil || len(ssh.PackageExternalReferences) != 1 ||
		ssh.PackageExternalReferences[0].Locator != "pkg:deb/debian/openssh-server@1:10.0p1-7?arch=amd64" ||
		!strings.Contains(ssh.PackageLicenseComments, "BSD-2-clause") || ssh.PackageChecksums[0].Algorithm != spdx.SHA256 {
		t.Errorf("openssh-server: %+v", ssh)
	}
	if p := byName["consciousness-init"]; p == nil || len(p.PackageExternalReferences) != 0 || p.PackageVersion != "source" {
		t.Errorf("consciousness-init: %+v", p)
	}
	contained := 0
	for _, r := range doc.Relationships {
		if r.Relationship == "CONTAINS" && r.RefA.ElementRefID == "Image" {
			contained++
		}
	}
	if contained != 3 {
		t.Errorf("the image contains %d packages, want 3", contained)
	}
	if doc.CreationInfo.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("created %q, want the source date", doc.CreationInfo.Created)
	}
	if _, err := SBOM(&Manifest{}); err == nil {
		t.Error("an SBOM was written for a manifest with no image")
	}
}

// TestSPDXValidatorRefuses: the validator used above does refuse broken documents, so the test
// cannot pass by accident.
func TestSPDXValidatorRefuses(t *testing.T) {
	good, err := SBOM(sbomManifest())
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"dangling relationship": bytes.Replace(good, []byte(`"relatedSpdxElement": "SPDXRef-Image"`), []byte(`"relatedSpdxElement": "SPDXRef-Nothing"`), 1),
		"id without SPDXRef-":   bytes.Replace(good, []byte(`"SPDXID": "SPDXRef-Image"`), []byte(`"SPDXID": "Image"`), 1),
		"unknown version":       bytes.Replace(good, []byte(`"SPDX-2.3"`), []byte(`"SPDX-9.9"`), 1),
	} {
		if bytes.Equal(bad, good) {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		doc, err := json.Read(bytes.NewReader(bad))
		if err == nil {
			err = spdxlib.ValidateDocument(doc)
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSBOMOnMediumValidSPDX: the copy the medium carries cannot know the image's digest; it is
// valid SPDX all the same, with no checksum on the image and every input's intact.
func TestSBOMOnMediumValidSPDX(t *testing.T) {
	m := sbomManifest()
	m.Image = &ImageRecord{Name: m.Image.Name}
	data, err := SBOM(m)
	if err != nil {
		t.Fatal(err)
	}
	doc := validSPDX(t, data)
	if len(doc.Packages) != 4 {
		t.Fatalf("%d packages, want the image and 3 inputs", len(doc.Packages))
	}
	for _, p := range doc.Packages {
		if p.PackageSPDXIdentifier == "Image" && len(p.PackageChecksums) != 0 {
			t.Errorf("the image has checksums %+v on the medium, where its digest cannot be known", p.PackageChecksums)
		}
		if p.PackageSPDXIdentifier != "Image" && len(p.PackageChecksums) != 1 {
			t.Errorf("%s: checksums %+v", p.PackageName, p.PackageChecksums)
		}
	}
	if !strings.Contains(doc.DocumentNamespace, "-medium-") {
		t.Errorf("namespace %q does not say it is the medium's copy", doc.DocumentNamespace)
	}
}
