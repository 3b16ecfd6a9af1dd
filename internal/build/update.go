package build

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/genai-os/genai-build/internal/bundle"
	"github.com/genai-os/genai-build/internal/edition"
)

// DiskImageOutput is the output of an A/B edition: a disk image whose slots take signed update
// bundles, so its build needs an update key.
const DiskImageOutput = "disk-image"

// ErrNoUpdateKey is an A/B edition built without an update key.
var ErrNoUpdateKey = errors.New("the disk-image output builds the update key's public key into the image and signs its update bundle: pass --update-key DIR (make one with `genai-build update-key init DIR`, and keep DIR: every device built with it takes only bundles signed by it)")

// NeedsUpdateKey says whether an edition's build needs Options.UpdateKey.
func NeedsUpdateKey(ed *edition.Edition) bool { return slices.Contains(ed.Outputs, DiskImageOutput) }

// loadUpdateKey reads the update key when the edition needs one, before anything is fetched or
// built: a missing or bad key stops the build at once. Another edition ignores it (the
// environment may name one for every build).
func (s *state) loadUpdateKey() error {
	if !NeedsUpdateKey(s.ed) {
		if s.opts.BundleOnly {
			return fmt.Errorf("edition %s has no %s output, so no update bundle (its outputs: %v)", s.ed.Name, DiskImageOutput, s.ed.Outputs)
		}
		return nil
	}
	if s.opts.UpdateKey == "" {
		return fmt.Errorf("edition %s: %w", s.ed.Name, ErrNoUpdateKey)
	}
	key, err := bundle.LoadPrivateKey(s.opts.UpdateKey)
	if err != nil {
		return fmt.Errorf("--update-key %s: %w", s.opts.UpdateKey, err)
	}
	s.updateKey = key
	return nil
}

// updateKeyFiles are the root's trusted update keys: the build's public key at
// etc/genai/update-keys/<keyid>.pub (none without an update key).
func (s *state) updateKeyFiles() (map[string]string, error) {
	if s.updateKey == nil {
		return nil, nil
	}
	pub := s.updateKey.Public().(ed25519.PublicKey)
	b, err := bundle.MarshalPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return map[string]string{bundle.TrustedKeyPath(pub): string(b)}, nil
}

// bundleFunc is output.Chain.Bundle for this build: it writes a slot image's bundle with the
// build's edition, architecture, version, build id and source date, signed with the update key;
// nil without one.
func (s *state) bundleFunc(buildID string) func(ctx context.Context, slotImage string, w io.Writer) error {
	if s.updateKey == nil {
		return nil
	}
	id := bundle.Manifest{Edition: s.ed.Name, Arch: s.ed.Arch, Version: s.ed.Version, BuildID: buildID, Created: s.opts.SourceDate}
	key := s.updateKey
	return func(ctx context.Context, slotImage string, w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := bundle.Write(w, slotImage, id, key); err != nil {
			return fmt.Errorf("update bundle: %w", err)
		}
		return nil
	}
}

// updateKeyID names the update key in the images' key: another key makes other images.
func (s *state) updateKeyID() string {
	if s.updateKey == nil {
		return ""
	}
	return bundle.KeyID(s.updateKey.Public().(ed25519.PublicKey))
}
