// Package ocitest runs a real OCI registry on 127.0.0.1 for tests and the bench: Debian's
// docker-registry (the CNCF distribution registry 2.8) as a subprocess, storing on the file system.
package ocitest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Binary is the registry's program, from Debian's docker-registry package.
const Binary = "docker-registry"

// ErrNoBinary says docker-registry is not installed (apt-get install docker-registry).
var ErrNoBinary = errors.New(Binary + " is not installed (apt-get install docker-registry)")

// Registry is a running registry.
type Registry struct {
	Host    string // 127.0.0.1:port
	Storage string // the storage driver's root directory
	cmd     *exec.Cmd
	log     *os.File
}

// Start runs a registry storing under dir (made if needed), listening on a free port of 127.0.0.1,
// and waits until it answers /v2/.
func Start(dir string) (*Registry, error) { return start(dir, "", "") }

// StartWithLogin is Start for a registry that asks for this user and password (HTTP basic
// authentication from an htpasswd file).
func StartWithLogin(dir, user, password string) (*Registry, error) {
	if user == "" {
		return nil, errors.New("ocitest: no user")
	}
	return start(dir, user, password)
}

func start(dir, user, password string) (*Registry, error) {
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, ErrNoBinary
	}
	storage := filepath.Join(dir, "storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	host := l.Addr().String()
	l.Close()
	// The distribution registry's configuration (docs/configuration.md of distribution 2.8).
	config := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, storage, host)
	if user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			return nil, err
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o644); err != nil {
			return nil, err
		}
		config += fmt.Sprintf("auth:\n  htpasswd:\n    realm: genai-build-test\n    path: %s\n", htpasswd)
	}
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	r := &Registry{Host: host, Storage: storage, cmd: cmd, log: logf}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || user != "" && resp.StatusCode == http.StatusUnauthorized {
				return r, nil
			}
		}
		if time.Now().After(deadline) {
			r.Close()
			log, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("%s did not answer on %s: %v\n%s", Binary, host, err, log)
		}
	}
}

// Close stops the registry.
func (r *Registry) Close() error {
	r.cmd.Process.Kill()
	r.cmd.Wait()
	return r.log.Close()
}

// BlobPath is where the registry stores the blob with this SHA-256 (its filesystem driver's layout).
func (r *Registry) BlobPath(sha string) string {
	return filepath.Join(r.Storage, "docker", "registry", "v2", "blobs", "sha256", sha[:2], sha, "data")
}
