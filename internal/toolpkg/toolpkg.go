// Package toolpkg packages GenAI OS's own tools as Debian binary packages: each Go program of this
// repository that has a recipe (recipes/<name>.yaml, kind go) and an entry in Tools, built with
// internal/gobuild (cached by its inputs) and written with internal/debpack.
package toolpkg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debpack"
	"github.com/genai-os/genai-build/internal/gobuild"
	"github.com/genai-os/genai-build/internal/recipe"
)

// Tool is what a Go recipe needs beyond itself to become a package. A new tool is one more entry
// of Tools (and its recipe).
type Tool struct {
	Recipe   string // recipes/<Recipe>.yaml, kind go; also the package name
	Section  string // Debian Policy §2.4
	Synopsis string // the Description's first line
	Long     string // the extended description
	// Applets are further names of a busybox-style binary (paths in the package), each a symlink
	// to the installed binary; the recipe's own links under usr/ are added too.
	Applets []string
	Depends string // "" for a static Go binary, which needs nothing
}

// Tools are the packages `genai-build repo` makes.
var Tools = []Tool{
	{
		Recipe:   "consciousness-init",
		Section:  "admin",
		Synopsis: "PID 1 init and service manager of GenAI OS",
		Long: `consciousness-init is the init of GenAI OS images: it mounts the API file
systems, starts the units of /etc/consciousness/services (systemd's unit
dialect: .service and .socket, socket activation included), loads kernel
modules, reports one ready line on the console and supervises the services.

The same static binary is, by the name it runs as, consciousness-manager (which
controls a running init over /run/consciousness/control.sock: status, start,
stop, logs, the boot timeline, levels, poweroff) and ssh-hostkey (makes an
SSH host key).`,
		Applets: []string{"usr/sbin/ssh-hostkey"},
	},
	{
		// The native suite: one binary; the editions link the tools they carry (recipes
		// genai-tools and genai-tutor build the same program), the package links them all.
		Recipe:   "genai-tools",
		Section:  "admin",
		Synopsis: "GenAI OS's native tools: assistant, debugger, tutor, dashboard, updates",
		Long: `genai-tools is one static binary that runs, by the name it runs as:

 genai-assistant: asks a model behind an OpenAI-compatible chat API about the
  system it runs on, reading the init's state through tool calls;
 consciousness-debugger: the boot timeline, dependency graph, crash history,
  why a unit is not running, and live events of consciousness-init;
 educational-tutor: interactive lessons about GenAI OS, checked against the
  running system;
 security-dashboard: the running system's security posture, as text, JSON
  or HTML;
 genai-update: installs a signed update bundle into the other slot of an
  A/B disk and marks it for a trial boot; shows both slots' state.`,
		Applets: []string{"usr/bin/educational-tutor"},
	},
}

const (
	// Maintainer is the packages' Maintainer field.
	Maintainer = "GenAI OS maintainers <maintainers@genai-os.invalid>"
	// Homepage is the project's home (go.mod's module path).
	Homepage = "https://github.com/genai-os/genai-build"
)

// Copyright is usr/share/doc/<package>/copyright in the machine-readable format
// (https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/). The repository has no
// licence file and its README states none, so the copyright file says exactly that.
func Copyright(pkg string) string {
	return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ` + pkg + `
Upstream-Contact: ` + Maintainer + `
Source: ` + Homepage + `

Files: *
Copyright: GenAI OS authors
License: none-stated
 The genai-build repository holds no licence file, and its README states no
 licence. Until one is chosen, no licence is granted beyond what the law
 allows without one.
`
}

// Options say what to build.
type Options struct {
	Root       string // the genai-build checkout (recipes/, the Go module)
	Version    string // the packages' Debian version
	Arch       string // Debian and Go architecture, "amd64"
	Cache      *cache.Cache
	SourceDate time.Time
	Log        *slog.Logger
	// Tools defaults to Tools.
	Tools []Tool
}

// Build builds each tool's binary and its .deb, in the order of opts.Tools.
func Build(ctx context.Context, opts Options) ([]*debpack.Package, error) {
	tools := opts.Tools
	if tools == nil {
		tools = Tools
	}
	if err := debpack.ValidVersion(opts.Version); err != nil {
		return nil, err
	}
	var out []*debpack.Package
	for _, t := range tools {
		r, err := recipe.Load(path.Join(opts.Root, "recipes"), t.Recipe)
		if err != nil {
			return nil, err
		}
		if r.Kind != recipe.KindGo {
			return nil, fmt.Errorf("tool %s: recipe kind %s, want %s", t.Recipe, r.Kind, recipe.KindGo)
		}
		bin, err := gobuild.BuildProgram(ctx, gobuild.ProgramOptions{ModuleDir: opts.Root, Package: r.Package, GOARCH: opts.Arch, Cache: opts.Cache, Log: opts.Log})
		if err != nil {
			return nil, fmt.Errorf("tool %s: %w", t.Recipe, err)
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return nil, fmt.Errorf("tool %s: %w", t.Recipe, err)
		}
		entries, err := Entries(t, r, data)
		if err != nil {
			return nil, err
		}
		p, err := debpack.Build(debpack.Control{
			Package: t.Recipe, Version: opts.Version, Architecture: opts.Arch, Maintainer: Maintainer,
			Section: t.Section, Priority: "optional", Depends: t.Depends, Homepage: Homepage,
			Synopsis: t.Synopsis, Long: t.Long,
		}, entries, opts.SourceDate)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Entries are a tool's files: the binary at the recipe's install path (0755), a relative symlink
// for each applet and each recipe link under usr/, and the copyright file. A recipe link outside
// usr/ ("init", the initramfs's entry point) belongs to images, not to a package installed on a
// running system.
func Entries(t Tool, r *recipe.Recipe, binary []byte) ([]debpack.Entry, error) {
	install := strings.TrimPrefix(r.Install, "/")
	if !strings.HasPrefix(install, "usr/") {
		return nil, fmt.Errorf("tool %s: install path %q is not under usr/ (merged /usr)", t.Recipe, r.Install)
	}
	entries := []debpack.Entry{
		{Path: install, Mode: 0o755, Data: binary},
		{Path: "usr/share/doc/" + t.Recipe + "/copyright", Mode: 0o644, Data: []byte(Copyright(t.Recipe))},
	}
	links := map[string]bool{}
	for _, l := range append(append([]string(nil), r.Links...), t.Applets...) {
		l = strings.TrimPrefix(l, "/")
		if !strings.HasPrefix(l, "usr/") || links[l] {
			continue
		}
		links[l] = true
	}
	names := make([]string, 0, len(links))
	for l := range links {
		names = append(names, l)
	}
	sort.Strings(names)
	for _, l := range names {
		target, err := relLink(l, install)
		if err != nil {
			return nil, fmt.Errorf("tool %s: %w", t.Recipe, err)
		}
		entries = append(entries, debpack.Entry{Path: l, Link: target})
	}
	return entries, nil
}

// relLink is the relative target from link to target, both paths under one top-level folder
// (Debian Policy §10.5: symlinks within a top-level folder are relative).
func relLink(link, target string) (string, error) {
	if link == target {
		return "", errors.New(link + ": a link to itself")
	}
	from := strings.Split(path.Dir(link), "/")
	to := strings.Split(target, "/")
	i := 0
	for i < len(from) && i < len(to)-1 && from[i] == to[i] {
		i++
	}
	var parts []string
	for range from[i:] {
		parts = append(parts, "..")
	}
	return path.Join(append(parts, to[i:]...)...), nil
}
