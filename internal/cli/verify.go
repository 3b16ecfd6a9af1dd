package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/release"
)

type verifyFlags struct {
	sums, sig, key string
}

func newVerify(env Env, g *globals) *cobra.Command {
	f := &verifyFlags{}
	cmd := &cobra.Command{
		Use:   "verify IMAGE",
		Short: "Check a downloaded image against a release's signed SHA256SUMS",
		Long: `Check that SHA256SUMS.asc is a valid signature by the release key over SHA256SUMS, and that
IMAGE's SHA-256 is the one SHA256SUMS lists for its name: what
  gpg --verify SHA256SUMS.asc SHA256SUMS && sha256sum -c --ignore-missing SHA256SUMS
does, for users who have genai-build. SHA256SUMS, SHA256SUMS.asc and release-key.pub.asc are
looked for beside IMAGE unless given. A key taken from beside the download proves only that the
files agree with each other: compare its fingerprint (printed) with the one the project publishes,
or pass the key you trust with --key.

Exit status 0 when the image verifies; 1 on a bad signature, a signature by another key, an image
not listed, or a digest mismatch, each said in words.`,
		Example: `  genai-build verify genai-os-server-0.1.0-amd64.iso
  genai-build verify ~/Downloads/genai-os-server-0.1.0-amd64.iso --sums release/0.1.0/SHA256SUMS --key release-key.pub.asc`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			image := args[0]
			sums := f.sums
			if sums == "" {
				sums = filepath.Join(filepath.Dir(image), release.SumsFile)
			}
			sig := f.sig
			if sig == "" {
				sig = sums + ".asc"
			}
			key := f.key
			if key == "" {
				key = filepath.Join(filepath.Dir(sums), release.PublicKeyFile)
			}
			v, err := release.Verify(image, sums, sig, key)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s: OK\n  sha256 %s (listed as %s in %s)\n  %s signed by key %s (%s)\n", image, v.SHA256, v.Name, sums, release.SumsFile, v.Fingerprint, key)
			return nil
		},
	}
	cmd.Flags().StringVar(&f.sums, "sums", "", "the release's SHA256SUMS (default: beside IMAGE)")
	cmd.Flags().StringVar(&f.sig, "signature", "", "its detached signature (default: SHA256SUMS.asc beside it)")
	cmd.Flags().StringVar(&f.key, "key", "", "the release's public key, armored or binary (default: release-key.pub.asc beside SHA256SUMS)")
	return cmd
}
