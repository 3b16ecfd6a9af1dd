// Package hostkey is the ssh-hostkey command: it makes an SSH host key at first boot, an ed25519
// key in OpenSSH's format, as `ssh-keygen -t ed25519 -N ""` would. ssh-keygen under software
// emulation spends seconds in the dynamic loader and OpenSSL's start-up; this takes milliseconds,
// and the boot's ready line waits for it (sshd needs the key). It is an applet of the init's binary
// (see initramfs/cmd/consciousness-init).
//
// Usage: ssh-hostkey [-f /etc/ssh/ssh_host_ed25519_key]
// An existing key is kept (exit 0): the command is safe to run on every boot.
package hostkey

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"filippo.io/edwards25519"
	"golang.org/x/crypto/ssh"
)

// Run runs the command with args (without the program name), reporting on stdout and taking the
// key's randomness from random (crypto/rand.Reader).
func Run(args []string, stdout io.Writer, random io.Reader) error {
	fs := flag.NewFlagSet("ssh-hostkey", flag.ContinueOnError)
	path := fs.String("f", "/etc/ssh/ssh_host_ed25519_key", "private key file; the public key goes to FILE.pub")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := os.Stat(*path); err == nil {
		fmt.Fprintf(stdout, "%s exists, kept\n", *path)
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	priv, err := newKey(random)
	if err != nil {
		return err
	}
	pub := priv.Public().(ed25519.PublicKey)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	// The public key first: sshd only reads the private one, so a key without its .pub is the one
	// state a crash here must not leave behind unnoticed.
	if err := writeFile(*path+".pub", ssh.MarshalAuthorizedKey(sshPub), 0o644); err != nil {
		return err
	}
	if err := writeFile(*path, pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s", *path, ssh.FingerprintSHA256(sshPub)+"\n")
	return nil
}

// newKey makes an ed25519 key from 32 bytes of random, the same key crypto/ed25519.NewKeyFromSeed
// makes of them (RFC 8032 section 5.1.5). It multiplies the base point as an ordinary point:
// crypto/ed25519 first builds a 30 KB table of base-point multiples (256 field inversions), which
// pays for itself after a few keys but, under software emulation, costs about 20 ms at boot for
// the one key made here.
func newKey(random io.Reader) (ed25519.PrivateKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(random, seed); err != nil {
		return nil, err
	}
	h := sha512.Sum512(seed)
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		return nil, err
	}
	a := new(edwards25519.Point).ScalarMult(s, edwards25519.NewGeneratorPoint())
	return append(seed, a.Bytes()...), nil
}

// writeFile writes under a temporary name and renames, so a half-written key never exists.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
