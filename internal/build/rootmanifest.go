package build

import (
	"fmt"
	"os"
	"strings"

	"github.com/genai-os/genai-build/initramfs/rootcheck"
	"github.com/genai-os/genai-build/internal/memreq"
)

// rootManifestSegment is the name of the first initramfs segment: the root manifest alone.
const rootManifestSegment = "root-manifest"

// manifestAllowance stands for the root manifest's own segment (about 1 KiB compressed) in the
// memory estimate, which the manifest holds and so cannot wait for.
const manifestAllowance = 64 << 10

// SegmentFile is one initramfs segment as the build wrote it, in the order the kernel unpacks
// them: a file in the cache (Path) or, for the small root manifest, the bytes (Data).
type SegmentFile struct {
	Name string
	Path string
	Data []byte
}

// segmentFiles is one segment's entries in the order its archive holds them.
type segmentFiles struct {
	name  string
	files []FileRecord
}

// rootManifest names, for each segment, its entry count and a marker: the last entry in the
// archive's order that no other segment holds (rootcheck's package comment says why that proves the
// segment was unpacked). It fails if a segment has no entry of its own.
func rootManifest(edition string, segs []segmentFiles, mem memreq.Estimate) (rootcheck.Manifest, error) {
	count := map[string]int{}
	for _, s := range segs {
		for _, f := range s.files {
			count[f.Path]++
		}
	}
	m := rootcheck.Manifest{Edition: edition, MemoryMinMB: mem.MinMB}
	for _, s := range segs {
		var marker *FileRecord
		for i := len(s.files) - 1; i >= 0; i-- {
			if count[s.files[i].Path] == 1 {
				marker = &s.files[i]
				break
			}
		}
		if marker == nil {
			return m, fmt.Errorf("segment %s: every entry is also in another segment, none can mark it", s.name)
		}
		p := strings.TrimPrefix(marker.Path, "/")
		if strings.ContainsAny(p, "\n") {
			return m, fmt.Errorf("segment %s: marker %q has a newline", s.name, p)
		}
		m.Segments = append(m.Segments, rootcheck.Segment{Name: s.name, Entries: len(s.files), Kind: marker.Kind, Size: marker.Size, Path: p})
	}
	return m, nil
}

// memoryNeed computes the image's memory minimum from the kernel file, the initramfs's compressed
// size and its files.
func memoryNeed(vmlinuz string, initrdSize int64, segs []segmentFiles, placement memreq.Placement) (memreq.Estimate, error) {
	f, err := os.Open(vmlinuz)
	if err != nil {
		return memreq.Estimate{}, err
	}
	defer f.Close()
	initSize, err := memreq.KernelInitSize(f)
	if err != nil {
		return memreq.Estimate{}, fmt.Errorf("%s: %w", vmlinuz, err)
	}
	in := memreq.Inputs{KernelInitSize: initSize, InitrdCompressed: initrdSize, Placement: placement}
	seen := map[string]bool{} // a path in two segments is unpacked twice but kept once
	for i := len(segs) - 1; i >= 0; i-- {
		for _, r := range segs[i].files {
			if seen[r.Path] {
				continue
			}
			seen[r.Path] = true
			in.Entries++
			if r.Kind == "file" {
				in.UnpackedFiles += memreq.PageRound(r.Size)
			}
		}
	}
	return memreq.Compute(in)
}
