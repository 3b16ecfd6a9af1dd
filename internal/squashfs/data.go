package squashfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/genai-os/genai-build/internal/fstree"
)

// job is one block on its way from a file (or the fragment buffer) to the image.
type job struct {
	in     []byte // the uncompressed block, len is its size
	out    []byte // compressed bytes, reused across jobs
	stored []byte // what is written: out, or in when compression did not help
	packed bool   // stored is compressed
	sparse bool   // all zeros: written as a 0 in the block list, no bytes in the image
	file   *fileData
	index  int  // block index in file
	frag   bool // a fragment block rather than a file's data block
	done   chan struct{}
}

// writeData streams every file's blocks into the image after the superblock, in tree order.
// One goroutine reads blocks and packs tails into fragment blocks; Workers goroutines compress;
// one writes the results in the order they were read, so the image does not depend on timing.
// At most 2*Workers+2 blocks are in flight (their buffers are recycled), whatever the tree holds.
func (b *builder) writeData() error {
	bs := b.opts.BlockSize
	w := b.opts.Workers
	free := make(chan *job, 2*w+2)
	for range cap(free) {
		free <- &job{in: make([]byte, 0, bs), out: make([]byte, 0, bs)}
	}
	work := make(chan *job, w)
	ordered := make(chan *job, 2*w)
	stop := make(chan struct{})
	var writeErr error
	var workers, writer sync.WaitGroup
	for range w {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range work {
				if !j.sparse {
					j.stored, j.packed = compress(b.enc, j.out, j.in)
					if j.packed {
						j.out = j.stored
					}
				}
				close(j.done)
			}
		}()
	}
	writer.Add(1)
	go func() {
		defer writer.Done()
		for j := range ordered {
			<-j.done
			if writeErr == nil {
				if writeErr = b.place(j); writeErr != nil {
					close(stop)
				}
			}
			free <- j
		}
	}()
	p := &producer{b: b, free: free, stop: stop, send: func(j *job) {
		j.done = make(chan struct{})
		work <- j
		ordered <- j
	}}
	err := p.run()
	close(work)
	close(ordered)
	writer.Wait()
	workers.Wait()
	if writeErr != nil {
		return writeErr
	}
	return err
}

// place writes a finished block and records where it went.
func (b *builder) place(j *job) error {
	if j.file != nil && j.index == 0 {
		j.file.start = uint64(b.out.pos)
	}
	if j.sparse {
		j.file.sizes[j.index] = 0
		j.file.sparse += uint64(len(j.in))
		return nil
	}
	size := uint32(len(j.stored))
	if !j.packed {
		size |= dataStored
	}
	pos := uint64(b.out.pos)
	if err := b.out.write(j.stored); err != nil {
		return err
	}
	if j.frag {
		b.frags = append(b.frags, fragment{start: pos, size: size})
	} else {
		j.file.sizes[j.index] = size
	}
	return nil
}

var errStopped = errors.New("stopped")

type producer struct {
	b     *builder
	free  chan *job
	stop  chan struct{}
	send  func(*job)
	frag  *job   // the fragment block being filled
	nfrag uint32 // fragment blocks sent so far
}

func (p *producer) get() (*job, error) {
	select {
	case j := <-p.free:
		*j = job{in: j.in[:0], out: j.out[:0]}
		return j, nil
	case <-p.stop:
		return nil, errStopped
	}
}

func (p *producer) run() error {
	for _, in := range p.b.files {
		if in.e.Size == 0 {
			continue
		}
		if err := p.file(in.e, in.data); err != nil {
			if errors.Is(err, errStopped) {
				return nil // the writer's error is the one to report
			}
			return fmt.Errorf("%s (from %s): %w", in.e.Path, in.e.Origin, err)
		}
	}
	if p.frag != nil && len(p.frag.in) > 0 {
		p.send(p.frag)
	}
	return nil
}

// file reads one file's full blocks into jobs and its tail into the fragment block. A block
// that lies in a hole of the source (lseek(2) SEEK_DATA), or reads as zeros, is sparse.
func (p *producer) file(e *fstree.Entry, fd *fileData) error {
	bs := int64(p.b.opts.BlockSize)
	src, err := openSource(e)
	if err != nil {
		return err
	}
	defer src.close()
	nfull := e.Size / bs
	fd.sizes = make([]uint32, nfull)
	for i := int64(0); i < nfull; i++ {
		j, err := p.get()
		if err != nil {
			return err
		}
		j.file, j.index = fd, int(i)
		off := i * bs
		if src.hole(off, bs) {
			j.in, j.sparse = j.in[:bs], true
		} else {
			j.in = j.in[:bs]
			if err := src.readAt(j.in, off); err != nil {
				return err
			}
			j.sparse = isZero(j.in)
		}
		p.send(j)
	}
	tail := int(e.Size - nfull*bs)
	if tail > 0 {
		if p.frag != nil && len(p.frag.in)+tail > int(bs) {
			p.send(p.frag)
			p.frag = nil
			p.nfrag++
		}
		if p.frag == nil {
			if p.frag, err = p.get(); err != nil {
				return err
			}
			p.frag.frag = true
		}
		at := len(p.frag.in)
		fd.frag, fd.fragOff = p.nfrag, uint32(at)
		p.frag.in = p.frag.in[:at+tail]
		if err := src.readAt(p.frag.in[at:], nfull*bs); err != nil {
			return err
		}
	}
	return src.atEnd(e.Size)
}

// source reads a file entry's content by offset, from its bytes or its host file.
type source struct {
	data     []byte
	f        *os.File
	nextData int64 // no data before this offset (from SEEK_DATA); -1 when holes are not known
}

func openSource(e *fstree.Entry) (*source, error) {
	if e.Source == "" {
		if int64(len(e.Data)) != e.Size {
			return nil, fmt.Errorf("%d bytes of data, the tree says %d", len(e.Data), e.Size)
		}
		return &source{data: e.Data, nextData: -1}, nil
	}
	f, err := os.Open(e.Source)
	if err != nil {
		return nil, err
	}
	return &source{f: f}, nil
}

func (s *source) close() {
	if s.f != nil {
		s.f.Close()
	}
}

// hole says whether [off, off+n) lies wholly in a hole of the host file.
func (s *source) hole(off, n int64) bool {
	if s.f == nil || s.nextData < 0 {
		return false
	}
	if s.nextData <= off {
		next, err := s.f.Seek(off, unix.SEEK_DATA)
		switch {
		case errors.Is(err, unix.ENXIO): // no data from off to the end
			s.nextData = 1<<63 - 1
		case err != nil: // the file system does not say: read everything
			s.nextData = -1
			return false
		default:
			s.nextData = next
		}
	}
	return s.nextData >= off+n
}

func (s *source) readAt(p []byte, off int64) error {
	if s.f == nil {
		copy(p, s.data[off:])
		return nil
	}
	_, err := s.f.ReadAt(p, off)
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s is shorter than the tree says: the source changed", s.f.Name())
	}
	return err
}

// atEnd checks that the host file has no byte past size.
func (s *source) atEnd(size int64) error {
	if s.f == nil {
		return nil
	}
	var one [1]byte
	if n, _ := s.f.ReadAt(one[:], size); n != 0 {
		return fmt.Errorf("%s is longer than the tree says: the source changed", s.f.Name())
	}
	return nil
}

var zeros [64 << 10]byte

func isZero(p []byte) bool {
	for len(p) > 0 {
		n := min(len(p), len(zeros))
		if !bytes.Equal(p[:n], zeros[:n]) {
			return false
		}
		p = p[n:]
	}
	return true
}
