// Package release lays out a signed GenAI OS release: the images of each edition with their build
// manifests and SBOMs, SHA256SUMS over them (GNU coreutils' sha256sum format), its detached
// OpenPGP signature, the public key and release notes generated from the manifests; and checks an
// image against such a release (Verify). It builds and boots nothing itself: the CLI hands it
// the builds and the boot results.
package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The files of a release folder that are not images.
const (
	SumsFile      = "SHA256SUMS"
	SignatureFile = "SHA256SUMS.asc"
	PublicKeyFile = "release-key.pub.asc"
	NotesFile     = "NOTES.md"
)

// Sum is one line of SHA256SUMS: a file's SHA-256 (lower-case hex) and its path in the folder.
type Sum struct {
	SHA256 string
	Name   string
}

// FormatSums writes sums as `sha256sum` does in text mode ("<hex>  <name>\n"; coreutils'
// md5sum/sha256sum --check format), sorted by name so the file is the same for the same folder.
func FormatSums(sums []Sum) ([]byte, error) {
	s := append([]Sum(nil), sums...)
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	var b bytes.Buffer
	for i, x := range s {
		if len(x.SHA256) != sha256.Size*2 {
			return nil, fmt.Errorf("%s: SHA-256 %q is not 64 hex digits", x.Name, x.SHA256)
		}
		// sha256sum escapes names with a newline or a backslash; ours never have them, so refuse.
		if x.Name == "" || strings.ContainsAny(x.Name, "\n\\") {
			return nil, fmt.Errorf("file name %q cannot be listed in %s", x.Name, SumsFile)
		}
		if i > 0 && s[i-1].Name == x.Name {
			return nil, fmt.Errorf("%s listed twice", x.Name)
		}
		fmt.Fprintf(&b, "%s  %s\n", x.SHA256, x.Name)
	}
	return b.Bytes(), nil
}

// ParseSums reads a SHA256SUMS file: "<hex>  <name>" (text mode) or "<hex> *<name>" (binary
// mode) per line. A malformed line is an error with its number.
func ParseSums(r io.Reader) ([]Sum, error) {
	var sums []Sum
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		hexSum, rest, ok := strings.Cut(line, " ")
		if !ok || len(rest) < 2 || (rest[0] != ' ' && rest[0] != '*') {
			return nil, fmt.Errorf("%s line %d: %q is not \"<sha256>  <file>\"", SumsFile, n, line)
		}
		if _, err := hex.DecodeString(hexSum); err != nil || len(hexSum) != sha256.Size*2 {
			return nil, fmt.Errorf("%s line %d: %q is not a SHA-256", SumsFile, n, hexSum)
		}
		sums = append(sums, Sum{SHA256: strings.ToLower(hexSum), Name: rest[1:]})
	}
	return sums, sc.Err()
}

// Lookup finds name in sums: the exact path, else the one entry whose base name it is (a user
// verifies a downloaded file by its own name).
func Lookup(sums []Sum, name string) (Sum, bool) {
	var found []Sum
	for _, s := range sums {
		if s.Name == name {
			return s, true
		}
		if filepath.Base(s.Name) == name {
			found = append(found, s)
		}
	}
	if len(found) == 1 {
		return found[0], true
	}
	return Sum{}, false
}

// SumDir hashes every regular file under dir but SHA256SUMS and its signature, named by their
// slash-separated path in dir.
func SumDir(dir string) ([]Sum, error) {
	var sums []Sum
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() || rel == SumsFile || rel == SignatureFile {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file; a release holds only files", p)
		}
		h, err := FileSHA256(p)
		if err != nil {
			return err
		}
		sums = append(sums, Sum{SHA256: h, Name: rel})
		return nil
	})
	return sums, err
}

// FileSHA256 is the SHA-256 of a file's contents, in hex.
func FileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
