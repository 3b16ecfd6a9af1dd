package cli

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/genai-os/genai-build/internal/edition"
)

// newImage is `genai-build image`: iso's sibling for editions that ship a raw disk image (output
// disk-image), with the same options.
func newImage(env Env, g *globals) *cobra.Command {
	cmd := newISO(env, g)
	cmd.Use = "image"
	cmd.Short = "Build an edition's raw GPT disk image with A/B slots (the embedded edition)"
	cmd.Long = `Build images/genai-os-<edition>-<version>-<arch>.img, a raw GPT disk image, with its .img.zst
(for download), its .sha256 files and .manifest.json.

The disk holds an EFI system partition (Debian's signed shim and GRUB, a generated grub.cfg and the
A/B boot state), root slot A (the kernel, the initramfs and the root's layers), an empty slot B
for updates, and a small data partition that the first boot grows to the end of the disk. The
edition's disk: keys set the slot size (slot_size, default 48M) and how often an update boots on
trial before the boot loader goes back (tries, default 3).

Inputs, caching and reproducibility are those of 'genai-build iso' (see its help).

Write it to a disk or a USB stick with: zstd -d < IMAGE.img.zst | dd of=/dev/sdX bs=4M conv=fsync`
	cmd.Example = `  genai-build image --edition embedded
  genai-build image --edition embedded --ssh-key ~/.ssh/id_ed25519.pub
  genai-build boot --edition embedded --media virtio --secure-boot`
	if fl := cmd.Flags().Lookup("edition"); fl != nil {
		fl.DefValue = "embedded"
		_ = fl.Value.Set("embedded")
	}
	return cmd
}

// checkVerb says which verb builds the edition when verb is the other one: image builds the
// editions whose outputs are disk images, iso the others.
func checkVerb(verb, root, name string) error {
	ed, err := edition.Set{Dir: filepath.Join(root, "editions")}.Load(name)
	if err != nil {
		return nil // the build reports it, with every problem
	}
	disk := slices.Contains(ed.Outputs, "disk-image")
	switch {
	case verb == "iso" && disk:
		return fmt.Errorf("edition %s writes a disk image (outputs %v), not an ISO: build it with `genai-build image --edition %s`", name, ed.Outputs, name)
	case verb == "image" && !disk:
		return fmt.Errorf("edition %s writes no disk image (outputs %v): build it with `genai-build iso --edition %s`", name, ed.Outputs, name)
	}
	return nil
}
