// Package hostkey is the ssh-hostkey command: it makes an SSH host key, an ed25519 key in
// OpenSSH's format, as `ssh-keygen -t ed25519 -N ""` would. ssh-keygen under software emulation
// spends seconds in the dynamic loader and OpenSSL's start-up; this takes milliseconds. The
// server edition runs it on the first SSH connection. It is an applet of the init's binary (see
// initramfs/cmd/consciousness-init), so it writes the key formats itself (see openssh.go) rather
// than link golang.org/x/crypto/ssh, whose package initialisation every boot of PID 1 would pay
// (some 20 ms under TCG).
//
// Usage: ssh-hostkey [-f /etc/ssh/ssh_host_ed25519_key]
// An existing key is kept (exit 0): the command is safe to run again.
package hostkey

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
	seed := make([]byte, ed25519.SeedSize+4)
	if _, err := io.ReadFull(random, seed); err != nil {
		return err
	}
	priv := ed25519.NewKeyFromSeed(seed[:ed25519.SeedSize])
	check := binary.BigEndian.Uint32(seed[ed25519.SeedSize:])
	// The public key first: sshd only reads the private one, so a key without its .pub is the one
	// state a crash here must not leave behind unnoticed.
	if err := writeFile(*path+".pub", AuthorizedKey(priv.Public().(ed25519.PublicKey), ""), 0o644); err != nil {
		return err
	}
	if err := writeFile(*path, PrivateKeyPEM(priv, "", check), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s\n", *path, Fingerprint(priv.Public().(ed25519.PublicKey)))
	return nil
}

// writeFile writes under a temporary name and renames, so a half-written key never exists.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
