package main

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/cache"
	"github.com/genai-os/genai-build/internal/gobuild"
)

// ctlServer answers the init's control protocol (initramfs/ctl's JSON, with the events verb of the
// contract) for a fixed set of services; a level request changes the level and sends a level event
// to every subscriber.
type ctlServer struct {
	mu    sync.Mutex
	level string
	subs  []chan string
}

func (s *ctlServer) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go s.handle(c)
	}
}

func (s *ctlServer) handle(c net.Conn) {
	defer c.Close()
	var req request
	if err := json.NewDecoder(c).Decode(&req); err != nil {
		return
	}
	enc := json.NewEncoder(c)
	services := []service{{Name: "demo.service", State: "running", Level: "0.5", PID: 42}, {Name: "sshd.service", State: "running", Level: "0.3", PID: 7}}
	s.mu.Lock()
	level := s.level
	s.mu.Unlock()
	switch req.Verb {
	case "level":
		if len(req.Args) == 1 {
			s.mu.Lock()
			s.level = req.Args[0]
			for _, ch := range s.subs {
				ch <- req.Args[0]
			}
			s.mu.Unlock()
			level = req.Args[0]
		}
		enc.Encode(response{Level: level})
	case "status":
		if len(req.Args) == 0 {
			enc.Encode(response{Services: services, Level: level})
			return
		}
		for _, sv := range services {
			if sv.Name == req.Args[0] {
				enc.Encode(response{Services: []service{sv}, Level: level})
				return
			}
		}
		enc.Encode(response{Error: "no unit " + req.Args[0]})
	case "events":
		ch := make(chan string, 8)
		s.mu.Lock()
		s.subs = append(s.subs, ch)
		s.mu.Unlock()
		enc.Encode(response{Event: &event{Kind: "hello", Level: level}})
		enc.Encode(response{Event: &event{Kind: "unit", Unit: "demo.service", State: "running"}})
		gone := make(chan struct{})
		go func() { io.Copy(io.Discard, c); close(gone) }()
		for {
			select {
			case l := <-ch:
				if enc.Encode(response{Event: &event{Kind: "level", Level: l}}) != nil {
					return
				}
			case <-gone:
				return
			}
		}
	default:
		enc.Encode(response{Error: fmt.Sprintf("unknown verb %q", req.Verb)})
	}
}

// chatServer speaks POST /v1/chat/completions, plain and streamed (server-sent events): a sum for
// a question about 6 times 7, a count otherwise.
func chatServer(t *testing.T) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model    string `json:"model"`
			Stream   bool   `json:"stream"`
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
		}
		if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&req) != nil || req.Model != "test-model" || len(req.Messages) == 0 {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		pieces := []string{"one, ", "two, ", "three"}
		if strings.Contains(req.Messages[len(req.Messages)-1].Content, "6 times 7") {
			pieces = []string{"6 times 7 ", fmt.Sprintf("is 42 (%d messages)", len(req.Messages))}
		}
		if !req.Stream {
			fmt.Fprintf(w, `{"choices":[{"message":{"role":"assistant","content":%q}}]}`, strings.Join(pieces, ""))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, piece := range pieces {
			fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":%q}}]}\n\n", piece)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
}

// buildLib builds the library as the image build does, with its linker names beside it.
func buildLib(t *testing.T) string {
	t.Helper()
	so, err := gobuild.BuildProgram(context.Background(), gobuild.ProgramOptions{ModuleDir: "../..", Package: "./tools/clib",
		GOARCH: "amd64", Cache: &cache.Cache{Dir: t.TempDir()}, SONAME: "libgenai-native.so.0"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "libgenai-native.so.0"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"libconsciousness.so", "libgenai.so"} {
		if err := os.Symlink("libgenai-native.so.0", filepath.Join(dir, l)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := elf.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if names, _ := f.DynString(elf.DT_SONAME); len(names) != 1 || names[0] != "libgenai-native.so.0" {
		t.Errorf("SONAME %v, want libgenai-native.so.0", names)
	}
	t.Logf("libgenai-native.so.0: %d bytes", len(data))
	return dir
}

// compile builds a test program against the headers here and the library in lib.
func compile(t *testing.T, lib, src string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(src, ".c"))
	cmd := exec.Command("cc", "-Wall", "-Wextra", "-Werror", "-I.", "-o", out, filepath.Join("testdata", src),
		"-L"+lib, "-lconsciousness", "-lgenai", "-lpthread", "-Wl,-rpath,"+lib)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cc %s: %v\n%s", src, err, b)
	}
	return out
}

func TestCPrograms(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Fatal("a C compiler (cc) is needed to build and test the C libraries")
	}
	lib := buildLib(t)
	sock := filepath.Join(t.TempDir(), "control.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctl := &ctlServer{level: "0.5"}
	go ctl.serve(l)
	chat := chatServer(t)
	defer chat.Close()
	env := append(os.Environ(), "CONSCIOUSNESS_SOCKET="+sock, "GENAI_CONFIG=/nonexistent", "GENAI_ENDPOINT="+chat.URL+"/v1", "GENAI_MODEL=test-model")

	// The program records the one library once: both linker names resolve to its SONAME.
	roadmap := compile(t, lib, "roadmap.c")
	f, err := elf.Open(roadmap)
	if err != nil {
		t.Fatal(err)
	}
	needed, _ := f.DynString(elf.DT_NEEDED)
	f.Close()
	if strings.Join(needed, " ") != "libgenai-native.so.0 libc.so.6" && strings.Join(needed, " ") != "libgenai-native.so.0" {
		t.Errorf("roadmap needs %v, want libgenai-native.so.0 once", needed)
	}

	t.Run("roadmap", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, roadmap)
		cmd.Env = env
		stdout, _ := cmd.StdoutPipe()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		if !sc.Scan() || sc.Text() != "consciousness level 0.5, waiting for a change" {
			t.Fatalf("first line %q, stderr %s", sc.Text(), stderr.String())
		}
		(&conContext{socket: sock}).call(ctx, request{Verb: "level", Args: []string{"0.9"}})
		if !sc.Scan() || sc.Text() != "consciousness level changed to 0.9" {
			t.Errorf("second line %q", sc.Text())
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("roadmap: %v\n%s", err, stderr.String())
		}
	})

	check := compile(t, lib, "check.c")
	t.Run("check", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, check, "demo")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		if err != nil || !strings.Contains(string(out), "all 23 checks passed") {
			t.Errorf("check: %v", err)
		}
	})

}

// The developer overlay installs the man page; its copy must be this one.
func TestManPageInstalled(t *testing.T) {
	a, err := os.ReadFile("libgenai.3")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../overlays/developer/usr/share/man/man3/libgenai.3")
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("overlays/developer/usr/share/man/man3/libgenai.3 differs from tools/clib/libgenai.3: copy it")
	}
}
