package recipe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ok", "name: ok\nkind: go\npackage: ./cmd/x\ninstall: usr/bin/x\n")
	write("unknown", "name: unknown\nkind: go\npackage: ./cmd/x\ninstall: usr/bin/x\nflavour: sweet\n")
	write("kindless", "name: kindless\nkind: rpm\n")
	write("incomplete", "name: incomplete\nkind: debian-files\npackages: []\n")
	write("skips", "name: skips\nkind: debian-packages\npackages: [netbase]\nconfigure:\n  skip:\n    netbase: [\"> /etc/hosts\"]\n")
	write("skiptypo", "name: skiptypo\nkind: debian-packages\npackages: [netbase]\nconfigure:\n  skips:\n    netbase: [x]\n")
	write("skipgo", "name: skipgo\nkind: go\npackage: ./cmd/x\ninstall: usr/bin/x\nconfigure:\n  skip: {x: [y]}\n")
	write("clib", "name: clib\nkind: go-c-shared\npackage: ./tools/clib\ninstall: usr/lib/libx.so.0\nlinks: [usr/lib/libx.so]\nfiles:\n  usr/include/x.h: tools/clib/x.h\n")
	write("clibname", "name: clibname\nkind: go-c-shared\npackage: ./tools/clib\ninstall: usr/lib/x.so\nfiles:\n  usr/include/x.h: ../x.h\n")
	write("misnamed", "name: other\nkind: u-root\ncommands: [core/ls]\ninstall: bin\n")
	for _, tt := range []struct {
		name string
		want []string // substrings of the error; none: success
	}{
		{"ok", nil},
		{"unknown", []string{"unknown.yaml:5:", `"flavour" is not a known field`}},
		{"kindless", []string{"kindless.yaml:2: kind:", `"rpm" is not a recipe kind`, "debian-files"}},
		{"incomplete", []string{"incomplete.yaml:3: packages: missing", "incomplete.yaml:1: files: missing"}},
		{"skips", nil},
		{"skiptypo", []string{"skiptypo.yaml:5:", `"skips" is not a known field`}},
		{"skipgo", []string{"skipgo.yaml:5: configure:", "only debian-packages"}},
		{"clib", nil},
		{"clibname", []string{"clibname.yaml:4: install:", "the SONAME", "clibname.yaml:5: files: usr/include/x.h: ../x.h"}},
		{"misnamed", []string{"misnamed.yaml:1: name:", "does not match"}},
		{"absent", []string{`no recipe "absent"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Load(dir, tt.name)
			if len(tt.want) == 0 {
				if err != nil || r.Name != tt.name {
					t.Fatalf("Load = %+v, %v", r, err)
				}
				return
			}
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestRepositoryRecipes loads every recipe of the repository.
func TestRepositoryRecipes(t *testing.T) {
	names, err := Names(filepath.Join("..", "..", "recipes"))
	if err != nil || len(names) == 0 {
		t.Fatalf("Names = %v, %v", names, err)
	}
	if _, err := LoadAll(filepath.Join("..", "..", "recipes"), names); err != nil {
		t.Fatal(err)
	}
}
