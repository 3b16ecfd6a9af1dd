package debian

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

const debControl = "Package: isolinux\nVersion: 3:6.04~git20190206.bf6db5b4+dfsg1-3\nArchitecture: all\nDescription: boot loader\n for ISO images\n"

func TestReadDeb(t *testing.T) {
	data := []tarFile{
		{Name: "./", Type: tar.TypeDir},
		{Name: "./usr/", Type: tar.TypeDir},
		{Name: "./usr/lib/ISOLINUX/isolinux.bin", Body: "odd-sized body"},
		{Name: "./usr/lib/ISOLINUX/link.bin", Type: tar.TypeLink, Link: "./usr/lib/ISOLINUX/isolinux.bin"},
		{Name: "./usr/lib/syslinux", Type: tar.TypeSymlink, Link: "/usr/lib/ISOLINUX"},
	}
	for _, c := range []struct{ ctl, data string }{{".xz", ".xz"}, {".zst", ".zst"}, {".gz", ".gz"}, {".gz", ""}} {
		t.Run("control.tar"+c.ctl+"+data.tar"+c.data, func(t *testing.T) {
			raw := makeDeb(t, debControl, c.ctl, c.data, data)
			d, err := ReadDeb(bytes.NewReader(raw), int64(len(raw)))
			if err != nil {
				t.Fatal(err)
			}
			if d.Control().Get("Package") != "isolinux" || d.Control().Get("Description") != "boot loader\nfor ISO images" {
				t.Errorf("control: %+v", d.Control())
			}
			if d.DataMember() != "data.tar"+c.data {
				t.Errorf("DataMember = %q", d.DataMember())
			}
			var names []string
			var body string
			err = d.WalkData(func(h *tar.Header, r io.Reader) error {
				names = append(names, h.Name+"|"+h.Linkname)
				if h.Name == "usr/lib/ISOLINUX/isolinux.bin" {
					b, err := io.ReadAll(r)
					body = string(b)
					return err
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"usr|", "usr/lib/ISOLINUX/isolinux.bin|", "usr/lib/ISOLINUX/link.bin|usr/lib/ISOLINUX/isolinux.bin", "usr/lib/syslinux|/usr/lib/ISOLINUX"}
			if !reflect.DeepEqual(names, want) || body != "odd-sized body" {
				t.Errorf("entries %q body %q", names, body)
			}
		})
	}
}

func TestReadDebFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.deb")
	if err := os.WriteFile(p, makeDeb(t, debControl, ".xz", ".xz", nil), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDeb(p)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Control().Get("Version") != "3:6.04~git20190206.bf6db5b4+dfsg1-3" {
		t.Error(d.Control())
	}
}

func TestReadDebUnsafe(t *testing.T) {
	for _, f := range []tarFile{
		{Name: "./../etc/passwd", Body: "x"},
		{Name: "/etc/passwd", Body: "x"},
		{Name: "./usr/../../x", Body: "x"},
		{Name: "./ok", Type: tar.TypeLink, Link: "../../etc/shadow"},
	} {
		raw := makeDeb(t, debControl, ".gz", ".gz", []tarFile{{Name: "./fine", Body: "y"}, f})
		d, err := ReadDeb(bytes.NewReader(raw), int64(len(raw)))
		if err != nil {
			t.Fatal(err)
		}
		var seen []string
		err = d.WalkData(func(h *tar.Header, r io.Reader) error { seen = append(seen, h.Name); return nil })
		var ue *UnsafePathError
		if !errors.As(err, &ue) {
			t.Errorf("%q: err = %v, want UnsafePathError", f.Name, err)
		}
		if len(seen) != 1 || seen[0] != "fine" {
			t.Errorf("%q: fn saw %q", f.Name, seen)
		}
	}
}

func TestReadDebMalformed(t *testing.T) {
	good := makeDeb(t, debControl, ".gz", ".gz", nil)
	for name, raw := range map[string][]byte{
		"not ar":         []byte("hello"),
		"truncated":      good[:len(good)-5],
		"no control":     makeAr([]arEntry{{"debian-binary", []byte("2.0\n")}, {"data.tar", makeTar(t, nil)}, {"x", nil}}),
		"version 3":      makeAr([]arEntry{{"debian-binary", []byte("3.0\n")}, {"control.tar", nil}, {"data.tar", nil}}),
		"bad compressed": makeAr([]arEntry{{"debian-binary", []byte("2.0\n")}, {"control.tar.xz", []byte("junk")}, {"data.tar", nil}}),
		"no control file": makeAr([]arEntry{{"debian-binary", []byte("2.0\n")},
			{"control.tar", makeTar(t, []tarFile{{Name: "./md5sums", Body: ""}})}, {"data.tar", nil}}),
	} {
		if _, err := ReadDeb(bytes.NewReader(raw), int64(len(raw))); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
