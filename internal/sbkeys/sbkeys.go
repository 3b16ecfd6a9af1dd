// Package sbkeys makes and reads an organisation's UEFI Secure Boot key set: the Platform Key (PK),
// the Key Exchange Key (KEK) and the signature database key (db), each an RSA key with a
// self-signed X.509 certificate. Write also stores what firmware in Setup Mode needs to enrol
// them: EFI signature lists (.esl) and time-based authenticated variable updates (.auth), signed
// PK by PK, KEK by PK and db by KEK (UEFI 2.10 §32.3 "Secure Boot variables").
package sbkeys

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/foxboron/go-uefi/efi/signature"
	"github.com/foxboron/go-uefi/efi/util"
	"github.com/foxboron/go-uefi/efivar"
	"github.com/foxboron/go-uefi/pkcs7"
	"golang.org/x/crypto/cryptobyte"
)

// KeyBits is the RSA modulus size. RSA (not ECDSA) because PKCS#1 v1.5 signatures are
// deterministic and every UEFI implementation verifies RSA-2048 (UEFI 2.10 §32.6.3).
const KeyBits = 2048

// Pair is one private key and its certificate.
type Pair struct {
	Key  crypto.Signer
	Cert *x509.Certificate
}

// Set is an organisation's three Secure Boot keys.
type Set struct{ PK, KEK, DB Pair }

// Names of the three keys, as the files in a key folder are named (PK.key, KEK.crt, db.auth, ...).
const (
	NamePK  = "PK"
	NameKEK = "KEK"
	NameDB  = "db"
)

// validity of the certificates: firmware does not check expiry (edk2 verifies Authenticode
// signatures without a time), but other tools do; 20 years covers a machine's life.
const validity = 20 * 365 * 24 * time.Hour

// Generate makes a new key set for org, with certificates named "<org> PK", "<org> KEK" and
// "<org> db".
func Generate(org string) (*Set, error) {
	if org == "" {
		return nil, errors.New("sbkeys: empty organisation name")
	}
	var s Set
	err := s.fill(func(name string) (Pair, error) {
		p, err := generatePair(org, name)
		if err != nil {
			return Pair{}, fmt.Errorf("sbkeys: %s: %w", name, err)
		}
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// fill sets PK, KEK and db, in that order, to what get returns for each name.
func (s *Set) fill(get func(name string) (Pair, error)) error {
	for _, k := range []struct {
		name string
		p    *Pair
	}{{NamePK, &s.PK}, {NameKEK, &s.KEK}, {NameDB, &s.DB}} {
		p, err := get(k.name)
		if err != nil {
			return err
		}
		*k.p = p
	}
	return nil
}

func generatePair(org, name string) (Pair, error) {
	key, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return Pair{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return Pair{}, err
	}
	// The generation time, not a source date: a key set is made once, by a person.
	now := time.Now().UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: org + " " + name, Organization: []string{org}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return Pair{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Key: key, Cert: cert}, nil
}

// OwnerGUID is the SignatureOwner of a certificate in an EFI signature list: a name-based GUID
// (RFC 9562 §5.8, version 8) from the SHA-256 of the certificate, so that the same certificate
// always gets the same owner. Returned in the on-disk byte order (UEFI 2.10 Appendix A).
func OwnerGUID(cert *x509.Certificate) [16]byte {
	sum := sha256.Sum256(cert.Raw)
	var g [16]byte
	copy(g[:], sum[:16])
	g[6] = g[6]&0x0f | 0x80 // version 8
	g[8] = g[8]&0x3f | 0x80 // variant 10
	return g
}

func efiGUID(b [16]byte) util.EFIGUID {
	var g util.EFIGUID
	_ = binary.Read(bytes.NewReader(b[:]), binary.LittleEndian, &g)
	return g
}

// ESL returns an EFI_SIGNATURE_LIST of type EFI_CERT_X509_GUID holding cert (UEFI 2.10
// §32.4.1), owned by OwnerGUID(cert).
func ESL(cert *x509.Certificate) ([]byte, error) {
	db := signature.NewSignatureDatabase()
	if err := db.Append(signature.CERT_X509_GUID, efiGUID(OwnerGUID(cert)), cert.Raw); err != nil {
		return nil, fmt.Errorf("signature list of %s: %w", cert.Subject.CommonName, err)
	}
	return db.Bytes(), nil
}

// EFITime is the 16-byte EFI_TIME of t in UTC (UEFI 2.10 §8.3.1), with the fields the time-based
// authenticated variables require zero: Pad1, Nanosecond, TimeZone, Daylight, Pad2 (§8.2.2,
// EFI_VARIABLE_AUTHENTICATION_2).
func EFITime(t time.Time) util.EFITime {
	t = t.UTC()
	return util.EFITime{Year: uint16(t.Year()), Month: uint8(t.Month()), Day: uint8(t.Day()),
		Hour: uint8(t.Hour()), Minute: uint8(t.Minute()), Second: uint8(t.Second())}
}

// Auth returns the authenticated update of variable v to the signature list esl, signed by
// signer: EFI_VARIABLE_AUTHENTICATION_2 followed by the data (UEFI 2.10 §8.2.2). It is go-uefi's
// signature.SignEFIVariable with the time taken from the argument instead of the clock and no
// signing-time attribute, so that equal input gives equal bytes.
func Auth(v efivar.Efivar, esl []byte, signer Pair, at time.Time) ([]byte, error) {
	ts := EFITime(at)
	// The signed data: VariableName (UCS-2, no NUL) ‖ VendorGuid ‖ Attributes ‖ TimeStamp ‖ Data.
	var payload bytes.Buffer
	for _, c := range v.Name {
		payload.Write([]byte{byte(c), 0})
	}
	for _, d := range []any{*v.GUID, uint32(v.Attributes), ts} {
		if err := binary.Write(&payload, binary.LittleEndian, d); err != nil {
			return nil, err
		}
	}
	payload.Write(esl)
	der, err := pkcs7.SignPKCS7(signer.Key, signer.Cert, pkcs7.OIDData, payload.Bytes(), pkcs7.NoAttr())
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", v.Name, err)
	}
	// AuthInfo.CertData is the SignedData itself, without the outer ContentInfo (§8.2.2).
	cs := cryptobyte.String(der)
	_, signed, err := pkcs7.ParseContentInfo(&cs)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", v.Name, err)
	}
	auth := signature.NewEFIVariableAuthentication2()
	auth.Time = ts
	auth.AuthInfo.Header.Length += uint32(len(signed))
	auth.AuthInfo.CertData = signed
	var out bytes.Buffer
	auth.Marshal(&out)
	out.Write(esl)
	return out.Bytes(), nil
}

// file modes: the private keys are readable by their owner only.
const (
	keyMode    = 0o600
	publicMode = 0o644
)

// Write stores s in dir (created 0700 if missing): <name>.key (PKCS#8 PEM, 0600), <name>.crt
// (PEM), <name>.cer (DER, what firmware setup menus import), <name>.esl and <name>.auth for PK,
// KEK and db. The .auth files carry sourceDate as their EFI_TIME.
func Write(dir string, s *Set, sourceDate time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sbkeys: %w", err)
	}
	type entry struct {
		name   string
		p      Pair
		v      efivar.Efivar
		signer Pair
	}
	for _, e := range []entry{
		{NamePK, s.PK, efivar.PK, s.PK},
		{NameKEK, s.KEK, efivar.KEK, s.PK},
		{NameDB, s.DB, efivar.Db, s.KEK},
	} {
		keyDER, err := x509.MarshalPKCS8PrivateKey(e.p.Key)
		if err != nil {
			return fmt.Errorf("sbkeys: %s key: %w", e.name, err)
		}
		esl, err := ESL(e.p.Cert)
		if err != nil {
			return fmt.Errorf("sbkeys: %w", err)
		}
		auth, err := Auth(e.v, esl, e.signer, sourceDate)
		if err != nil {
			return fmt.Errorf("sbkeys: %s: %w", e.name, err)
		}
		files := []struct {
			ext  string
			data []byte
			mode os.FileMode
		}{
			{".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), keyMode},
			{".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.p.Cert.Raw}), publicMode},
			{".cer", e.p.Cert.Raw, publicMode},
			{".esl", esl, publicMode},
			{".auth", auth, publicMode},
		}
		for _, f := range files {
			if err := writeFile(filepath.Join(dir, e.name+f.ext), f.data, f.mode); err != nil {
				return fmt.Errorf("sbkeys: %w", err)
			}
		}
	}
	return nil
}

// writeFile writes data with exactly mode, whatever the umask or an earlier file's mode.
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Load reads the key set Write stored in dir.
func Load(dir string) (*Set, error) {
	var s Set
	if err := s.fill(func(name string) (Pair, error) { return LoadPair(dir, name) }); err != nil {
		return nil, err
	}
	return &s, nil
}

// LoadDB reads only the db key and certificate: what signing a boot image needs.
func LoadDB(dir string) (Pair, error) { return LoadPair(dir, NameDB) }

// LoadPair reads <dir>/<name>.key and <dir>/<name>.crt and checks that they belong together.
func LoadPair(dir, name string) (Pair, error) {
	keyPath := filepath.Join(dir, name+".key")
	certPath := filepath.Join(dir, name+".crt")
	kb, err := pemBlock(keyPath, "PRIVATE KEY")
	if err != nil {
		return Pair{}, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb)
	if err != nil {
		return Pair{}, fmt.Errorf("%s: %w", keyPath, err)
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return Pair{}, fmt.Errorf("%s: %T, want an RSA key", keyPath, k)
	}
	cb, err := pemBlock(certPath, "CERTIFICATE")
	if err != nil {
		return Pair{}, err
	}
	cert, err := x509.ParseCertificate(cb)
	if err != nil {
		return Pair{}, fmt.Errorf("%s: %w", certPath, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return Pair{}, fmt.Errorf("%s does not hold the public key of %s", certPath, keyPath)
	}
	return Pair{Key: key, Cert: cert}, nil
}

func pemBlock(path, typ string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != typ {
		return nil, fmt.Errorf("%s: no PEM %q block", path, typ)
	}
	return b.Bytes, nil
}
