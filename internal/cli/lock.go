package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/debian"
)

func newLock(env Env, g *globals) *cobra.Command {
	var mirror, suite string
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Refresh recipes/debian.lock: pin the Debian packages the recipes name",
		Long: `Fetch the suite's InRelease from the Debian mirror, verify it with the archive keyring in
recipes/keys/, fetch the Packages index by its SHA-256, and pin every package the recipes name
(the kernel meta-package is followed to the linux-image-* package it depends on) by version and
SHA-256 into recipes/debian.lock. Builds use only the lock, so they are the same until the next
lock. Commit the lock after reviewing the changes it prints.

The mirror is --mirror, else $GENAI_BUILD_MIRROR, else the first Debian entry of the host's apt
sources.`,
		Example: `  genai-build lock
  genai-build lock --mirror http://mirror.example.org/debian`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := g.repoRoot()
			if err != nil {
				return err
			}
			c, err := g.cache(env)
			if err != nil {
				return err
			}
			m, err := debian.ResolveMirror(mirror, env.Getenv, "/")
			if err != nil {
				return err
			}
			prog := newProgress(env.Stderr, false)
			fmt.Fprintf(env.Stderr, "mirror %s (from %s)\n", m.URL, m.From)
			lock, changes, err := build.Lock(cmd.Context(), build.LockOptions{Root: root, Suite: suite, Cache: c, Mirror: m, Now: time.Now(), Progress: prog.Bytes})
			if err != nil {
				return err
			}
			for _, ch := range changes {
				switch {
				case ch.Old == "":
					fmt.Fprintf(env.Stdout, "+ %s %s\n", ch.Name, ch.New)
				case ch.New == "":
					fmt.Fprintf(env.Stdout, "- %s %s\n", ch.Name, ch.Old)
				default:
					fmt.Fprintf(env.Stdout, "~ %s %s -> %s\n", ch.Name, ch.Old, ch.New)
				}
			}
			fmt.Fprintf(env.Stdout, "%s: %d packages pinned from %s (%s, released %s)\n", build.LockFile, len(lock.Packages), lock.Suite, lock.Release.SHA256[:12], lock.Release.Date)
			return nil
		},
	}
	cmd.Flags().StringVar(&mirror, "mirror", "", "Debian mirror URL (default: $GENAI_BUILD_MIRROR or the host's apt sources)")
	cmd.Flags().StringVar(&suite, "suite", "", "Debian suite (default: the lock's, else "+build.DefaultSuite+")")
	return cmd
}
