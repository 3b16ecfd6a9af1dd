package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/bundle"
)

// UpdateKeyEnv names the environment variable with the default --update-key folder.
const UpdateKeyEnv = "GENAI_BUILD_UPDATE_KEY"

// addUpdateKeyFlag adds --update-key to a verb that builds images (iso, image, bundle).
func addUpdateKeyFlag(cmd *cobra.Command, f *isoFlags) {
	cmd.Flags().StringVar(&f.updateKey, "update-key", "", "the update key `folder` (genai-build update-key init) of an edition with the disk-image output: its public key goes into the image, its private key signs the update bundle (default: $"+UpdateKeyEnv+")")
}

func newUpdateKey(env Env, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "update-key",
		Short:   "Make the key that signs an A/B edition's update bundles",
		Example: `  genai-build update-key init ~/genai-update-key`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("update-key needs a subcommand: update-key init DIR")
		},
	}
	cmd.AddCommand(newUpdateKeyInit(env))
	return cmd
}

type updateKeyInitFlags struct {
	force, inCheckout bool
}

func newUpdateKeyInit(env Env) *cobra.Command {
	f := &updateKeyInitFlags{}
	cmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Make an Ed25519 update key pair in DIR",
		Long: `Make the update key of an A/B edition (disk-image output) in DIR (created 0700):

  update.key   the Ed25519 private key, PKCS#8 PEM, mode 0600: it signs the update bundles; keep it offline
  update.pub   its public key, PKIX PEM

Build with --update-key DIR (or $` + UpdateKeyEnv + `): the image gets the public key at
/etc/genai/update-keys/<keyid>.pub, and its devices take only bundles signed with this key. An
existing key is never overwritten without --force (devices built with the old key would take no
update signed with the new one), and DIR inside a git work tree is refused unless --in-checkout.`,
		Example: `  genai-build update-key init ~/genai-update-key
  genai-build image --edition embedded --update-key ~/genai-update-key`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUpdateKeyInit(env, f, args[0])
		},
	}
	cmd.Flags().BoolVar(&f.force, "force", false, "replace an existing update key in DIR")
	cmd.Flags().BoolVar(&f.inCheckout, "in-checkout", false, "allow DIR inside a git work tree")
	return cmd
}

func runUpdateKeyInit(env Env, f *updateKeyInitFlags, arg string) error {
	dir, err := filepath.Abs(arg)
	if err != nil {
		return err
	}
	if wt := gitWorkTree(realPath(dir)); wt != "" && !f.inCheckout {
		return fmt.Errorf("%s is inside the git work tree %s, where the private key could be committed; keep the update key offline, in a folder outside any checkout (or pass --in-checkout)", arg, wt)
	}
	pub, err := bundle.GenerateKey(dir, f.force)
	if errors.Is(err, bundle.ErrKeyExists) {
		return fmt.Errorf("%w: devices built with it take only bundles it signs; pass --force to replace it", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "update key %s in %s\n  %s  private (0600): signs bundles; keep it offline\n  %s  public: built into the image as /%s\n",
		bundle.KeyID(pub), dir, filepath.Join(dir, bundle.PrivateKeyFile), filepath.Join(dir, bundle.PublicKeyFile), bundle.TrustedKeyPath(pub))
	return nil
}
