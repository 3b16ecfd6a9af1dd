package build

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SPDX 2.3 JSON (https://spdx.github.io/spdx-spec/v2.3/): the document, its packages and what
// contains what. Only the fields the image's inputs can fill are written.
type spdxDoc struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreation       `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string         `json:"name"`
	SPDXID           string         `json:"SPDXID"`
	VersionInfo      string         `json:"versionInfo,omitempty"`
	DownloadLocation string         `json:"downloadLocation"`
	FilesAnalyzed    bool           `json:"filesAnalyzed"`
	LicenseConcluded string         `json:"licenseConcluded"`
	LicenseDeclared  string         `json:"licenseDeclared"`
	LicenseComments  string         `json:"licenseComments,omitempty"`
	CopyrightText    string         `json:"copyrightText"`
	Checksums        []spdxChecksum `json:"checksums,omitempty"`
	ExternalRefs     []spdxRef      `json:"externalRefs,omitempty"`
	Comment          string         `json:"comment,omitempty"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

var spdxIDChars = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// SBOM renders the manifest as an SPDX 2.3 JSON document: the image, and every input in it (Debian
// packages with their purl and licence as Debian's copyright file states it, the kernel, the boot
// loaders, the Go programs).
func SBOM(m *Manifest) ([]byte, error) {
	if m.Image == nil {
		return nil, fmt.Errorf("sbom: the manifest has no image")
	}
	created := time.Unix(m.SourceDateEpoch, 0).UTC().Format(time.RFC3339)
	// The copy on the medium cannot know the image's digest: its namespace names the build's
	// source date instead.
	id := m.Image.SHA256
	if id == "" {
		id = "medium-" + strconv.FormatInt(m.SourceDateEpoch, 10)
	}
	doc := spdxDoc{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT", Name: m.Image.Name,
		DocumentNamespace: "https://spdx.genai-os.invalid/" + m.Image.Name + "-" + id,
		CreationInfo:      spdxCreation{Created: created, Creators: []string{"Tool: genai-build"}},
	}
	image := spdxPackage{Name: m.Image.Name, SPDXID: "SPDXRef-Image", VersionInfo: m.Version, DownloadLocation: "NOASSERTION",
		LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
		Comment: fmt.Sprintf("GenAI OS %s edition %s (%s), kernel %s", m.Edition, m.Version, m.Arch, m.Kernel)}
	if m.Image.SHA256 != "" {
		image.Checksums = []spdxChecksum{{"SHA256", m.Image.SHA256}}
	}
	doc.Packages = append(doc.Packages, image)
	doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"})
	seen := map[string]bool{}
	add := func(p spdxPackage) {
		id := "SPDXRef-" + spdxIDChars.ReplaceAllString(p.Name+"-"+p.VersionInfo, "-")
		if seen[id] {
			return
		}
		seen[id] = true
		p.SPDXID = id
		doc.Packages = append(doc.Packages, p)
		doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-Image", "CONTAINS", id})
	}
	debs := map[string]InstalledPackage{}
	for _, p := range m.Packages {
		debs[p.Name] = p
	}
	for _, in := range m.Inputs {
		p := spdxPackage{Name: in.Name, VersionInfo: in.Version, DownloadLocation: "NOASSERTION", LicenseConcluded: "NOASSERTION",
			LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION", Checksums: []spdxChecksum{{"SHA256", in.SHA256}}, Comment: in.From}
		if strings.HasPrefix(in.From, "debian:") {
			arch := "amd64"
			if d, ok := debs[in.Name]; ok {
				arch = d.Architecture
				if d.License != "" {
					p.LicenseComments = "Debian copyright file: " + d.License
				}
			}
			p.ExternalRefs = []spdxRef{{"PACKAGE-MANAGER", "purl", fmt.Sprintf("pkg:deb/debian/%s@%s?arch=%s", in.Name, in.Version, arch)}}
		}
		add(p)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
