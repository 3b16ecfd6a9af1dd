package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/edition"
)

type isoFlags struct {
	edition string
	outDir  string
	mirror  string
	secMir  string
	offline bool
	quiet   bool
	overlay []string
	sshKeys []string
	keys    string
	// updateKey is the update key folder (genai-build update-key init) of an A/B edition;
	// bundleOnly keeps only its update bundle (genai-build bundle).
	updateKey  string
	bundleOnly bool
	// assistant overrides the edition's assistant: settings (/etc/genai/assistant.conf)
	assistant edition.Assistant
}

func newISO(env Env, g *globals) *cobra.Command {
	f := &isoFlags{}
	cmd := &cobra.Command{
		Use:   "iso",
		Short: "Build an edition's hybrid ISO (BIOS and UEFI, CD and USB, Secure Boot)",
		Long: `Build images/genai-os-<edition>-<version>-<arch>.iso with its .sha256 and .manifest.json.

The Debian inputs pinned in recipes/debian.lock are fetched (or taken from the cache) and verified
by SHA-256 before anything is written; the kernel's config is checked against kconfig/; the init,
the edition's Go programs and u-root's busybox are built from source; the initramfs and the ISO
are written reproducibly: SOURCE_DATE_EPOCH (default: the time of the checkout's last commit)
drives every timestamp. The image is written under a temporary name and renamed when complete.

The enterprise edition's image (output uefi-iso) boots only under UEFI Secure Boot with the
organisation's own keys: --keys DIR (default $GENAI_BUILD_KEYS) names the key set of
'genai-build keys init', whose db key signs the unified kernel image. Only db.key and db.crt are
read; keep the folder offline.

Write it to a USB stick with: dd if=IMAGE of=/dev/sdX bs=4M conv=fsync`,
		Example: `  genai-build iso --edition server
  SOURCE_DATE_EPOCH=1700000000 genai-build iso --edition server --out /tmp/images
  genai-build iso --edition server --offline
  genai-build iso --edition server --cache-remote oci://registry.example:5000/genai-build/cache
  genai-build iso --edition server --ssh-key ~/.ssh/id_ed25519.pub   # root may log in over SSH with this key
  genai-build iso --edition server --overlay ./site   # add site files (keys, services) to the image
  genai-build iso --edition server --assistant-endpoint http://10.0.2.2:11434/v1 --assistant-model qwen2.5:3b
  genai-build iso --edition enterprise --keys /media/offline/genai-keys --ssh-key ~/.ssh/id_ed25519.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := runISO(cmd, env, g, f)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s\n  size %s (kernel %s, initramfs %s)\n  sha256 %s\n", res.Image, mib(res.Size), mib(res.KernelSize), mib(res.InitrdSize), res.SHA256)
			for _, im := range res.Images[1:] {
				fmt.Fprintf(env.Stdout, "%s\n  size %s (%s)\n  sha256 %s\n", im.Path, mib(im.Size), im.Output, im.SHA256)
			}
			if res.BuildID != "" {
				fmt.Fprintf(env.Stdout, "  root on the medium: %d layers, build id %s\n", len(res.Layers), res.BuildID)
			}
			return nil
		},
	}
	addBuildFlags(cmd, f)
	return cmd
}

// addBuildFlags adds the flags of a verb that builds an edition (iso, image, bundle).
func addBuildFlags(cmd *cobra.Command, f *isoFlags) {
	cmd.Flags().StringVarP(&f.edition, "edition", "e", "server", "`name` of the edition to build (genai-build editions lists them)")
	cmd.Flags().StringVarP(&f.outDir, "out", "o", "", "output folder (default: images/ in the checkout)")
	cmd.Flags().StringVar(&f.mirror, "mirror", "", "Debian mirror URL (default: $GENAI_BUILD_MIRROR or the host's apt sources)")
	cmd.Flags().StringVar(&f.secMir, "security-mirror", "", "Debian security archive URL (default: $"+debian.SecurityMirrorEnv+" or the host's apt sources)")
	cmd.Flags().BoolVar(&f.offline, "offline", false, "build from the cache alone; say what is missing")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no progress output")
	cmd.Flags().StringArrayVar(&f.sshKeys, "ssh-key", nil, "an SSH public key file (e.g. ~/.ssh/id_ed25519.pub) whose keys may log in as root (repeatable)")
	cmd.Flags().StringVar(&f.keys, "keys", "", "the organisation's Secure Boot key `folder` (genai-build keys init) whose db key signs a UKI (default: $"+KeysEnv+")")
	addUpdateKeyFlag(cmd, f)
	cmd.Flags().StringArrayVar(&f.overlay, "overlay", nil, "a folder laid over the root tree after the edition's overlays (repeatable)")
	cmd.Flags().StringVar(&f.assistant.Endpoint, "assistant-endpoint", "", "genai-assistant's OpenAI-compatible `URL` (e.g. http://10.0.2.2:11434/v1), written to /etc/genai/assistant.conf")
	cmd.Flags().StringVar(&f.assistant.Model, "assistant-model", "", "the `model` genai-assistant asks")
	cmd.Flags().StringVar(&f.assistant.APIKeyFile, "assistant-key-file", "", "the `path` in the running system where genai-assistant reads an API key (the key itself is never put in the image)")
}

func runISO(cmd *cobra.Command, env Env, g *globals, f *isoFlags) (*build.Result, error) {
	root, err := g.repoRoot()
	if err != nil {
		return nil, err
	}
	if err := checkVerb(cmd.Name(), root, f.edition); err != nil {
		return nil, err
	}
	c, err := g.cache(env)
	if err != nil {
		return nil, err
	}
	if f.offline {
		c.Remote = nil // offline touches no network, the remote cache's either
	}
	date, err := sourceDate(env, root)
	if err != nil {
		return nil, err
	}
	var m, sec debian.Mirror
	if !f.offline {
		if m, err = debian.ResolveMirror(f.mirror, env.Getenv, "/"); err != nil {
			return nil, err
		}
		// Needed only for packages the lock takes from <release>-security that are not cached;
		// the fetch says so if it is missing then.
		if sec, err = debian.ResolveSecurityMirror(f.secMir, env.Getenv, "/"); err != nil && !errors.Is(err, debian.ErrNoSecurityMirror) {
			return nil, err
		}
	}
	for _, p := range f.assistant.Check() {
		if f.assistant.Endpoint == "" && p[0] == "assistant.endpoint" {
			continue // the edition may set it; the build checks the merged settings
		}
		return nil, fmt.Errorf("--%s: %s", strings.ReplaceAll(strings.Replace(p[0], "assistant.", "assistant-", 1), "api_key_file", "key-file"), p[1])
	}
	var keys []string
	for _, kf := range f.sshKeys {
		data, err := os.ReadFile(kf)
		if err != nil {
			return nil, fmt.Errorf("--ssh-key: %w", err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				if !strings.HasPrefix(l, "ssh-") && !strings.HasPrefix(l, "ecdsa-") && !strings.HasPrefix(l, "sk-") {
					return nil, fmt.Errorf("--ssh-key %s: %q does not look like a public key (ssh-ed25519 AAAA...); pass the .pub file", kf, l[:min(len(l), 20)])
				}
				keys = append(keys, l)
			}
		}
	}
	keysDir := f.keys
	if keysDir == "" {
		keysDir = env.Getenv(KeysEnv)
	}
	updateKey := f.updateKey
	if updateKey == "" {
		updateKey = env.Getenv(UpdateKeyEnv)
	}
	return build.Run(cmd.Context(), build.Options{SSHKeys: keys, Keys: keysDir, UpdateKey: updateKey, BundleOnly: f.bundleOnly, Assistant: f.assistant, Root: root, Edition: f.edition, OutDir: f.outDir, Cache: c, Mirror: m, Security: sec,
		Offline: f.offline, ExtraOverlays: f.overlay, SourceDate: date, Log: g.logger(env), Progress: newProgress(env.Stderr, f.quiet)})
}

// KeysEnv names the environment variable with the default --keys folder.
const KeysEnv = "GENAI_BUILD_KEYS"

// sourceDate is SOURCE_DATE_EPOCH, else the time of the checkout's last commit.
func sourceDate(env Env, root string) (time.Time, error) {
	if s := env.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970 (e.g. $(git log -1 --format=%%ct))", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%ct").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) || errors.Is(err, exec.ErrNotFound) {
			return time.Time{}, errors.New("cannot read the last commit's time (not a git checkout?): set SOURCE_DATE_EPOCH")
		}
		return time.Time{}, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("git log: %w", err)
	}
	return time.Unix(n, 0).UTC(), nil
}
