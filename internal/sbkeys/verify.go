package sbkeys

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/foxboron/go-uefi/efi/signature"
	"github.com/foxboron/go-uefi/efivar"
	"github.com/foxboron/go-uefi/pkcs7"
)

// ErrNotSigner says no signature in a PKCS#7 SignedData is cert's.
var ErrNotSigner = errors.New("not signed by the certificate")

// CheckSignedData checks that p holds a valid RSA/SHA-256 signature by cert over content (the
// contents octets that were signed). It accepts a SignerInfo with authenticated attributes (then
// their messageDigest must be SHA-256(content), RFC 2315 §9.3) and one without (then the
// signature is over content itself), which go-uefi's own Verify does not.
func CheckSignedData(p *pkcs7.PKCS7, content []byte, cert *x509.Certificate) error {
	for _, si := range p.SignerInfo {
		if si.IssuerAndSerialnumber == nil || !bytes.Equal(si.IssuerAndSerialnumber.RawIssuer, cert.RawIssuer) ||
			si.IssuerAndSerialnumber.SerialNumber.Cmp(cert.SerialNumber) != 0 {
			continue
		}
		signed := content
		if a := si.AuthenticatedAttributes; a != nil {
			sum := sha256.Sum256(content)
			if !bytes.Equal(a.MessageDigest, sum[:]) {
				return errors.New("messageDigest attribute does not match the content")
			}
			signed = a.RawBytes
		}
		if err := cert.CheckSignature(x509.SHA256WithRSA, signed, si.EncryptedDigest); err != nil {
			return fmt.Errorf("signature by %s: %w", cert.Subject.CommonName, err)
		}
		return nil
	}
	return fmt.Errorf("%w %s", ErrNotSigner, cert.Subject.CommonName)
}

// VerifyAuth checks an authenticated variable update made by Auth: that it is for variable v
// and signed by cert. It returns the signature list it carries.
func VerifyAuth(v efivar.Efivar, auth []byte, cert *x509.Certificate) ([]byte, error) {
	r := bytes.NewReader(auth)
	a, err := signature.ReadEFIVariableAuthencation2(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.Name, err)
	}
	esl := auth[len(auth)-r.Len():]
	var payload bytes.Buffer
	for _, c := range v.Name {
		payload.Write([]byte{byte(c), 0})
	}
	for _, d := range []any{*v.GUID, uint32(v.Attributes), a.Time} {
		if err := binary.Write(&payload, binary.LittleEndian, d); err != nil {
			return nil, err
		}
	}
	payload.Write(esl)
	p, err := pkcs7.ParsePKCS7(a.AuthInfo.CertData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.Name, err)
	}
	if err := CheckSignedData(p, payload.Bytes(), cert); err != nil {
		return nil, fmt.Errorf("%s: %w", v.Name, err)
	}
	return esl, nil
}
