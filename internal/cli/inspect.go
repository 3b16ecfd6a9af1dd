package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/iso"
)

// inspection is what `inspect --json` prints.
type inspection struct {
	*iso.Report
	Build *build.Manifest `json:"build,omitempty"`
}

func newInspect(env Env, g *globals) *cobra.Command {
	var asJSON, files bool
	cmd := &cobra.Command{
		Use:   "inspect IMAGE",
		Short: "Show what is inside an image: boot catalog, partitions, files, build manifest",
		Long: `Read an image without mounting it: the El Torito boot catalog (BIOS and UEFI entries and the
files they start), the isohybrid MBR's partitions, the files of the ISO 9660 side (with --files)
and the build manifest the image carries in /genai/build.json (edition, kernel, inputs).`,
		Example: `  genai-build inspect images/genai-os-server-0.1.0-amd64.iso
  genai-build inspect --files images/genai-os-server-0.1.0-amd64.iso
  genai-build inspect --json images/genai-os-server-0.1.0-amd64.iso | jq .build.inputs`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := iso.Inspect(args[0])
			if err != nil {
				return err
			}
			out := inspection{Report: rep}
			if data, err := iso.ReadFile(args[0], "genai/build.json"); err == nil {
				var m build.Manifest
				if err := json.Unmarshal(data, &m); err != nil {
					return fmt.Errorf("%s: /genai/build.json: %w", args[0], err)
				}
				out.Build = &m
			}
			if asJSON {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "image\t%s\nvolume\t%s\nsize\t%s (%d bytes)\n", args[0], rep.VolumeID, mib(rep.Size), rep.Size)
			if b := out.Build; b != nil {
				fmt.Fprintf(w, "edition\t%s %s %s\nkernel\t%s\ncmdline\t%v\nsource date\t%d\n", b.Edition, b.Version, b.Arch, b.Kernel, b.Cmdline, b.SourceDateEpoch)
				if mem := b.Memory; mem != nil {
					fmt.Fprintf(w, "memory\tat least %d MiB (kernel %s + initramfs %s + unpacked root %s + margin %s, root in %s)\n",
						mem.MinMB, mib(mem.Kernel), mib(mem.Initrd), mib(mem.Unpacked), mib(mem.Margin), mem.Placement)
				}
			}
			w.Flush()
			fmt.Fprintln(env.Stdout, "\nEl Torito boot catalog:")
			w = tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "  PLATFORM\tEMULATION\tLBA\tSECTORS\tFILE")
			for _, e := range rep.BootEntries {
				fmt.Fprintf(w, "  %s\t%s\t%d\t%d\t%s\n", e.Platform, e.Emulation, e.LoadRBA, e.Sectors, e.File)
			}
			w.Flush()
			fmt.Fprintln(env.Stdout, "\nMBR partitions (isohybrid):")
			w = tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "  #\tBOOT\tTYPE\tSTART\tSECTORS")
			for _, p := range rep.Partitions {
				fmt.Fprintf(w, "  %d\t%v\t0x%02x\t%d\t%d\n", p.Index, p.Bootable, p.Type, p.Start, p.Sectors)
			}
			w.Flush()
			if out.Build != nil {
				fmt.Fprintln(env.Stdout, "\nInputs:")
				w = tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				for _, in := range out.Build.Inputs {
					fmt.Fprintf(w, "  %s\t%s\t%.12s\t%s\n", in.Name, in.Version, in.SHA256, in.From)
				}
				w.Flush()
			}
			if files {
				fmt.Fprintln(env.Stdout, "\nFiles (ISO 9660 side):")
				w = tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				for _, f := range rep.Files {
					fmt.Fprintf(w, "  %s\t%d\t%s\n", f.Mode, f.Size, f.Path)
				}
				w.Flush()
			} else {
				fmt.Fprintf(env.Stdout, "\n%d files on the ISO 9660 side (--files lists them)\n", len(rep.Files))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print everything as JSON")
	cmd.Flags().BoolVar(&files, "files", false, "list the files of the ISO 9660 side")
	return cmd
}
