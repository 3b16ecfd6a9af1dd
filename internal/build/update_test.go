package build

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/bundle"
	"github.com/genai-os/genai-build/internal/edition"
)

func embeddedState(t *testing.T, keyDir string, outputs ...string) *state {
	t.Helper()
	return &state{opts: Options{UpdateKey: keyDir, Root: t.TempDir(), SourceDate: time.Unix(1700000000, 0)}, prog: nopProgress{},
		ed: &edition.Edition{Name: "embedded", Arch: "amd64", Version: "0.2.0", Outputs: outputs}}
}

// TestUpdateKeyNeeded: an edition with the disk-image output needs --update-key, and says how to
// make one; another edition ignores it.
func TestUpdateKeyNeeded(t *testing.T) {
	s := embeddedState(t, "", DiskImageOutput)
	if err := s.loadUpdateKey(); !errors.Is(err, ErrNoUpdateKey) || !strings.Contains(err.Error(), "genai-build update-key init") {
		t.Errorf("no key: %v", err)
	}
	s = embeddedState(t, t.TempDir(), DiskImageOutput)
	if err := s.loadUpdateKey(); err == nil || !strings.Contains(err.Error(), "update-key init") {
		t.Errorf("an empty key folder: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "k")
	if _, err := bundle.GenerateKey(dir, false); err != nil {
		t.Fatal(err)
	}
	s = embeddedState(t, dir, "iso")
	if err := s.loadUpdateKey(); err != nil || s.updateKey != nil || s.bundleFunc("x") != nil {
		t.Errorf("an edition without disk-image took the key: %v", err)
	}
	s.opts.BundleOnly = true
	if err := s.loadUpdateKey(); err == nil || !strings.Contains(err.Error(), "no disk-image output") {
		t.Errorf("bundle of an edition without disk-image: %v", err)
	}
}

// keyedState is an A/B edition's build state with a new update key loaded.
func keyedState(t *testing.T) (*state, ed25519.PublicKey) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "k")
	pub, err := bundle.GenerateKey(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	s := embeddedState(t, dir, DiskImageOutput)
	if err := s.loadUpdateKey(); err != nil {
		t.Fatal(err)
	}
	return s, pub
}

// TestUpdateKeyInRoot: the public key is in the system tree at
// etc/genai/update-keys/<keyid>.pub, where genai-update reads it.
func TestUpdateKeyInRoot(t *testing.T) {
	s, pub := keyedState(t)
	tree, err := s.systemTree(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := tree.Get("etc/genai/update-keys/" + bundle.KeyID(pub) + ".pub")
	if !ok {
		t.Fatal("no update key in the system tree")
	}
	data, _ := e.ReadAll()
	got, err := bundle.ParsePublicKey(data)
	if err != nil || !got.Equal(pub) || e.Mode != 0o644 {
		t.Errorf("update key %v (mode %v): %v", got, e.Mode, err)
	}
}

// TestBundleFunc: Chain.Bundle writes a bundle of the build that a device with the image's key
// takes, naming the build's edition, version and build id.
func TestBundleFunc(t *testing.T) {
	s, pub := keyedState(t)
	img := bytes.Repeat([]byte("slot"), 300000)
	p := filepath.Join(t.TempDir(), "slot.img")
	os.WriteFile(p, img, 0o644)
	var a, b bytes.Buffer
	f := s.bundleFunc("feedbeef")
	if err := f(context.Background(), p, &a); err != nil {
		t.Fatal(err)
	}
	f(context.Background(), p, &b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two bundles of one build differ")
	}
	keys := bundle.Keyring{}
	keys.Add(pub)
	r, err := bundle.Open(&a, bundle.Policy{Keys: keys, Edition: "embedded", Arch: "amd64", Version: "0.1.0", TargetSize: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	m := r.Manifest
	if m.Version != "0.2.0" || m.BuildID != "feedbeef" || m.Compatible != "genai-os/embedded/amd64" || !m.Created.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("manifest %+v", m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f(ctx, p, &b); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
