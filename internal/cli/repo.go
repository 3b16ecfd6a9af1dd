package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/aptrepo"
	"github.com/genai-os/genai-build/internal/edition"
	"github.com/genai-os/genai-build/internal/sign"
	"github.com/genai-os/genai-build/internal/toolpkg"
)

type repoFlags struct {
	out     string
	key     string
	version string
	suite   string
}

func newRepo(env Env, g *globals) *cobra.Command {
	f := &repoFlags{}
	cmd := &cobra.Command{
		Use:   "repo",
		Short: "Package our tools as .debs and write a signed APT repository",
		Long: `Build GenAI OS's own tools (consciousness-init with its applets consciousness-manager
and ssh-hostkey) as Debian packages and write an APT repository of them:

  genai-os-archive-keyring.gpg                 the release key's public part (for signed-by=)
  pool/main/<p>/<package>/<package>_<version>_amd64.deb
  dists/<suite>/main/binary-amd64/Packages, Packages.gz
  dists/<suite>/Release, InRelease (clearsigned), Release.gpg (detached signature)

The release key is --key FILE, else $` + sign.KeyEnv + ` (an armored private key; make one with
genai-build release-key). The version is the base edition's (editions/base.yaml) unless --version
gives one in Debian's syntax. SOURCE_DATE_EPOCH (default: the checkout's last commit) is every
timestamp, so two runs give the same bytes. The folder is written beside --out and renamed into
place when complete.

On a machine, with the repository served at URL:
  curl -o /usr/share/keyrings/genai-os-archive-keyring.gpg URL/genai-os-archive-keyring.gpg
  echo "deb [signed-by=/usr/share/keyrings/genai-os-archive-keyring.gpg] URL stable main" \
    > /etc/apt/sources.list.d/genai-os.list
  apt-get update && apt-get install consciousness-init`,
		Example: `  genai-build repo --key ~/keys/release-key.asc
  GENAI_RELEASE_KEY="$(cat release-key.asc)" genai-build repo --out /srv/apt
  genai-build repo --key release-key.asc --version 0.1.1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := g.repoRoot()
			if err != nil {
				return err
			}
			key, err := sign.Load(f.key, env.Getenv)
			if err != nil {
				return err
			}
			version := f.version
			if version == "" {
				base, err := edition.Set{Dir: filepath.Join(root, "editions")}.Load("base")
				if err != nil {
					return fmt.Errorf("the packages' version: %w (or give --version)", err)
				}
				version = base.Version
			}
			date, err := sourceDate(env, root)
			if err != nil {
				return err
			}
			c, err := g.cache(env)
			if err != nil {
				return err
			}
			pkgs, err := toolpkg.Build(cmd.Context(), toolpkg.Options{Root: root, Version: version, Arch: "amd64",
				Cache: c, SourceDate: date, Log: g.logger(env)})
			if err != nil {
				return err
			}
			out := f.out
			if out == "" {
				out = filepath.Join(root, "repo")
			}
			res, err := aptrepo.Write(aptrepo.Options{Out: out, Suite: f.suite, Origin: "GenAI OS", Component: "main",
				Arch: "amd64", SourceDate: date, Key: key}, pkgs)
			if err != nil {
				return err
			}
			for _, d := range res.Debs {
				fmt.Fprintf(env.Stdout, "%s\n", filepath.Join(res.Dir, d))
			}
			fmt.Fprintf(env.Stdout, "%s: suite %s, signed by %s\n", res.Dir, f.suite, res.Fingerprint)
			return nil
		},
	}
	cmd.Flags().StringVarP(&f.out, "out", "o", "", "the repository folder, replaced whole (default: repo/ in the checkout)")
	cmd.Flags().StringVar(&f.key, "key", "", "the armored private release key (default: $"+sign.KeyEnv+")")
	cmd.Flags().StringVar(&f.version, "version", "", "the packages' Debian version (default: the base edition's)")
	cmd.Flags().StringVar(&f.suite, "suite", "stable", "the suite (and codename) in dists/ and in sources lines")
	return cmd
}
