package debian

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Release is the verified content of a suite's InRelease file
// (the "Release files" section of DebianRepository/Format on the Debian wiki).
type Release struct {
	Origin, Label    string
	Suite, Codename  string // e.g. "stable", "trixie"
	Version          string
	Date, ValidUntil time.Time // ValidUntil is zero when the file has none
	AcquireByHash    bool
	Architectures    []string
	Components       []string
	// Files lists the SHA256 section: path relative to dists/<suite>/ -> size and digest.
	Files map[string]FileRef
	// SignedBy holds the fingerprints (upper-case hex) of the primary keys whose signatures
	// verified, in signature order.
	SignedBy []string
	// Dist is the dists/ folder name to fetch indices from: Codename, or Suite when it has none.
	Dist string
}

// FileRef is one entry of a Release file's SHA256 list.
type FileRef struct {
	Size   int64
	SHA256 string
}

// ErrNotVerified is returned by VerifyInRelease when no signature verifies with a key from the
// keyring: the file is unsigned, was changed, or was signed only by keys the caller does not trust.
var ErrNotVerified = errors.New("no valid signature from a key in the keyring")

// ErrExpired is returned by VerifyInRelease when the Release is past its Valid-Until.
var ErrExpired = errors.New("release file expired")

const clearsignHeader = "-----BEGIN PGP SIGNED MESSAGE-----"

// VerifyInRelease checks that data (an InRelease file, RFC 4880 §7 cleartext-signed) carries at
// least one good signature by a key in keyring (binary or armored OpenPGP keys), that it is not
// expired at now (Valid-Until), and parses the signed text only. Signatures by keys missing from
// the keyring are ignored, as apt does: Debian signs with several keys at once.
func VerifyInRelease(data []byte, keyring io.Reader, now time.Time) (*Release, error) {
	if now.IsZero() {
		return nil, errors.New("verify InRelease: no current time given")
	}
	ring, err := readKeyRing(keyring)
	if err != nil {
		return nil, fmt.Errorf("verify InRelease: keyring: %w", err)
	}
	// Text outside the signed block would be read by nobody here, but refuse it so a file
	// that was tampered with that way is not mistaken for a clean one.
	if !bytes.HasPrefix(data, []byte(clearsignHeader)) {
		return nil, fmt.Errorf("verify InRelease: not a cleartext-signed message: %w", ErrNotVerified)
	}
	block, rest := clearsign.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("verify InRelease: malformed cleartext signature: %w", ErrNotVerified)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("verify InRelease: %d bytes of unsigned data after the signature", len(rest))
	}
	sigs, err := io.ReadAll(block.ArmoredSignature.Body)
	if err != nil {
		return nil, fmt.Errorf("verify InRelease: reading signature: %w: %w", err, ErrNotVerified)
	}
	signers, err := verifyEach(ring, block.Bytes, sigs, now)
	if err != nil {
		return nil, fmt.Errorf("verify InRelease: %w", err)
	}
	rel, err := ParseRelease(bytes.NewReader(block.Plaintext))
	if err != nil {
		return nil, fmt.Errorf("InRelease: %w", err)
	}
	rel.SignedBy = signers
	if !rel.ValidUntil.IsZero() && now.After(rel.ValidUntil) {
		return nil, fmt.Errorf("InRelease of %s: valid until %s, now is %s: %w", rel.Dist,
			rel.ValidUntil.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrExpired)
	}
	return rel, nil
}

func readKeyRing(r io.Reader) (openpgp.EntityList, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var ring openpgp.EntityList
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("-----BEGIN")) {
		ring, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(raw))
	} else {
		ring, err = openpgp.ReadKeyRing(bytes.NewReader(raw))
	}
	if err != nil {
		return nil, err
	}
	if len(ring) == 0 {
		return nil, errors.New("no keys")
	}
	return ring, nil
}

// verifyEach checks every signature packet in sigs on its own. go-crypto's
// VerifyDetachedSignature verifies only the first signature whose issuer is in the keyring; by
// handing it a keyring holding just that issuer's entity, each signature gets its turn, and a
// bad signature by one trusted key cannot hide a good one by another. It returns the
// fingerprints of the keys whose signatures verified (at least one, or ErrNotVerified).
func verifyEach(ring openpgp.EntityList, signed, sigs []byte, now time.Time) ([]string, error) {
	cfg := &packet.Config{Time: func() time.Time { return now }}
	pr := packet.NewReader(bytes.NewReader(sigs))
	var (
		signers  []string
		problems []string
		tried    = map[uint64]bool{}
	)
	for {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			problems = append(problems, err.Error())
			break
		}
		sig, ok := p.(*packet.Signature)
		if !ok {
			return nil, fmt.Errorf("unexpected %T in signature: %w", p, ErrNotVerified)
		}
		if sig.IssuerKeyId == nil {
			problems = append(problems, "signature without issuer")
			continue
		}
		id := *sig.IssuerKeyId
		if tried[id] {
			continue
		}
		tried[id] = true
		keys := ring.KeysByIdUsage(id, packet.KeyFlagSign)
		if len(keys) == 0 {
			problems = append(problems, fmt.Sprintf("key %016X: not in the keyring", id))
			continue
		}
		var only openpgp.EntityList
		for _, k := range keys {
			if !containsEntity(only, k.Entity) {
				only = append(only, k.Entity)
			}
		}
		_, signer, err := openpgp.VerifyDetachedSignature(only, bytes.NewReader(signed), bytes.NewReader(sigs), cfg)
		if err != nil {
			problems = append(problems, fmt.Sprintf("key %016X: %v", id, err))
			continue
		}
		signers = append(signers, fmt.Sprintf("%X", signer.PrimaryKey.Fingerprint))
	}
	if len(signers) == 0 {
		if len(problems) == 0 {
			problems = append(problems, "no signatures")
		}
		return nil, fmt.Errorf("%s: %w", strings.Join(problems, "; "), ErrNotVerified)
	}
	return signers, nil
}

func containsEntity(l openpgp.EntityList, e *openpgp.Entity) bool {
	for _, x := range l {
		if x == e {
			return true
		}
	}
	return false
}

// ParseRelease parses the (already verified) text of a Release file.
func ParseRelease(r io.Reader) (*Release, error) {
	paras, err := ParseControl(r)
	if err != nil {
		return nil, err
	}
	if len(paras) != 1 {
		return nil, fmt.Errorf("want one paragraph, got %d", len(paras))
	}
	p := paras[0]
	rel := &Release{
		Origin:        p.Get("Origin"),
		Label:         p.Get("Label"),
		Suite:         p.Get("Suite"),
		Codename:      p.Get("Codename"),
		Version:       p.Get("Version"),
		AcquireByHash: strings.EqualFold(p.Get("Acquire-By-Hash"), "yes"),
		Architectures: strings.Fields(p.Get("Architectures")),
		Components:    strings.Fields(p.Get("Components")),
		Files:         map[string]FileRef{},
	}
	rel.Dist = rel.Codename
	if rel.Dist == "" {
		rel.Dist = rel.Suite
	}
	if rel.Dist == "" {
		return nil, errors.New("neither Suite nor Codename")
	}
	if strings.Contains(rel.Dist, "/") || strings.Contains(rel.Dist, "..") {
		return nil, fmt.Errorf("invalid suite name %q", rel.Dist)
	}
	if rel.Date, err = parseReleaseDate(p.Get("Date")); err != nil {
		return nil, fmt.Errorf("Date: %w", err)
	}
	if v, ok := p.Lookup("Valid-Until"); ok {
		if rel.ValidUntil, err = parseReleaseDate(v); err != nil {
			return nil, fmt.Errorf("Valid-Until: %w", err)
		}
	}
	sums, ok := p.Lookup("SHA256")
	if !ok {
		return nil, errors.New("no SHA256 file list")
	}
	for _, l := range strings.Split(sums, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 || !hexDigest(f[0]) {
			return nil, fmt.Errorf("SHA256: malformed line %q", truncate(l, 80))
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("SHA256: bad size in %q", truncate(l, 80))
		}
		rel.Files[f[2]] = FileRef{Size: size, SHA256: strings.ToLower(f[0])}
	}
	return rel, nil
}

// FileNames returns the paths of Files, sorted.
func (r *Release) FileNames() []string {
	names := make([]string, 0, len(r.Files))
	for n := range r.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// parseReleaseDate reads the RFC 2822 dates of Release files ("Sat, 21 Nov 2026 09:15:44 UTC").
func parseReleaseDate(s string) (time.Time, error) {
	for _, layout := range []string{
		"Mon, _2 Jan 2006 15:04:05 MST",
		"Mon, _2 Jan 2006 15:04:05 -0700",
		"Mon, 2 Jan 2006 15:04:05 MST",
		"Mon, 2 Jan 2006 15:04:05 -0700",
	} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse date %q", s)
}

func hexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
