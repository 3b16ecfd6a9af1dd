package hostkey

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
)

// The ed25519 key formats of OpenSSH: the public key blob (RFC 8709 section 4), the
// authorized_keys line (sshd(8)) and the "openssh-key-v1" private key container (OpenSSH's
// PROTOCOL.key), unencrypted.

const keyType = "ssh-ed25519"

// appendString appends an SSH string (RFC 4251 section 5): a uint32 length, then the bytes.
func appendString(b []byte, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// PublicBlob is the wire form of an ed25519 public key.
func PublicBlob(pub ed25519.PublicKey) []byte {
	return appendString(appendString(nil, []byte(keyType)), pub)
}

// AuthorizedKey is the one-line text form of pub ("ssh-ed25519 AAAA... comment\n").
func AuthorizedKey(pub ed25519.PublicKey, comment string) []byte {
	line := keyType + " " + base64.StdEncoding.EncodeToString(PublicBlob(pub))
	if comment != "" {
		line += " " + comment
	}
	return []byte(line + "\n")
}

// Fingerprint is pub's SHA256 fingerprint as ssh-keygen -l prints it.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(PublicBlob(pub))
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// PrivateKeyPEM is priv in an unencrypted "OPENSSH PRIVATE KEY" block. check is the check integer
// written twice before the key (a decryption check; random in ssh-keygen).
func PrivateKeyPEM(priv ed25519.PrivateKey, comment string, check uint32) []byte {
	pub := priv.Public().(ed25519.PublicKey)
	var sec []byte
	sec = binary.BigEndian.AppendUint32(sec, check)
	sec = binary.BigEndian.AppendUint32(sec, check)
	sec = appendString(sec, []byte(keyType))
	sec = appendString(sec, pub)
	sec = appendString(sec, priv) // seed and public key, 64 bytes
	sec = appendString(sec, []byte(comment))
	for i := byte(1); len(sec)%8 != 0; i++ { // padding to the "none" cipher's block size
		sec = append(sec, i)
	}
	b := append([]byte("openssh-key-v1"), 0)
	b = appendString(b, []byte("none")) // cipher
	b = appendString(b, []byte("none")) // KDF
	b = appendString(b, nil)            // KDF options
	b = binary.BigEndian.AppendUint32(b, 1)
	b = appendString(b, PublicBlob(pub))
	b = appendString(b, sec)
	return pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: b})
}
