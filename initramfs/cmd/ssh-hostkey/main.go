// Command ssh-hostkey makes an SSH host key at first boot: an ed25519 key in OpenSSH's format, as
// `ssh-keygen -t ed25519 -N ""` would, but as a static Go program. Under software emulation
// ssh-keygen spends seconds in the dynamic loader and OpenSSL's start-up; this takes milliseconds,
// and the boot's ready line waits for it (sshd needs the key).
//
// Usage: ssh-hostkey [-f /etc/ssh/ssh_host_ed25519_key]
// An existing key is kept (exit 0): the command is safe to run on every boot.
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/crypto/ssh"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, rand.Reader); err != nil {
		fmt.Fprintln(os.Stderr, "ssh-hostkey:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer, random io.Reader) error {
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
	pub, priv, err := ed25519.GenerateKey(random)
	if err != nil {
		return err
	}
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

// writeFile writes under a temporary name and renames, so a half-written key never exists.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
