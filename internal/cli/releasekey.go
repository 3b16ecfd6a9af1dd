package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/release"
	"github.com/genai-os/genai-build/internal/sign"
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
	// A key's creation time is the moment it was made; nothing about a key is reproducible.
	k, err := sign.Generate(f.name, f.email, time.Now().UTC().Truncate(time.Second))
	if err != nil {
		return err
	}
	if err := release.WriteKey(dir, k); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "release key %s\n  fingerprint %s\n  private %s (0600: keep it offline or as CI's %s secret)\n  public  %s, %s\n",
		k.UserID(), k.Fingerprint(), filepath.Join(dir, release.PrivateKeyFile), sign.KeyEnv, filepath.Join(dir, release.PublicKeyFile), filepath.Join(dir, release.KeyringFile))
	return nil
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
