package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/debian"
)

// ExitLockOutdated is the exit status of `genai-build lock --check` when the lock is out of date:
// the archive has other versions of pinned packages (security or stable updates), or a recipe
// changed since the lock was written. 100 is what `dnf check-update` answers for "updates
// available"; 1 stays "the command failed" (a rollback, an expired suite, no network).
const ExitLockOutdated = 100

func newLock(env Env, g *globals) *cobra.Command {
	var mirror, secMirror, suite string
	var check bool
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Refresh recipes/debian.lock: pin the Debian packages the recipes name",
		Long: `Follow the release (default trixie) through three suites: trixie, trixie-updates and
trixie-security. For each, fetch its InRelease, verify it with the archive keyring in recipes/keys/
(Debian's keyring holds the security archive's keys too), and fetch its Packages index by the
SHA-256 the InRelease gives. Every package the recipes name, and every dependency of a
debian-packages recipe, is pinned at the highest version any suite has (Debian's version
ordering), with the suite it comes from, by version and SHA-256, into recipes/debian.lock. The lock
also records a digest of each recipe it resolved: a build whose recipe changed since fails until
the next lock. Builds use only the lock. Review the changes it prints, one package a line, then
commit the lock.

Refused, per suite, with nothing written: an InRelease dated before the one the current lock
records (a stale mirror, or one replaying an old signed release to hold back security fixes), and
one past its Valid-Until (the security and -updates suites carry one; trixie does not).

--check does all of that and writes nothing. It exits 0 when the lock is current and 100 when it
is not (the archive has other versions of pinned packages, or a recipe changed), printing what
would change; any other failure exits 1. A scheduled CI job can run it to say "security updates
available".

The main mirror is --mirror, else $GENAI_BUILD_MIRROR, else the first Debian entry of the host's
apt sources. The security archive lives at its own URI: --security-mirror, else
$GENAI_BUILD_SECURITY_MIRROR, else the host's first apt entry for a *-security suite (only the URI
is taken, so a host running another release works).`,
		Example: `  genai-build lock
  genai-build lock --check || echo "security updates available"
  genai-build lock --mirror http://mirror.example.org/debian --security-mirror http://mirror.example.org/debian-security`,
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
			sec, err := debian.ResolveSecurityMirror(secMirror, env.Getenv, "/")
			if err != nil {
				return err
			}
			prog := newProgress(env.Stderr, false)
			fmt.Fprintf(env.Stderr, "mirror %s (from %s)\nsecurity mirror %s (from %s)\n", m.URL, m.From, sec.URL, sec.From)
			res, err := build.Lock(cmd.Context(), build.LockOptions{Root: root, Suite: suite, Cache: c, Mirror: m, Security: sec,
				Now: time.Now(), Check: check, Progress: prog.Bytes})
			if err != nil {
				return err
			}
			for _, ch := range res.Changes {
				fmt.Fprintln(env.Stdout, ch)
			}
			for _, r := range res.RecipesChanged {
				fmt.Fprintf(env.Stdout, "recipe %s changed since the lock\n", r)
			}
			var suites []string
			for _, s := range res.Lock.Suites {
				suites = append(suites, fmt.Sprintf("%s %s", s.Name, s.Release.Date))
			}
			if check {
				if res.Outdated() {
					return &exitCodeError{code: ExitLockOutdated, msg: fmt.Sprintf("%s is out of date: %d package(s) would change, %d recipe(s) changed; run `genai-build lock`",
						build.LockFile, len(res.Changes), len(res.RecipesChanged))}
				}
				fmt.Fprintf(env.Stdout, "%s is current (%s)\n", build.LockFile, strings.Join(suites, ", "))
				return nil
			}
			if !res.Outdated() {
				fmt.Fprintln(env.Stdout, "no package changed")
			}
			fmt.Fprintf(env.Stdout, "%s: %d packages pinned from %s\n", build.LockFile, len(res.Lock.Packages), strings.Join(suites, ", "))
			return nil
		},
	}
	cmd.Flags().StringVar(&mirror, "mirror", "", "Debian mirror URL (default: $"+debian.MirrorEnv+" or the host's apt sources)")
	cmd.Flags().StringVar(&secMirror, "security-mirror", "", "Debian security archive URL (default: $"+debian.SecurityMirrorEnv+" or the host's apt sources)")
	cmd.Flags().StringVar(&suite, "suite", "", "Debian release to follow, with its -updates and -security suites (default: the lock's, else "+build.DefaultSuite+")")
	cmd.Flags().BoolVar(&check, "check", false, "write nothing; exit 100 if the lock is out of date (updates available or a recipe changed)")
	return cmd
}
