// Package pesign signs PE/COFF images (a UKI, a boot loader) for UEFI Secure Boot with
// Authenticode, through github.com/foxboron/go-uefi, and checks such signatures.
//
// Signatures carry no authenticated attributes (pkcs7.NoAttr), so no signing time: with an RSA
// key (PKCS#1 v1.5 is deterministic) the same image and key give the same signed bytes.
package pesign

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/foxboron/go-uefi/authenticode"
	"github.com/foxboron/go-uefi/pkcs7"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/genai-os/genai-build/internal/sbkeys"
)

// Sign returns pe with an Authenticode signature by p appended (its certificate table).
func Sign(pe []byte, p sbkeys.Pair) ([]byte, error) {
	if p.Key == nil || p.Cert == nil {
		return nil, errors.New("pesign: no key or certificate")
	}
	bin, err := authenticode.Parse(bytes.NewReader(pe))
	if err != nil {
		return nil, fmt.Errorf("pesign: %w", err)
	}
	if _, err := bin.Sign(p.Key, p.Cert, pkcs7.NoAttr()); err != nil {
		return nil, fmt.Errorf("pesign: %w", err)
	}
	return bin.Bytes(), nil
}

// ErrNotSigned says the image carries no signature by the certificate.
var ErrNotSigned = errors.New("pesign: not signed by the certificate")

// Verify checks that pe carries a valid Authenticode signature by cert over its current bytes.
// (go-uefi's own Verify does not handle signatures without authenticated attributes.)
func Verify(pe []byte, cert *x509.Certificate) error {
	bin, err := authenticode.Parse(bytes.NewReader(pe))
	if err != nil {
		return fmt.Errorf("pesign: %w", err)
	}
	sigs, err := bin.Signatures()
	if err != nil {
		return fmt.Errorf("pesign: %w", err)
	}
	digest := bin.Hash(crypto.SHA256)
	var last error = ErrNotSigned
	for _, s := range sigs {
		a, err := authenticode.ParseAuthenticode(s.Certificate)
		if err != nil {
			last = fmt.Errorf("pesign: %w", err)
			continue
		}
		if !bytes.Equal(a.Digest, digest) {
			last = errors.New("pesign: the image's digest does not match its signature (changed after signing)")
			continue
		}
		// What was signed: the contents octets of the SpcIndirectDataContent SEQUENCE.
		ci := cryptobyte.String(a.Pkcs.ContentInfo)
		var content cryptobyte.String
		if !ci.ReadASN1(&content, asn1.SEQUENCE) {
			last = errors.New("pesign: malformed SpcIndirectDataContent")
			continue
		}
		if err := sbkeys.CheckSignedData(a.Pkcs, content, cert); errors.Is(err, sbkeys.ErrNotSigner) {
			last = fmt.Errorf("%w %s", ErrNotSigned, cert.Subject.CommonName)
			continue
		} else if err != nil {
			last = fmt.Errorf("pesign: %w", err)
			continue
		}
		return nil
	}
	return last
}
