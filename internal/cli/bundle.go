package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newBundle(env Env, g *globals) *cobra.Command {
	f := &isoFlags{bundleOnly: true}
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Build only the signed update bundle of an A/B edition (disk-image output)",
		Long: `Build images/genai-os-<edition>-<version>-<arch>.bundle: the image of one slot (its kernel,
initramfs and root), with a manifest (edition, architecture, version, build id, a SHA-256 per
MiB of the image) signed with the update key (Ed25519). A device installs it with
'genai-update install FILE|URL', which checks the signature and each chunk before writing it.

The edition must have the disk-image output; --update-key DIR (default $` + UpdateKeyEnv + `) is the
folder of 'genai-build update-key init', whose public key the devices were built with. The bundle
is the same as the one 'genai-build image' writes beside the disk image of the same build.`,
		Example: `  genai-build bundle --edition embedded --update-key ~/genai-update-key
  SOURCE_DATE_EPOCH=1700000000 genai-build bundle --edition embedded --update-key ~/genai-update-key --out /srv/updates`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := runISO(cmd, env, g, f)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s\n  size %s\n  sha256 %s\n", res.Image, mib(res.Size), res.SHA256)
			return nil
		},
	}
	addBuildFlags(cmd, f)
	// The A/B edition is the one with bundles.
	f.edition = "embedded"
	cmd.Flags().Lookup("edition").DefValue = f.edition
	return cmd
}
