package kmod_test

import (
	"fmt"
	"strings"

	"github.com/genai-os/genai-build/internal/kmod"
)

func ExampleCheck() {
	cfg, err := kmod.ParseConfig(strings.NewReader("CONFIG_DEVTMPFS=y\n# CONFIG_DEVTMPFS_MOUNT is not set\nCONFIG_EXT4_FS=m\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	reqs, err := kmod.ParseRequirements("kconfig/base.config", strings.NewReader("CONFIG_DEVTMPFS=y\nCONFIG_DEVTMPFS_MOUNT=y\nCONFIG_EXT4_FS=y|m\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range kmod.Check(cfg, reqs) {
		fmt.Println(v.Error())
	}
	// Output: kconfig/base.config:2: CONFIG_DEVTMPFS_MOUNT=y required, kernel has it not set
}

func ExampleIndex_Resolve() {
	ix := kmod.NewIndex([]kmod.Module{
		{Path: "kernel/drivers/virtio/virtio_ring.ko.xz", Info: kmod.ModInfo{Name: "virtio_ring"}},
		{Path: "kernel/drivers/virtio/virtio.ko.xz", Info: kmod.ModInfo{Name: "virtio", Depends: []string{"virtio_ring"}}},
		{Path: "kernel/drivers/block/virtio_blk.ko.xz", Info: kmod.ModInfo{Name: "virtio_blk", Depends: []string{"virtio", "virtio_ring"}}},
	})
	mods, err := ix.Resolve([]string{"virtio-blk"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range mods {
		fmt.Println(m.Path)
	}
	// Output:
	// kernel/drivers/virtio/virtio_ring.ko.xz
	// kernel/drivers/virtio/virtio.ko.xz
	// kernel/drivers/block/virtio_blk.ko.xz
}
