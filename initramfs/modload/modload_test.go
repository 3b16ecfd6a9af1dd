package modload

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/genai-os/genai-build/initramfs/guard"
	"time"
)

func TestReadList(t *testing.T) {
	mods, err := ReadList("modules", strings.NewReader("# c\n/a.ko\n\n /b.ko.xz \n"))
	if err != nil || strings.Join(mods, ",") != "/a.ko,/b.ko.xz" {
		t.Fatalf("got %q, %v", mods, err)
	}
	_, err = ReadList("modules", strings.NewReader("/a.ko\n/a.ko\n"))
	if err == nil || !strings.Contains(err.Error(), "modules:2: /a.ko already listed on line 1") {
		t.Errorf("dup: %v", err)
	}
}

func TestParseDep(t *testing.T) {
	deps, err := ParseDep("modules.dep", strings.NewReader(
		"/m/virtio_net.ko.xz: /m/net_failover.ko.xz /m/failover.ko.xz\n/m/failover.ko.xz:\n\n# x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(deps["/m/virtio_net.ko.xz"], " "); got != "/m/net_failover.ko.xz /m/failover.ko.xz" {
		t.Errorf("deps = %q", got)
	}
	if d, ok := deps["/m/failover.ko.xz"]; !ok || len(d) != 0 {
		t.Errorf("failover: %v %v", d, ok)
	}
	_, err = ParseDep("modules.dep", strings.NewReader("/a.ko:\nno colon here\n/a.ko: /b.ko\n"))
	if err == nil || !strings.Contains(err.Error(), "modules.dep:2:") || !strings.Contains(err.Error(), "modules.dep:3:") {
		t.Errorf("bad lines: %v", err)
	}
}

// recorder is a LoadFunc that records start and end order and peak concurrency.
type recorder struct {
	mu           sync.Mutex
	seq          int
	started, end map[string]int
	running, max int32
	delay        time.Duration
	fail         map[string]bool
}

func newRecorder(delay time.Duration) *recorder {
	return &recorder{started: map[string]int{}, end: map[string]int{}, delay: delay, fail: map[string]bool{}}
}

func (r *recorder) load(ctx context.Context, p string) error {
	n := atomic.AddInt32(&r.running, 1)
	for {
		m := atomic.LoadInt32(&r.max)
		if n <= m || atomic.CompareAndSwapInt32(&r.max, m, n) {
			break
		}
	}
	r.mu.Lock()
	r.seq++
	r.started[p] = r.seq
	r.mu.Unlock()
	time.Sleep(r.delay)
	r.mu.Lock()
	r.seq++
	r.end[p] = r.seq
	r.mu.Unlock()
	atomic.AddInt32(&r.running, -1)
	if r.fail[p] {
		return errors.New("boom")
	}
	return nil
}

func TestLoadOrderAndConcurrency(t *testing.T) {
	// virtio_ring <- virtio <- virtio_net <- {net_failover <- failover}; ahci chain independent.
	mods := []string{"ring", "virtio", "failover", "net_failover", "virtio_net", "scsi_common", "scsi_mod", "libata", "ahci", "loop"}
	deps := map[string][]string{
		"virtio":       {"ring"},
		"net_failover": {"failover"},
		"virtio_net":   {"virtio", "ring", "net_failover", "failover"},
		"scsi_mod":     {"scsi_common"},
		"libata":       {"scsi_mod"},
		"ahci":         {"libata", "scsi_mod", "notlisted"},
		"loop":         {"ahci_later"},
	}
	r := newRecorder(20 * time.Millisecond)
	res := Load(context.Background(), mods, deps, 4, r.load)
	for i, x := range res {
		if x.Path != mods[i] || x.Err != nil {
			t.Errorf("result %d = %+v", i, x)
		}
	}
	for m, ds := range deps {
		for _, d := range ds {
			if _, listed := r.end[d]; !listed {
				continue
			}
			if r.end[d] > r.started[m] {
				t.Errorf("%s started (%d) before its dependency %s ended (%d)", m, r.started[m], d, r.end[d])
			}
		}
	}
	if r.max < 2 {
		t.Errorf("peak concurrency %d, want independent modules loaded in parallel", r.max)
	}
	if r.max > 4 {
		t.Errorf("peak concurrency %d above the limit 4", r.max)
	}
}

func TestLoadParallelLimit(t *testing.T) {
	mods := []string{"a", "b", "c", "d", "e", "f"}
	r := newRecorder(10 * time.Millisecond)
	Load(context.Background(), mods, nil, 2, r.load)
	if r.max != 2 {
		t.Errorf("peak concurrency %d, want 2", r.max)
	}
	r = newRecorder(time.Millisecond)
	Load(context.Background(), mods, nil, 0, r.load)
	if r.max != 1 {
		t.Errorf("parallel 0: peak %d, want 1", r.max)
	}
}

func TestLoadDepFailed(t *testing.T) {
	mods := []string{"a", "b", "c", "d"}
	deps := map[string][]string{"b": {"a"}, "c": {"b"}}
	r := newRecorder(0)
	r.fail["a"] = true
	res := Load(context.Background(), mods, deps, 4, r.load)
	if res[0].Err == nil || errors.Is(res[0].Err, ErrDepFailed) {
		t.Errorf("a: %v", res[0].Err)
	}
	for _, i := range []int{1, 2} {
		if !errors.Is(res[i].Err, ErrDepFailed) {
			t.Errorf("%s: %v, want ErrDepFailed", mods[i], res[i].Err)
		}
		if _, tried := r.started[mods[i]]; tried {
			t.Errorf("%s was tried", mods[i])
		}
	}
	if res[3].Err != nil {
		t.Errorf("d: %v", res[3].Err)
	}
}

func TestLoadCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Load(ctx, []string{"a", "b"}, nil, 1, func(ctx context.Context, p string) error { return nil })
	for _, x := range res {
		if x.Err != nil && !errors.Is(x.Err, context.Canceled) {
			t.Errorf("%s: %v", x.Path, x.Err)
		}
	}
}

func TestFinitMissingFile(t *testing.T) {
	if err := Finit(context.Background(), t.TempDir()+"/nope.ko.xz"); err == nil {
		t.Error("want an error for a missing file")
	}
}

// TestLoadPanic: a loader that panics fails its module (with the panic and its stack as the
// error) and its dependents; the other modules still load and Load returns.
func TestLoadPanic(t *testing.T) {
	mods := []string{"a", "b", "c"}
	res := Load(context.Background(), mods, map[string][]string{"b": {"a"}}, 1, func(_ context.Context, m string) error {
		if m == "a" {
			panic("bad module")
		}
		return nil
	})
	var p *guard.Panic
	if !errors.As(res[0].Err, &p) || p.Value != "bad module" || len(p.Stack) == 0 {
		t.Errorf("a: %v, want the panic", res[0].Err)
	}
	if !errors.Is(res[1].Err, ErrDepFailed) || res[2].Err != nil {
		t.Errorf("b: %v (want ErrDepFailed), c: %v (want nil)", res[1].Err, res[2].Err)
	}
}
