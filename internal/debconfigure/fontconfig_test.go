package debconfigure

import (
	"testing"

	"github.com/genai-os/genai-build/internal/fstree"
)

func TestFontconfigLinks(t *testing.T) {
	tree := fstree.New()
	for _, name := range []string{"10-hinting-slight.conf", "70-no-bitmaps-except-emoji.conf", "10-hinting-full.conf"} {
		if err := tree.Add(fstree.Entry{Path: "usr/share/fontconfig/conf.avail/" + name, Kind: fstree.File, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fontconfigLinks(tree); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"10-hinting-slight.conf", "70-no-bitmaps-except-emoji.conf"} {
		e, ok := tree.Get("etc/fonts/conf.d/" + name)
		if !ok || e.Kind != fstree.Symlink || e.Target != "/usr/share/fontconfig/conf.avail/"+name {
			t.Errorf("%s: %+v, want a link into conf.avail", name, e)
		}
	}
	if _, ok := tree.Get("etc/fonts/conf.d/10-hinting-full.conf"); ok {
		t.Error("a link of another debconf answer was made")
	}
	if err := fontconfigLinks(fstree.New()); err == nil {
		t.Error("no error for a tree without conf.avail")
	}
}

func TestNsswitch(t *testing.T) {
	tree := fstree.New()
	if err := tree.Add(fstree.Entry{Path: "usr/share/libc-bin/nsswitch.conf", Kind: fstree.File, Mode: 0o644, Data: []byte("passwd: files\n")}); err != nil {
		t.Fatal(err)
	}
	if err := nsswitch(tree); err != nil {
		t.Fatal(err)
	}
	if e, ok := tree.Get("etc/nsswitch.conf"); !ok || string(e.Data) != "passwd: files\n" {
		t.Fatalf("etc/nsswitch.conf: %+v", e)
	}
	// an existing file (an overlay's, an earlier package's) is kept
	if err := tree.Replace(fstree.Entry{Path: "etc/nsswitch.conf", Kind: fstree.File, Mode: 0o644, Data: []byte("mine\n")}); err != nil {
		t.Fatal(err)
	}
	if err := nsswitch(tree); err != nil {
		t.Fatal(err)
	}
	if e, _ := tree.Get("etc/nsswitch.conf"); string(e.Data) != "mine\n" {
		t.Errorf("an existing nsswitch.conf was replaced: %q", e.Data)
	}
}
