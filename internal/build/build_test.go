package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debian"
	"github.com/genai-os/genai-build/internal/debtest"
	"github.com/genai-os/genai-build/internal/recipe"
)

// deb builds a .deb (deb(5)) holding files, each under "./".
func deb(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var data []debtest.File
	for name, body := range files {
		data = append(data, debtest.File{Name: "./" + name, Body: body})
	}
	return debtest.Deb(t, "Package: linux-image-test\nVersion: 1\n", ".gz", ".gz", nil, data)
}

// fakeRepo is a checkout with the repository's editions, overlays and kconfig, a kernel recipe only,
// and a lock pinning one kernel package served by mirror.
func fakeRepo(t *testing.T, kernelDeb []byte) (root string, mirror *httptest.Server) {
	t.Helper()
	root = t.TempDir()
	for _, d := range []string{"editions", "kconfig", "overlays"} {
		if err := os.CopyFS(filepath.Join(root, d), os.DirFS(filepath.Join("..", "..", d))); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "recipes"), 0o755)
	recipes, _ := filepath.Glob(filepath.Join("..", "..", "recipes", "*.yaml"))
	for _, r := range recipes {
		data, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(root, "recipes", filepath.Base(r)), data, 0o644)
	}
	sum := sha256.Sum256(kernelDeb)
	pool := "pool/main/l/linux-signed-amd64/linux-image-test_1_amd64.deb"
	lock := &debian.Lock{Suite: "trixie", Architecture: "amd64", Components: []string{"main"},
		Suites: []debian.LockedSuite{{Name: "trixie", Archive: debian.ArchiveMain,
			Release: debian.LockedFile{Path: "dists/trixie/InRelease", SHA256: strings.Repeat("a", 64)},
			Index:   debian.LockedFile{Path: "dists/trixie/main/binary-amd64/Packages.xz", SHA256: strings.Repeat("b", 64)}}},
		Recipes: map[string]string{}}
	for _, r := range recipes {
		name := strings.TrimSuffix(filepath.Base(r), ".yaml")
		rc, err := recipe.Load(filepath.Join(root, "recipes"), name)
		if err != nil {
			t.Fatal(err)
		}
		if d := rc.LockDigest(); d != "" {
			lock.Recipes[name] = d
		}
	}
	for _, p := range []debian.LockedPackage{
		{Name: "linux-image-amd64", Version: "1", Architecture: "amd64", Filename: "pool/main/l/linux-signed-amd64/linux-image-amd64_1_amd64.deb", SHA256: strings.Repeat("c", 64), Source: "linux-signed-amd64", Size: 10, Requested: "linux-image-amd64", Suite: "trixie"},
		{Name: "linux-image-test", Version: "1", Architecture: "amd64", Filename: pool, SHA256: hex.EncodeToString(sum[:]), Source: "linux-signed-amd64", Size: int64(len(kernelDeb)), Requested: "linux-image-amd64", Suite: "trixie"},
	} {
		lock.Packages = append(lock.Packages, p)
	}
	// The other recipes' packages: pinned to content the mirror does not have.
	lock.Sets = map[string][]string{"server-packages": {"dpkg", "openssh-server"}}
	for _, n := range []string{"dpkg", "grub-efi-amd64-signed", "isolinux", "openssh-server", "shim-signed", "syslinux-common"} {
		lock.Packages = append(lock.Packages, debian.LockedPackage{Name: n, Version: "1", Architecture: "all", Filename: "pool/main/x/" + n + "_1_all.deb", SHA256: strings.Repeat("d", 64), Source: n, Size: 10, Requested: n, Suite: "trixie"})
	}
	if err := lock.Write(filepath.Join(root, LockFile)); err != nil {
		t.Fatal(err)
	}
	mirror = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/"+pool {
			w.Write(kernelDeb)
			return
		}
		// Everything else is served with the wrong content (of the pinned size).
		w.Write([]byte("0123456789"))
	}))
	t.Cleanup(mirror.Close)
	return root, mirror
}

func kernelFiles(config string) map[string]string {
	return map[string]string{
		"boot/vmlinuz-6.12.0-test":                        "not a kernel",
		"boot/config-6.12.0-test":                         config,
		"usr/lib/modules/6.12.0-test/modules.builtin":     "kernel/drivers/virtio/virtio.ko\n",
		"usr/lib/modules/6.12.0-test/kernel/fs/x/x.ko.xz": "",
	}
}

func run(t *testing.T, root string, c *cache.Cache, m *httptest.Server, offline bool) (*Result, string, error) {
	out := t.TempDir()
	res, err := Run(context.Background(), Options{Root: root, Edition: "server", OutDir: out, Cache: c,
		Mirror: debian.Mirror{URL: m.URL}, Offline: offline, SourceDate: time.Unix(1700000000, 0)})
	return res, out, err
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("%s holds %v after a failed build, want nothing", dir, entries)
	}
}

// A .deb whose content does not match the lock stops the build before anything is written.
func TestBadDownloadStopsBuild(t *testing.T) {
	root, m := fakeRepo(t, deb(t, kernelFiles("CONFIG_X=y\n")))
	c := &cache.Cache{Dir: t.TempDir()}
	_, out, err := run(t, root, c, m, false)
	var mismatch *cache.DigestMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("err = %v, want a sha256 mismatch", err)
	}
	if !strings.Contains(err.Error(), "prepare:") {
		t.Errorf("err = %v, want it from the prepare step", err)
	}
	assertEmpty(t, out)
	if _, err := os.Stat(filepath.Join(c.Dir, "stages")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a stage was built after a bad download")
	}
}

// Offline, a build says which packages the cache lacks.
func TestOfflineListsMissing(t *testing.T) {
	root, m := fakeRepo(t, deb(t, kernelFiles("")))
	_, out, err := run(t, root, &cache.Cache{Dir: t.TempDir()}, m, true)
	if err == nil {
		t.Fatal("offline build with an empty cache succeeded")
	}
	for _, want := range []string{"offline", "linux-image-test 1", "shim-signed 1", "grub-efi-amd64-signed 1", "run once without --offline"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	assertEmpty(t, out)
}

// A kernel without an option the edition requires fails in the kernel step, naming the option and
// where it is required, before any program is built.
func TestKconfigCheckedFirst(t *testing.T) {
	config := "CONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_ZSTD=y\n# CONFIG_DEVTMPFS is not set\n"
	root, m := fakeRepo(t, deb(t, kernelFiles(config)))
	c := &cache.Cache{Dir: t.TempDir()}
	// Seed the cache with every package but the kernel, so the build gets past prepare.
	lock, err := debian.ReadLock(filepath.Join(root, LockFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range lock.Packages {
		if p.Name == "linux-image-test" || p.Name == "linux-image-amd64" {
			continue
		}
		body := []byte(fmt.Sprintf("package %d", i))
		_, sum, err := c.PutBlob(p.Name, bytes.NewReader(body), "")
		if err != nil {
			t.Fatal(err)
		}
		lock.Packages[i].SHA256, lock.Packages[i].Size = sum, int64(len(body))
	}
	if err := lock.Write(filepath.Join(root, LockFile)); err != nil {
		t.Fatal(err)
	}
	_, out, err := run(t, root, c, m, false)
	if err == nil {
		t.Fatal("build succeeded with a kernel lacking CONFIG_DEVTMPFS")
	}
	for _, want := range []string{"kernel:", "kconfig/base.config:", "CONFIG_DEVTMPFS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	assertEmpty(t, out)
	if _, err := os.Stat(filepath.Join(c.Dir, "stages", "go-program")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("programs were built before the kernel check failed")
	}
}

// A recipe that changed since the lock was written (a package added, a new exclude) fails the
// build in prepare, naming the recipe and what to run, before anything is fetched.
func TestRecipeChangedSinceLock(t *testing.T) {
	for name, edit := range map[string]string{
		"package added": "packages: [openssh-server, dpkg, tar]\n",
		"new exclude":   "packages: [openssh-server, dpkg]\nexclude: [zlib1g]\n",
	} {
		t.Run(name, func(t *testing.T) {
			root, m := fakeRepo(t, deb(t, kernelFiles("")))
			path := filepath.Join(root, "recipes", "server-packages.yaml")
			r, err := recipe.Load(filepath.Join(root, "recipes"), "server-packages")
			if err != nil {
				t.Fatal(err)
			}
			body := "name: server-packages\nkind: debian-packages\ndescription: d\n" + edit
			if len(r.Exclude) > 0 && name == "package added" {
				body += "exclude: [" + strings.Join(r.Exclude, ", ") + "]\n"
			}
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			c := &cache.Cache{Dir: t.TempDir()}
			_, out, err := run(t, root, c, m, false)
			if err == nil {
				t.Fatal("build succeeded with a recipe changed since the lock")
			}
			for _, want := range []string{"prepare:", "recipe server-packages", "server-packages.yaml", "changed since", "genai-build lock"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
			assertEmpty(t, out)
			if n, _ := os.ReadDir(filepath.Join(c.Dir, "blobs", "sha256")); len(n) != 0 {
				t.Errorf("%d blobs fetched before the recipe check", len(n))
			}
		})
	}
}
