package cli

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/efivars"
	"github.com/genai-os/genai-build/internal/sbkeys"
)

// defaultOVMFVars is Debian's blank OVMF variable store (package ovmf), the template of the
// enrolled copy keys init writes.
const defaultOVMFVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"

// EnrolledVarsFile is the OVMF variable store with the keys enrolled that keys init writes.
const EnrolledVarsFile = "OVMF_VARS_4M.enrolled.fd"

func newKeys(env Env, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "keys",
		Short:   "Make and manage an organisation's UEFI Secure Boot keys",
		Example: `  genai-build keys init ~/genai-sb-keys --org "Example Corp"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("keys needs a subcommand: keys init DIR")
		},
	}
	cmd.AddCommand(newKeysInit(env, g))
	return cmd
}

type keysInitFlags struct {
	org, ovmfVars     string
	force, inCheckout bool
}

func newKeysInit(env Env, g *globals) *cobra.Command {
	f := &keysInitFlags{}
	cmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Make a Secure Boot key set (PK, KEK, db) and what firmware needs to enrol it",
		Long: `Make an organisation's UEFI Secure Boot keys in DIR (created 0700 if missing): for each of PK
(platform key), KEK (key exchange key) and db (the key that signs boot images):

  NAME.key   the RSA-2048 private key, PEM, mode 0600: keep it offline
  NAME.crt   its self-signed X.509 certificate, PEM (NAME.cer: the same in DER, for firmware menus)
  NAME.esl   the certificate as an EFI signature list
  NAME.auth  a signed variable update for firmware in Setup Mode (PK.auth and KEK.auth signed by
             PK, db.auth by KEK): enrol db, then KEK, then PK (PK last: it ends Setup Mode)

and ` + EnrolledVarsFile + `, a copy of OVMF's variable store with the three enrolled and Secure Boot
on, for testing in QEMU (from ` + defaultOVMFVars + ` when present, or --ovmf-vars).

Signing an image needs only db.key and db.crt; PK.key and KEK.key are needed only to change the
keys later. An existing key set is never overwritten without --force, and DIR inside a git work
tree is refused unless --in-checkout: private keys in a checkout end up committed.`,
		Example: `  genai-build keys init ~/genai-sb-keys --org "Example Corp"
  genai-build keys init /media/usb/sb-keys --org "Example Corp" --ovmf-vars ./OVMF_VARS_4M.fd`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKeysInit(env, f, args[0])
		},
	}
	cmd.Flags().StringVar(&f.org, "org", "GenAI OS", "the organisation, named in the certificates (\"ORG PK\", \"ORG KEK\", \"ORG db\")")
	cmd.Flags().BoolVar(&f.force, "force", false, "overwrite an existing key set in DIR")
	cmd.Flags().BoolVar(&f.inCheckout, "in-checkout", false, "allow DIR inside a git work tree")
	cmd.Flags().StringVar(&f.ovmfVars, "ovmf-vars", "", "the OVMF variable store to enrol the keys into (default "+defaultOVMFVars+" when present)")
	return cmd
}

func runKeysInit(env Env, f *keysInitFlags, arg string) error {
	dir, err := filepath.Abs(arg)
	if err != nil {
		return err
	}
	if wt := gitWorkTree(realPath(dir)); wt != "" && !f.inCheckout {
		return fmt.Errorf("%s is inside the git work tree %s, where the private keys could be committed; keep Secure Boot keys offline, in a folder outside any checkout (or pass --in-checkout)", arg, wt)
	}
	if !f.force {
		for _, n := range []string{sbkeys.NamePK, sbkeys.NameKEK, sbkeys.NameDB} {
			p := filepath.Join(dir, n+".key")
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s already holds a key set (%s): replacing it would orphan every machine enrolled with it; pass --force to overwrite", arg, p)
			}
		}
	}
	var template []byte
	tmplPath := f.ovmfVars
	if tmplPath == "" {
		tmplPath = defaultOVMFVars
	}
	template, err = os.ReadFile(tmplPath)
	switch {
	case errors.Is(err, fs.ErrNotExist) && f.ovmfVars == "":
		template = nil // no OVMF here: the keys are still useful
	case err != nil:
		return fmt.Errorf("--ovmf-vars: %w", err)
	}

	s, err := sbkeys.Generate(f.org)
	if err != nil {
		return err
	}
	// The .auth files carry the time they were made; a later update must carry a later one.
	now := time.Now().UTC().Truncate(time.Second)
	if err := sbkeys.Write(dir, s, now); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Secure Boot keys of %q in %s\n", f.org, dir)
	for _, p := range []sbkeys.Pair{s.PK, s.KEK, s.DB} {
		fmt.Fprintf(env.Stdout, "  %-16s SHA-256 %x\n", p.Cert.Subject.CommonName, sha256.Sum256(p.Cert.Raw))
	}
	if template != nil {
		vars, err := efivars.Enroll(template, s.PK.Cert, s.KEK.Cert, s.DB.Cert)
		if err != nil {
			return fmt.Errorf("%s: %w", tmplPath, err)
		}
		out := filepath.Join(dir, EnrolledVarsFile)
		if err := os.WriteFile(out, vars, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "  %s: OVMF variables with these keys enrolled, Secure Boot on (from %s)\n", out, tmplPath)
	} else {
		fmt.Fprintf(env.Stdout, "  no %s here: no OVMF variable store written (install ovmf, or pass --ovmf-vars)\n", defaultOVMFVars)
	}
	fmt.Fprintf(env.Stdout, "The private keys (*.key, mode 0600) are not protected by a passphrase: keep %s offline.\n", dir)
	return nil
}

// gitWorkTree returns the work tree that holds p (the nearest folder upwards with a .git entry,
// a folder or, in a linked worktree, a file), or "".
func gitWorkTree(p string) string {
	for d := filepath.Clean(p); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}
