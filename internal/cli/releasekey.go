package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/sign"
)

// The files genai-build release-key writes (the release folder carries the .pub.asc).
const (
	keyPrivate   = "release-key.asc"
	keyPublic    = "release-key.pub.asc"
	keyPublicGPG = "release-key.gpg"
)

type releaseKeyFlags struct {
	out, name, email string
	force            bool
}

func newReleaseKey(env Env, g *globals) *cobra.Command {
	f := &releaseKeyFlags{}
	cmd := &cobra.Command{
		Use:   "release-key",
		Short: "Make the OpenPGP key pair that signs releases (Ed25519)",
		Long: `Make a new Ed25519 OpenPGP signing key and write it to --out DIR:

  release-key.asc      the private key, armored, mode 0600: keep it offline, or in CI's secret store
                       (genai-build release reads it from --key FILE or $` + sign.KeyEnv + `)
  release-key.pub.asc  the public key, armored: what users import (gpg --import) to verify releases
  release-key.gpg      the public key as a binary keyring, for gpgv --keyring and apt's signed-by=

The private key is not protected by a passphrase (CI must use it unattended), so DIR must not be
inside the checkout, where it could be committed: that is refused unless --force. Existing key
files are never overwritten.`,
		Example: `  genai-build release-key --out ~/genai-release-key
  genai-build release-key --out /media/usb/key --name "GenAI OS releases" --email releases@example.org
  GENAI_RELEASE_KEY="$(cat ~/genai-release-key/release-key.asc)" genai-build release`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReleaseKey(env, g, f)
		},
	}
	cmd.Flags().StringVarP(&f.out, "out", "o", "", "folder to write the key pair to (required; created 0700 if missing)")
	cmd.Flags().StringVar(&f.name, "name", "GenAI OS release key", "the key's user ID name")
	cmd.Flags().StringVar(&f.email, "email", "", "the key's user ID e-mail address")
	cmd.Flags().BoolVar(&f.force, "force", false, "allow --out inside the checkout")
	return cmd
}

func runReleaseKey(env Env, g *globals, f *releaseKeyFlags) error {
	if f.out == "" {
		return errors.New("--out DIR is required: a folder outside the checkout (e.g. --out ~/genai-release-key)")
	}
	dir, err := filepath.Abs(f.out)
	if err != nil {
		return err
	}
	if root, err := g.repoRoot(); err == nil && !f.force {
		if inside(realPath(dir), realPath(root)) {
			return fmt.Errorf("--out %s is inside the checkout %s, where the private key could be committed; choose a folder outside it (or pass --force)", f.out, root)
		}
	}
	for _, n := range []string{keyPrivate, keyPublic, keyPublicGPG} {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return fmt.Errorf("%s exists: a release key is never overwritten; move it away first, or choose another --out", filepath.Join(dir, n))
		}
	}
	// A key's creation time is the moment it was made; nothing about a key is reproducible.
	k, err := sign.Generate(f.name, f.email, time.Now().UTC().Truncate(time.Second))
	if err != nil {
		return err
	}
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
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, w := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{keyPrivate, priv, 0o600}, {keyPublic, pub, 0o644}, {keyPublicGPG, bin, 0o644}} {
		if err := writeNew(filepath.Join(dir, w.name), w.data, w.mode); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.Stdout, "release key %s\n  fingerprint %s\n  private %s (0600: keep it offline or as CI's %s secret)\n  public  %s, %s\n",
		k.UserID(), k.Fingerprint(), filepath.Join(dir, keyPrivate), sign.KeyEnv, filepath.Join(dir, keyPublic), filepath.Join(dir, keyPublicGPG))
	return nil
}

// writeNew creates p with mode (never replacing a file) and syncs it.
func writeNew(p string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// realPath resolves the symlinks of p's longest existing prefix, so a path through a link into the
// checkout is seen as inside it.
func realPath(p string) string {
	rest := ""
	for d := filepath.Clean(p); ; d = filepath.Dir(d) {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			return filepath.Join(r, rest)
		}
		if filepath.Dir(d) == d {
			return p
		}
		rest = filepath.Join(filepath.Base(d), rest)
	}
}

// inside reports whether p is dir or below it.
func inside(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
