package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/ocicache"
	"github.com/genai-os/genai-build/internal/ocicache/ocitest"
)

// runRemoteOnly is `bench -remote-only`: the shared cache's rows alone.
func runRemoteOnly(edition string) error {
	_, work, err := workspace()
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := buildBinary(work)
	if err != nil {
		return err
	}
	rows, err := remoteRows(edition, bin, work)
	if err != nil {
		return err
	}
	printRows(rows)
	return nil
}

// remoteRows measures a CI job's build with a warm shared cache: a registry on 127.0.0.1 (Debian's
// docker-registry) is seeded with the user's downloads and then with every stage by one build on
// an empty local cache; a second build on another empty local cache, with no Debian mirror
// reachable, takes everything from the registry. Without docker-registry the rows are skipped and
// the reason printed.
func remoteRows(edition, bin, work string) ([]row, error) {
	reg, err := ocitest.Start(filepath.Join(work, "registry"))
	if errors.Is(err, ocitest.ErrNoBinary) {
		fmt.Fprintln(os.Stderr, "bench: skipping the shared-cache rows:", err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	spec := "oci://" + reg.Host + "/genai-build/cache"
	fmt.Fprintln(os.Stderr, "shared cache: seeding the registry with the user's downloads…")
	seed, err := ocicache.New(spec, ocicache.Options{Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		return nil, err
	}
	user := &cache.Cache{Dir: userCacheDir()}
	blobs, _ := filepath.Glob(user.BlobPath("*"))
	for _, p := range blobs {
		sha := filepath.Base(p)
		fi, err := os.Stat(p)
		if err != nil || len(sha) != 64 {
			continue
		}
		seed.PushBlob(sha, cache.Content{Size: fi.Size(), SHA256: sha, Open: func() (io.ReadCloser, error) { return os.Open(p) }})
	}
	if seed.Stats().Off {
		return nil, fmt.Errorf("seeding the registry at %s failed", spec)
	}
	build := func(what string) (time.Duration, error) {
		out := filepath.Join(work, what)
		cmd := exec.Command(bin, "iso", "--quiet", "--edition", edition, "--out", out,
			"--mirror", "http://127.0.0.1:1", "--security-mirror", "http://127.0.0.1:1") // every download from the registry
		cmd.Env = append(os.Environ(), "GENAI_BUILD_CACHE="+filepath.Join(work, what, "cache"),
			ocicache.EnvVar+"="+spec, "SOURCE_DATE_EPOCH=1764000000")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("%v: %v\n%s", cmd.Args, err, stderr.String())
		}
		if stderr.Len() > 0 {
			return 0, fmt.Errorf("%s build warned:\n%s", what, stderr.String())
		}
		return time.Since(start), nil
	}
	fmt.Fprintln(os.Stderr, "shared cache: a build on an empty local cache pushes every stage…")
	pushing, err := build("pushing")
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "shared cache: a build on another empty local cache pulls them…")
	pulling, err := build("pulling")
	if err != nil {
		return nil, err
	}
	return []row{
		{edition + " build, empty local cache, cold remote cache (builds and pushes every stage)", secs(pushing), "docker-registry on 127.0.0.1, downloads seeded; warm Go build cache"},
		{edition + " build, empty local cache, warm remote cache", secs(pulling), "same registry, every stage and download pulled; no Debian mirror; target ≤ 20 s"},
	}, nil
}
