package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/genai-os/genai-build/tools/genai"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/genai-os/genai-build/initramfs/firewall"
	"github.com/genai-os/genai-build/initramfs/rootcheck"
	"github.com/genai-os/genai-build/initramfs/unit"
	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/debconfigure"
	"github.com/genai-os/genai-build/internal/edition"
	"github.com/genai-os/genai-build/internal/fstree"
	"github.com/genai-os/genai-build/internal/gobuild"
	"github.com/genai-os/genai-build/internal/initrd"
	"github.com/genai-os/genai-build/internal/memreq"
	"github.com/genai-os/genai-build/internal/recipe"
	"github.com/genai-os/genai-build/internal/welcome"
)

// segmentRecipe names how segments are written; change it when the archive layout changes.
const segmentRecipe = "initrd-segment/2" // 2: zstd at its best-compression level

// segment is one component's part of the initramfs: its own compressed cpio archive. The kernel
// unpacks concatenated archives in order, so a change to one component rewrites only its segment.
type segment struct {
	name string
	tree *fstree.Tree
	// build makes the tree when it is nil and the segment is not cached (key must be set).
	build func() (*fstree.Tree, error)
	// key identifies the segment's content without hashing it (e.g. a cached binary's path, which
	// holds its input hash); empty: the tree's content is hashed.
	key string
}

// FileRecord is one file of the image, for the build manifest.
type FileRecord struct {
	Path   string `json:"path"`
	Where  string `json:"where"` // "iso", "initramfs:<segment>"
	Kind   string `json:"kind"`
	Mode   string `json:"mode"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Target string `json:"target,omitempty"`
	Origin string `json:"origin"`
}

// records lists a tree's entries with their digests.
func records(t *fstree.Tree, where string) ([]FileRecord, error) {
	var out []FileRecord
	for _, e := range t.Entries() {
		r := FileRecord{Path: "/" + e.Path, Where: where, Kind: e.Kind.String(), Mode: fmt.Sprintf("%04o", uint32(e.Mode.Perm())), Target: e.Target, Origin: e.Origin}
		if e.Kind == fstree.File {
			sum, n, err := digest(e)
			if err != nil {
				return nil, err
			}
			r.SHA256, r.Size = sum, n
		}
		out = append(out, r)
	}
	return out, nil
}

func digest(e *fstree.Entry) (string, int64, error) {
	rc, err := e.Open()
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// contentKey hashes every entry of a tree, with file contents.
func contentKey(t *fstree.Tree) (string, error) {
	recs, err := records(t, "")
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(recs)
	return cache.Key(string(b)), nil
}

// segmentKey identifies a segment's content: its key, or the hash of its tree.
func segmentKey(seg *segment) (string, error) {
	if seg.key != "" {
		return seg.key, nil
	}
	if seg.tree == nil {
		return "", fmt.Errorf("segment %s: neither a tree nor a key", seg.name)
	}
	return contentKey(seg.tree)
}

// initramfs is a written initramfs: the file, its segments and every file it holds.
type initramfs struct {
	path     string
	size     int64
	files    []FileRecord
	segments []SegmentFile
	memory   memreq.Estimate
}

// writeSegments writes (or reuses) each segment's compressed archive and concatenates them, after
// the root manifest that describes them, into an initramfs, itself cached by the segments' keys.
// placement says for the memory estimate where the root lives.
func (s *state) writeSegments(ctx context.Context, k *kernelStage, segments []*segment, placement memreq.Placement) (*initramfs, error) {
	comp, err := initrd.ParseCompression(s.ed.Initramfs.Compression)
	if err != nil {
		return nil, err
	}
	epoch := strconv.FormatInt(s.opts.SourceDate.Unix(), 10)
	var paths, keys []string
	var files []FileRecord
	var segFiles []segmentFiles
	var compressed int64
	for _, seg := range segments {
		key, err := segmentKey(seg)
		if err != nil {
			return nil, err
		}
		keys = append(keys, cache.Key(segmentRecipe, seg.name, key, comp.String(), epoch))
	}
	for i, seg := range segments {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Every segment is checked whole: its size goes into the root manifest, which keys the
		// initramfs.
		dir, err := s.segmentDir(seg, keys[i], comp, nil)
		if err != nil {
			return nil, err
		}
		var recs []FileRecord
		b, err := os.ReadFile(filepath.Join(dir, "files.json"))
		if err == nil {
			err = json.Unmarshal(b, &recs)
		}
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", seg.name, err)
		}
		files = append(files, recs...)
		segFiles = append(segFiles, segmentFiles{seg.name, recs})
		paths = append(paths, filepath.Join(dir, "segment"))
		fi, err := os.Stat(filepath.Join(dir, "segment"))
		if err != nil {
			return nil, err
		}
		compressed += fi.Size()
	}
	// The root manifest goes first: a shortage of memory cuts the unpacking short at its end, so
	// the first segment is the one that survives (initramfs/rootcheck).
	mem, err := memoryNeed(k.vmlinuz(), compressed+manifestAllowance, segFiles, placement)
	if err != nil {
		return nil, err
	}
	rm, err := rootManifest(s.ed.Name, segFiles, mem)
	if err != nil {
		return nil, err
	}
	mt := fstree.New()
	if err := mt.Add(fstree.Entry{Path: rootcheck.Path, Kind: fstree.File, Mode: 0o644, Data: rm.Marshal(), Origin: "generated:root-manifest"}); err != nil {
		return nil, err
	}
	var manifestSeg bytes.Buffer
	if err := initrd.Write(&manifestSeg, mt, initrd.Options{SourceDate: s.opts.SourceDate, Compression: comp}); err != nil {
		return nil, fmt.Errorf("segment %s: %w", rootManifestSegment, err)
	}
	mrecs, err := records(mt, "initramfs:"+rootManifestSegment)
	if err != nil {
		return nil, err
	}
	files = append(mrecs, files...)
	key := cache.Key(append([]string{"initrd/2", cache.Key(manifestSeg.String())}, keys...)...)
	dir, _, err := s.stage("initrd", key, "initrd", "", func(dir string) error {
		out, err := os.Create(filepath.Join(dir, "initrd.img"))
		if err != nil {
			return err
		}
		rs := []io.Reader{bytes.NewReader(manifestSeg.Bytes())}
		var closers []io.Closer
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			rs = append(rs, f)
			closers = append(closers, f)
		}
		err = initrd.Concat(out, rs...)
		for _, c := range closers {
			c.Close()
		}
		if err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		return nil, err
	}
	rd := &initramfs{path: filepath.Join(dir, "initrd.img"), files: files, memory: mem,
		segments: []SegmentFile{{Name: rootManifestSegment, Data: manifestSeg.Bytes()}}}
	for i, sf := range segFiles {
		rd.segments = append(rd.segments, SegmentFile{Name: sf.name, Path: paths[i]})
	}
	fi, err := os.Stat(rd.path)
	if err != nil {
		return nil, err
	}
	rd.size = fi.Size()
	return rd, nil
}

// segmentDir returns the stage folder of a segment's compressed archive, writing it when it is not
// cached (or fails its check of the files in use; all when use is empty).
func (s *state) segmentDir(seg *segment, key string, comp initrd.Compression, use []string) (string, error) {
	dir, _, err := s.stage("initrd-segment", key, "segment:"+seg.name, fmt.Sprintf("writing initramfs segment %s (%s)", seg.name, comp), func(dir string) error {
		t, err := seg.content()
		if err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(dir, "segment"))
		if err != nil {
			return err
		}
		if err := initrd.Write(f, t, initrd.Options{SourceDate: s.opts.SourceDate, Compression: comp}); err != nil {
			f.Close()
			return fmt.Errorf("segment %s: %w", seg.name, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
		return writeRecords(filepath.Join(dir, "files.json"), t, "initramfs:"+seg.name)
	}, use...)
	return dir, err
}

// content is the segment's tree, built now if need be.
func (seg *segment) content() (*fstree.Tree, error) {
	if seg.tree == nil {
		t, err := seg.build()
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", seg.name, err)
		}
		seg.tree = t
	}
	return seg.tree, nil
}

// writeRecords writes the records of t's entries to p, for a warm build's manifest.
func writeRecords(p string, t *fstree.Tree, where string) error {
	recs, err := records(t, where)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(recs, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

// readRecords reads what writeRecords wrote.
func readRecords(p string) ([]FileRecord, error) {
	var recs []FileRecord
	b, err := os.ReadFile(p)
	if err == nil {
		err = json.Unmarshal(b, &recs)
	}
	return recs, err
}

// userland builds every Go recipe and the u-root busybox (concurrently: u-root takes a minute when
// it is not cached) and makes one segment of each.
func (s *state) userland(ctx context.Context) ([]*segment, []Input, error) {
	type built struct {
		seg   *segment
		input Input
		err   error
	}
	var work []*recipe.Recipe
	for _, r := range s.recipes {
		if r.Kind == recipe.KindGo || r.Kind == recipe.KindGoCShared || r.Kind == recipe.KindURoot {
			work = append(work, r)
		}
	}
	out := make([]built, len(work))
	var wg sync.WaitGroup
	for i, r := range work {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seg, in, err := s.buildGo(ctx, r)
			out[i] = built{seg, in, err}
		}()
	}
	wg.Wait()
	var segs []*segment
	var inputs []Input
	for i, b := range out {
		if b.err != nil {
			return nil, nil, fmt.Errorf("recipe %s: %w", work[i].Name, b.err)
		}
		segs = append(segs, b.seg)
		inputs = append(inputs, b.input)
	}
	return segs, inputs, nil
}

func (s *state) buildGo(ctx context.Context, r *recipe.Recipe) (*segment, Input, error) {
	t := fstree.New()
	origin := "recipe:" + r.Name
	switch r.Kind {
	case recipe.KindGo, recipe.KindGoCShared:
		opts := gobuild.ProgramOptions{ModuleDir: s.opts.Root, Package: r.Package, GOARCH: s.ed.Arch, Cache: s.opts.Cache, Log: s.log}
		mode := fs.FileMode(0o755)
		if r.Kind == recipe.KindGoCShared {
			opts.SONAME, mode = path.Base(r.Install), 0o644
		}
		bin, err := gobuild.BuildProgram(ctx, opts)
		if err != nil {
			return nil, Input{}, err
		}
		if err := t.Add(fstree.Entry{Path: r.Install, Kind: fstree.File, Mode: mode, Source: bin, Origin: origin}); err != nil {
			return nil, Input{}, err
		}
		// The library's headers and pkg-config files; their digests join the segment's key.
		var extra []string
		for _, dst := range slices.Sorted(maps.Keys(r.Files)) {
			src := filepath.Join(s.opts.Root, r.Files[dst])
			sum, err := fileSHA256(src)
			if err != nil {
				return nil, Input{}, err
			}
			if err := t.Add(fstree.Entry{Path: dst, Kind: fstree.File, Mode: 0o644, Source: src, Origin: origin}); err != nil {
				return nil, Input{}, err
			}
			extra = append(extra, dst+"="+sum)
		}
		for _, l := range r.Links {
			target, err := filepath.Rel(path.Dir("/"+l), "/"+r.Install)
			if err != nil {
				return nil, Input{}, err
			}
			if err := t.Add(fstree.Entry{Path: l, Kind: fstree.Symlink, Mode: 0o777, Target: target, Origin: origin}); err != nil {
				return nil, Input{}, err
			}
		}
		sum, err := s.opts.Cache.RecordedSHA256(bin)
		return &segment{name: r.Name, tree: t, key: s.inCache(bin) + "\n" + r.Install + "\n" + strings.Join(r.Links, ",") + strings.Join(extra, "\n")}, Input{Name: r.Name, Version: "source", SHA256: sum, From: "go:" + r.Package, Recipe: r.Name}, err
	case recipe.KindURoot:
		res, err := gobuild.BuildURoot(ctx, gobuild.URootOptions{ModuleDir: s.opts.Root, Commands: r.Commands, Tags: r.Tags, GOARCH: s.ed.Arch, Cache: s.opts.Cache, Log: s.log, Progress: s.prog.Note})
		if err != nil {
			return nil, Input{}, err
		}
		if err := t.Add(fstree.Entry{Path: path.Join(r.Install, "bb"), Kind: fstree.File, Mode: 0o755, Source: res.Binary, Origin: origin}); err != nil {
			return nil, Input{}, err
		}
		for _, c := range res.Commands {
			if err := t.Add(fstree.Entry{Path: path.Join(r.Install, c), Kind: fstree.Symlink, Mode: 0o777, Target: "bb", Origin: origin}); err != nil {
				return nil, Input{}, err
			}
		}
		sum, err := s.opts.Cache.RecordedSHA256(res.Binary)
		return &segment{name: r.Name, tree: t, key: s.inCache(res.Binary) + "\n" + r.Install + "\n" + strings.Join(res.Commands, ",")},
			Input{Name: "u-root", Version: uRootVersion(s.opts.Root), SHA256: sum, From: "go:github.com/u-root/u-root (" + strings.Join(res.Commands, " ") + ")", Recipe: r.Name}, err
	}
	return nil, Input{}, fmt.Errorf("not a Go recipe")
}

// inCache names a file of the cache by its path inside the cache (which holds its stage's input
// hash), so that keys made from it do not depend on where the cache is: a copied or moved cache
// still serves.
func (s *state) inCache(p string) string {
	rel, err := filepath.Rel(s.opts.Cache.Dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return p
	}
	return filepath.ToSlash(rel)
}

// uRootVersion reads u-root's version from go.mod (for the manifest).
func uRootVersion(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "github.com/u-root/u-root" {
			return f[1]
		}
	}
	return "unknown"
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// rootTree is what the system holds, before it is placed: its components, each a segment.
type rootTree struct {
	modules  *segment   // the edition's kernel modules and their load list
	programs []*segment // the init, the Go programs, u-root (recipe order)
	packages []*segment // the Debian package sets (recipe order)
	system   *segment   // folders, generated configuration, accounts, overlays
	// installed are the packages for the manifest.
	installed []InstalledPackage
}

// segments are the components in the order the initramfs has always held them: a later segment's
// files win.
func (r *rootTree) segments() []*segment {
	segs := append([]*segment{r.modules}, r.programs...)
	segs = append(segs, r.packages...)
	return append(segs, r.system)
}

// rootfs makes the system component (folders, generated configuration, accounts, overlays) and
// returns the root tree.
func (s *state) rootfs(k *kernelOut, programs []*segment, pkgs *packagesOut) (*rootTree, error) {
	sys, err := s.systemTree(pkgs.sysusers, pkgs.shell)
	if err == nil {
		err = localCAs(sys, pkgs.ca)
	}
	if err == nil && s.ed.Session.WelcomeOn() {
		err = s.addWelcomePage(sys, k.stage.Version, pkgs.installed)
	}
	if err != nil {
		return nil, err
	}
	return &rootTree{modules: k.modules, programs: programs, packages: pkgs.segments,
		system: &segment{name: "system", tree: sys}, installed: pkgs.installed}, nil
}

// systemTree is the root's own folders, the files generated from the edition, the accounts and
// the overlays.
func (s *state) systemTree(sysusers [][]byte, hasShell bool) (*fstree.Tree, error) {
	t := fstree.New()
	gen := "generated:edition"
	dirs := []struct {
		p    string
		mode os.FileMode
	}{{"dev", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"run", 0o755}, {"tmp", 0o1777}, {"root", 0o700},
		{"var/log", 0o755}, {"etc/consciousness/services", 0o755}, {"usr/bin", 0o755}, {"usr/sbin", 0o755}, {"usr/lib", 0o755}, {"usr/lib64", 0o755},
		// The rest of the hierarchy Debian's base-files ships (FHS 3.0), which no edition installs:
		// the image's base is the builder's.
		{"home", 0o755}, {"mnt", 0o755}, {"opt", 0o755}, {"srv", 0o755}, {"media", 0o755},
		{"etc/profile.d", 0o755}, {"etc/skel", 0o755}, {"usr/include", 0o755}, {"usr/src", 0o755},
		{"usr/local/bin", 0o755}, {"usr/local/sbin", 0o755}, {"usr/local/lib", 0o755}, {"usr/local/include", 0o755},
		{"usr/local/share", 0o755}, {"usr/local/src", 0o755}, {"usr/local/etc", 0o755},
		{"var/lib/misc", 0o755}, {"var/cache", 0o755}, {"var/spool", 0o755}, {"var/local", 0o755}, {"var/backups", 0o755}, {"var/tmp", 0o1777}}
	for _, d := range dirs {
		if err := t.Add(fstree.Entry{Path: d.p, Kind: fstree.Dir, Mode: d.mode, Origin: gen}); err != nil {
			return nil, err
		}
	}
	// The merged-/usr layout of Debian since bookworm: /bin, /sbin, /lib and /lib64 are links into
	// /usr, so every component installs under usr/ and Debian's packages land where they expect.
	for _, l := range []string{"bin", "sbin", "lib", "lib64"} {
		if err := t.Add(fstree.Entry{Path: l, Kind: fstree.Symlink, Mode: 0o777, Target: "usr/" + l, Origin: gen}); err != nil {
			return nil, err
		}
	}
	// /var/run and /var/lock are /run's (base-files' postinst migrates them so).
	for _, l := range []struct{ p, target string }{{"var/run", "../run"}, {"var/lock", "../run/lock"}} {
		if err := t.Add(fstree.Entry{Path: l.p, Kind: fstree.Symlink, Mode: 0o777, Target: l.target, Origin: gen}); err != nil {
			return nil, err
		}
	}
	for p, body := range s.systemFiles() {
		if err := t.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, Data: []byte(body), Origin: gen}); err != nil {
			return nil, err
		}
	}
	keys, err := s.updateKeyFiles()
	if err != nil {
		return nil, err
	}
	for p, body := range keys {
		if err := t.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, Data: []byte(body), Origin: "generated:update-key"}); err != nil {
			return nil, err
		}
	}
	// sh is the u-root shell when no package set brings one (dash): scripts and ssh's "command"
	// need one.
	if !hasShell {
		if err := t.Add(fstree.Entry{Path: "usr/bin/sh", Kind: fstree.Symlink, Mode: 0o777, Target: "gosh", Origin: gen}); err != nil {
			return nil, err
		}
	}
	// An overlay declares the groups and system users it needs as packages do, in sysusers.d.
	for _, o := range s.overlayDirs() {
		confs, err := filepath.Glob(filepath.Join(o, "usr/lib/sysusers.d/*.conf"))
		if err != nil {
			return nil, err
		}
		for _, c := range confs {
			b, err := os.ReadFile(c)
			if err != nil {
				return nil, err
			}
			sysusers = append(sysusers, b)
		}
	}
	if err := s.addAccounts(t, sysusers); err != nil {
		return nil, err
	}
	for _, o := range s.ed.Overlays {
		if err := t.AddHostDir(filepath.Join(s.opts.Root, "overlays", o), "", "overlay:"+o, true); err != nil {
			return nil, fmt.Errorf("overlay %s: %w", o, err)
		}
	}
	for _, o := range s.opts.ExtraOverlays {
		fi, err := os.Stat(o)
		if err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("extra overlay %s: not a folder", o)
		}
		if err := t.AddHostDir(o, "", "extra-overlay:"+o, true); err != nil {
			return nil, fmt.Errorf("extra overlay %s: %w", o, err)
		}
	}
	if err := s.addFirewallConf(t); err != nil {
		return nil, err
	}
	return t, nil
}

// firewallConfPath is the file the init applies the firewall from (initramfs/firewall).
const firewallConfPath = "etc/consciousness/firewall.conf"

// addFirewallConf writes firewall.conf from the edition's firewall: its ports, and the TCP ports
// of every socket unit in the tree (a socket the image declares is a port it means to serve).
// Overlays' files are in t by now; an overlay's own firewall.conf is refused.
func (s *state) addFirewallConf(t *fstree.Tree) error {
	fw := s.ed.Firewall
	c := firewall.Config{Enabled: fw.On()}
	if c.Enabled {
		for _, p := range fw.AllowTCP {
			c.Allow = append(c.Allow, firewall.Port{Proto: "tcp", Num: uint16(p)})
		}
		for _, p := range fw.AllowUDP {
			c.Allow = append(c.Allow, firewall.Port{Proto: "udp", Num: uint16(p)})
		}
		ports, err := socketPorts(t)
		if err != nil {
			return err
		}
		c.Allow = append(c.Allow, ports...)
	}
	if e, ok := t.Get(firewallConfPath); ok {
		return fmt.Errorf("/%s: written from the edition's firewall: section, not by %s", firewallConfPath, e.Origin)
	}
	return t.Add(fstree.Entry{Path: firewallConfPath, Kind: fstree.File, Mode: 0o644, Origin: "generated:edition",
		Data: firewall.Format(c, "Written by genai-build from editions/"+s.ed.Name+".yaml (firewall:) and the socket units' ListenStream= ports.")})
}

// socketPorts are the TCP ports the tree's socket units listen on (ListenStream=; unix sockets
// are not ports).
func socketPorts(t *fstree.Tree) ([]firewall.Port, error) {
	var ports []firewall.Port
	for _, e := range t.Entries() {
		dir, name := path.Split(e.Path)
		if dir != "etc/consciousness/services/" || !strings.HasSuffix(name, ".socket") || e.Kind != fstree.File {
			continue
		}
		data, err := e.ReadAll()
		if err != nil {
			return nil, fmt.Errorf("/%s: %w", e.Path, err)
		}
		u, _, err := unit.Parse(name, "/"+e.Path, bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("firewall: %w", err)
		}
		for _, l := range u.ListenStream {
			if l.Network != "tcp" {
				continue
			}
			_, port, err := net.SplitHostPort(l.Address)
			n, perr := strconv.ParseUint(port, 10, 16)
			if err != nil || perr != nil || n == 0 {
				return nil, fmt.Errorf("/%s: ListenStream=%s: no port for the firewall", e.Path, l.Address)
			}
			ports = append(ports, firewall.Port{Proto: "tcp", Num: uint16(n)})
		}
	}
	return ports, nil
}

// localCAs makes the CA bundle and its links again, in the system tree, when an overlay adds a
// local CA (usr/local/share/ca-certificates/*.crt, where update-ca-certificates(8) takes them):
// the packages' certificates, then the local ones. The system layer lies over the packages', so
// its bundle is the one the image sees.
func localCAs(sys *fstree.Tree, ca map[string]string) error {
	var local []*fstree.Entry
	for _, e := range sys.Entries() {
		if strings.HasPrefix(e.Path, "usr/local/share/ca-certificates/") && strings.HasSuffix(e.Path, ".crt") && e.Kind == fstree.File {
			local = append(local, e)
		}
	}
	if len(local) == 0 {
		return nil
	}
	if ca == nil {
		return fmt.Errorf("%s: a local CA needs the package ca-certificates in a package set", "/"+local[0].Path)
	}
	t := fstree.New()
	for p, data := range ca {
		if err := t.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, Data: []byte(data)}); err != nil {
			return err
		}
	}
	for _, e := range local {
		if err := t.Add(*e); err != nil {
			return err
		}
	}
	if _, err := debconfigure.UpdateCACertificates(t, "generated:ca-certificates"); err != nil {
		return fmt.Errorf("local CAs: %w", err)
	}
	for _, e := range t.Entries() {
		if strings.HasPrefix(e.Path, "etc/ssl/certs/") {
			if err := sys.Replace(*e); err != nil {
				return err
			}
		}
	}
	return nil
}

// overlayDirs are the host folders of the edition's overlays, then the extra ones, in order.
func (s *state) overlayDirs() []string {
	var dirs []string
	for _, o := range s.ed.Overlays {
		dirs = append(dirs, filepath.Join(s.opts.Root, "overlays", o))
	}
	return append(dirs, s.opts.ExtraOverlays...)
}

// systemFiles are the files generated from the edition.
func (s *state) systemFiles() map[string]string {
	e := s.ed
	level := strconv.FormatFloat(e.Boot.LevelOr(0.5), 'f', -1, 64)
	host := e.Boot.Hostname
	if host == "" {
		host = "genai-" + e.Name
	}
	osRelease := fmt.Sprintf(`NAME="GenAI OS"
ID=genai-os
PRETTY_NAME="GenAI OS %s (%s edition)"
VERSION="%s (%s)"
VERSION_ID=%s
VARIANT="%s edition"
VARIANT_ID=%s
BUILD_ID=%s
HOME_URL="https://github.com/genai-os/genai-build"
`, e.Version, e.Name, e.Version, e.Name, e.Version, strings.ToUpper(e.Name[:1])+e.Name[1:], e.Name, s.opts.SourceDate.UTC().Format("20060102T150405Z"))
	bootConf := fmt.Sprintf("# Written by genai-build from editions/%s.yaml.\nedition = %s\nhostname = %s\nlevel = %s\nlog_level = info\n",
		e.Name, e.Name, host, level)
	if slices.Contains(e.Outputs, "disk-image") {
		// the boot loader's trial boots (grub.cfg's ladder), which the init checks GRUB counted
		bootConf += fmt.Sprintf("update.tries = %d\n", e.Disk.TriesOr())
	}
	files := map[string]string{
		"etc/os-release":              osRelease,
		"etc/consciousness/boot.conf": bootConf,
		"etc/hostname":                host + "\n",
		// netbase's postinst would write it: the host name resolves without DNS (sudo asks).
		"etc/hosts": "127.0.0.1\tlocalhost\n127.0.1.1\t" + host + "\n::1\tlocalhost ip6-localhost ip6-loopback\n",
	}
	// The session waits for a login: its boot units are conditioned on this file's absence.
	if !e.Session.AutologinOn() {
		files[edition.NoAutologinPath] = "# Written by genai-build: editions/" + e.Name + ".yaml has session.autologin: false.\n" +
			"# The graphical session does not start at boot; it starts when a user logs in on tty1.\n"
	}
	// genai-assistant's endpoint; a key never: at most the path of a file the user adds.
	if a := e.Assistant; a.Endpoint != "" {
		files["etc/genai/assistant.conf"] = genai.FormatConfig("editions/"+e.Name+".yaml and genai-build iso --assistant-*", a.Endpoint, a.Model, a.APIKeyFile)
	}
	return files
}

// nativeTools are the suite's commands a welcome page names when the image has them, in the
// order shown.
var nativeTools = []welcome.Tool{
	{Command: "consciousness-manager status", Does: "the init's units, their state and logs (start, stop, restart, logs UNIT)"},
	{Command: "consciousness-debugger", Does: "why a unit failed: its exits, the lines before each, what it waits for"},
	{Command: "security-dashboard", Does: "the firewall, the listening sockets, the units' sandboxes, the audit log"},
	{Command: "genai-assistant", Does: "the assistant, over the edition's model endpoint"},
	{Command: "genai-tutor", Does: "lessons on the toolchains"},
	{Command: "genai-update status", Does: "the A/B slots and the last update"},
}

// addWelcomePage writes the welcome page (internal/welcome) from what the build knows: the
// edition, the kernel, the Debian packages with their licences, the native tools the recipes
// install, and the edition's session shortcuts.
func (s *state) addWelcomePage(t *fstree.Tree, kernel string, pkgs []InstalledPackage) error {
	have := map[string]bool{}
	for _, r := range s.recipes {
		if r.Kind != recipe.KindGo {
			continue
		}
		for _, p := range append([]string{r.Install}, r.Links...) {
			have[path.Base(p)] = true
		}
	}
	p := welcome.Page{Edition: s.ed.Name, Version: s.ed.Version, Arch: s.ed.Arch, Kernel: kernel}
	// genai-update is in the suite's binary of every edition; it serves only A/B disk images.
	have["genai-update"] = have["genai-update"] && slices.Contains(s.ed.Outputs, "disk-image")
	for _, tool := range nativeTools {
		if have[strings.Fields(tool.Command)[0]] {
			p.Tools = append(p.Tools, tool)
		}
	}
	for _, k := range s.ed.Session.Shortcuts {
		p.Shortcuts = append(p.Shortcuts, welcome.Shortcut{Keys: k.Keys, Does: k.Does})
	}
	for _, pkg := range pkgs {
		p.Packages = append(p.Packages, welcome.Package{Name: pkg.Name, Version: pkg.Version, License: pkg.License})
	}
	body, err := welcome.Render(p)
	if err != nil {
		return err
	}
	return t.Add(fstree.Entry{Path: welcome.Path, Kind: fstree.File, Mode: 0o644, Data: body, Origin: "generated:welcome"})
}
