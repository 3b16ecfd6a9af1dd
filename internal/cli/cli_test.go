package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }}, args)
	return code, out.String(), errb.String()
}

func TestEditions(t *testing.T) {
	code, out, errs := runCLI(t, nil, "--root", "../..", "editions")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"EDITION", "server", "0.1.0", "base", "(abstract)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestEveryVerbHasHelpWithExamples(t *testing.T) {
	for _, verb := range []string{"iso", "boot", "editions", "inspect", "lock", "repo", "version", "release", "verify", "release-key", "keys", "bundle", "update-key"} {
		code, out, _ := runCLI(t, nil, verb, "--help")
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "genai-build "+verb) {
			t.Errorf("%s --help: exit %d, no examples:\n%s", verb, code, out)
		}
	}
}

func TestErrors(t *testing.T) {
	bad := t.TempDir()
	for _, d := range []string{"editions", "recipes"} {
		os.MkdirAll(filepath.Join(bad, d), 0o755)
	}
	os.WriteFile(filepath.Join(bad, "editions", "server.yaml"), []byte("name: server\nkernel:\n  modulez: [x]\n"), 0o644)
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"unknown edition lists the known ones", []string{"--root", "../..", "iso", "--edition", "nosuch", "--offline"},
			[]string{`unknown edition "nosuch"`, "known editions: base, desktop, developer, embedded, enterprise, server"}},
		{"abstract edition", []string{"--root", "../..", "iso", "--edition", "base", "--offline", "--cache-dir", t.TempDir()},
			[]string{"abstract"}},
		{"malformed manifest names file, line and field", []string{"--root", bad, "iso", "--offline"},
			[]string{"server.yaml:3:", `"modulez" is not a known field`}},
		{"bad assistant endpoint", []string{"--root", "../..", "iso", "--offline", "--assistant-endpoint", "localhost:11434"},
			[]string{`--assistant-endpoint: "localhost:11434": want an http:// or https:// URL`}},
		{"assistant key file must be a path", []string{"--root", "../..", "iso", "--offline", "--assistant-endpoint", "http://h/v1", "--assistant-key-file", "sk-123"},
			[]string{`--assistant-key-file: "sk-123": want an absolute path`}},
		{"iso of a disk edition names image", []string{"--root", "../..", "iso", "--edition", "embedded", "--offline"},
			[]string{"edition embedded writes a disk image", "genai-build image --edition embedded"}},
		{"image of an ISO edition names iso", []string{"--root", "../..", "image", "--edition", "server", "--offline"},
			[]string{"edition server writes no disk image", "genai-build iso --edition server"}},
		{"bad media", []string{"boot", "x.img", "--media", "scsi"}, []string{`unknown media "scsi": use cd, usb, virtio, nvme or sata`}},
		{"no checkout", []string{"--root", t.TempDir(), "editions"}, []string{"no editions/ folder"}},
		{"bad firmware", []string{"boot", "x.iso", "--firmware", "coreboot"}, []string{`unknown firmware "coreboot"`}},
		{"inspect a missing file", []string{"inspect", filepath.Join(t.TempDir(), "none.iso")}, []string{"none.iso"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, map[string]string{"SOURCE_DATE_EPOCH": "1700000000", "GENAI_BUILD_CACHE": t.TempDir()}, tt.args...)
			if code == 0 {
				t.Fatal("exit 0, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}

func TestSourceDate(t *testing.T) {
	if _, err := sourceDate(Env{Getenv: func(string) string { return "yesterday" }}, "."); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: err = %v", err)
	}
	d, err := sourceDate(Env{Getenv: func(string) string { return "1700000000" }}, ".")
	if err != nil || d.Unix() != 1700000000 {
		t.Errorf("sourceDate = %v, %v", d, err)
	}
}

// --cache-remote and $GENAI_BUILD_CACHE_REMOTE are parsed before a build starts; the flag wins.
func TestCacheRemote(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"bad flag", "", []string{"--cache-remote", "https://127.0.0.1:5000/cache"}, "--cache-remote: remote cache \"https://127.0.0.1:5000/cache\": want oci://"},
		{"bad variable", "oci://127.0.0.1:5000", nil, "$GENAI_BUILD_CACHE_REMOTE: remote cache \"oci://127.0.0.1:5000\": want oci://HOST[:PORT]/REPO, with a repository"},
		{"the flag wins", "nonsense", []string{"--cache-remote", "oci://127.0.0.1:5000/cache"}, "abstract"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"SOURCE_DATE_EPOCH": "1700000000", "GENAI_BUILD_CACHE": t.TempDir(), "GENAI_BUILD_CACHE_REMOTE": tt.env}
			args := append(append([]string{"--root", "../.."}, tt.args...), "iso", "--edition", "base", "--offline")
			code, _, errs := runCLI(t, env, args...)
			if code == 0 || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q; want an error with %q", code, errs, tt.want)
			}
		})
	}
}
