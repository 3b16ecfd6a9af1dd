package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/edition"
)

func newEditions(env Env, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "editions",
		Short: "List the editions this checkout can build, one line each",
		Long: `List editions/*.yaml: name, version, outputs and description. Abstract editions (parents such
as base) are marked; an edition whose manifest has problems is listed with the first of them.`,
		Example: "  genai-build editions",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := g.repoRoot()
			if err != nil {
				return err
			}
			set := edition.Set{Dir: filepath.Join(root, "editions")}
			names, err := set.Names()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EDITION\tVERSION\tOUTPUTS\tDESCRIPTION")
			for _, n := range names {
				e, err := set.Load(n)
				if err != nil {
					var ps edition.Problems
					msg := err.Error()
					if errors.As(err, &ps) && len(ps) > 0 {
						msg = fmt.Sprintf("INVALID (%d problems): %s", len(ps), ps[0])
					}
					fmt.Fprintf(tw, "%s\t-\t-\t%s\n", n, msg)
					continue
				}
				outputs := fmt.Sprint(e.Outputs)
				if e.Abstract {
					outputs = "(abstract)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n, e.Version, outputs, e.Description)
			}
			return tw.Flush()
		},
	}
}
