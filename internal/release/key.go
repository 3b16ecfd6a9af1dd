package release

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/genai-os/genai-build/internal/sign"
)

// The files of a release key pair, as genai-build release-key writes them.
const (
	PrivateKeyFile = "release-key.asc" // armored private key, 0600
	KeyringFile    = "release-key.gpg" // binary public keyring (gpgv --keyring, apt's signed-by=)
	// PublicKeyFile (release-key.pub.asc) is the armored public key, also in every release.
)

// WriteKey writes k's three files into dir (made 0700 if missing): the private key 0600, the
// public key armored and as a binary keyring. An existing key file is never replaced.
func WriteKey(dir string, k *sign.Key) error {
	priv, err := k.ArmoredPrivate()
	if err != nil {
		return err
	}
	pub, err := k.ArmoredPublic()
	if err != nil {
		return err
	}
	bin, err := k.Public()
	if err != nil {
		return err
	}
	for _, n := range []string{PrivateKeyFile, PublicKeyFile, KeyringFile} {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return fmt.Errorf("%s exists: a release key is never overwritten; move it away first, or choose another folder", filepath.Join(dir, n))
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, w := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{PrivateKeyFile, priv, 0o600}, {PublicKeyFile, pub, 0o644}, {KeyringFile, bin, 0o644}} {
		if err := writeFile(filepath.Join(dir, w.name), w.data, w.mode); err != nil {
			return err
		}
	}
	return nil
}
