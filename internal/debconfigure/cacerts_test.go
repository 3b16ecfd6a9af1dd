package debconfigure

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/fstree"
)

// testCertPEM is a fuzz seed: any well-formed certificate.
var testCertPEM = func() string {
	ca, _, err := newCA(pkix.Name{CommonName: "seed"})
	if err != nil {
		panic(err)
	}
	return string(ca)
}()

func newCA(subject pkix.Name) (certPEM []byte, key *ecdsa.PrivateKey, err error) {
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: subject, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key, nil
}

// TestSubjectHashOpenSSL compares SubjectHash with the host's `openssl x509 -subject_hash` on
// names that exercise the canonical form: case, runs of blanks, leading and trailing blanks,
// several RDNs, non-ASCII.
func TestSubjectHashOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skipf("no openssl on this host to compare with: %v", err)
	}
	for _, name := range []pkix.Name{
		{CommonName: "GenAI Test Root"},
		{CommonName: "  Mixed   CASE\tName  ", Organization: []string{"Example, Inc."}, Country: []string{"DE"}},
		{CommonName: "Ümläut Ça Root", OrganizationalUnit: []string{"A", "b"}},
		{SerialNumber: "12345", Locality: []string{"Paris"}, Province: []string{"Île-de-France"}},
	} {
		certPEM, _, err := newCA(name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "c.pem")
		if err := os.WriteFile(p, certPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(openssl, "x509", "-subject_hash", "-noout", "-in", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		got, err := SubjectHash(certPEM)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSpace(string(out)); fmt.Sprintf("%08x", got) != want {
			t.Errorf("%v: hash %08x, openssl says %s", name, got, want)
		}
	}
}

// TestUpdateCACertificatesLocalCA puts a packaged CA and a local one (as an overlay adds it, in
// usr/local/share/ca-certificates) into a tree, writes the bundle, and reaches an HTTPS server
// whose certificate the local CA signed, trusting only the bundle.
func TestUpdateCACertificatesLocalCA(t *testing.T) {
	pkgCA, _, err := newCA(pkix.Name{CommonName: "Packaged Root"})
	if err != nil {
		t.Fatal(err)
	}
	localCA, localKey, err := newCA(pkix.Name{CommonName: "Local Test Root"})
	if err != nil {
		t.Fatal(err)
	}
	tree := fstree.New()
	for p, data := range map[string][]byte{
		"usr/share/ca-certificates/mozilla/Packaged_Root.crt": pkgCA,
		"usr/local/share/ca-certificates/local-test.crt":      localCA[:len(localCA)-1], // no final newline
	} {
		if err := tree.Add(fstree.Entry{Path: p, Kind: fstree.File, Mode: 0o644, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := UpdateCACertificates(tree, "test")
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d certificates, want 2", n)
	}
	conf, _ := tree.Get("etc/ca-certificates.conf")
	if !strings.HasSuffix(string(conf.Data), "\nmozilla/Packaged_Root.crt\n") {
		t.Errorf("ca-certificates.conf:\n%s", conf.Data)
	}
	for p, target := range map[string]string{
		"etc/ssl/certs/Packaged_Root.pem": "/usr/share/ca-certificates/mozilla/Packaged_Root.crt",
		"etc/ssl/certs/local-test.pem":    "/usr/local/share/ca-certificates/local-test.crt",
	} {
		if e, ok := tree.Get(p); !ok || e.Target != target {
			t.Errorf("%s: %+v, want a link to %s", p, e, target)
		}
	}
	h, _ := SubjectHash(localCA)
	if e, ok := tree.Get(fmt.Sprintf("etc/ssl/certs/%08x.0", h)); !ok || e.Target != "local-test.pem" {
		t.Errorf("hash link: %+v", e)
	}
	bundle, _ := tree.Get("etc/ssl/certs/ca-certificates.crt")
	if strings.Count(string(bundle.Data), "-----BEGIN CERTIFICATE-----") != 2 || !strings.Contains(string(bundle.Data), "-----END CERTIFICATE-----\n-----BEGIN") {
		t.Fatalf("bundle:\n%s", bundle.Data)
	}

	// A server certificate for 127.0.0.1 signed by the local CA.
	caBlock, _ := pem.Decode(localCA)
	caCert, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, caCert, &srvKey.PublicKey, localKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello over https") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: srvKey}}}
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle.Data) {
		t.Fatal("the bundle has no certificate Go can read")
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("HTTPS with the bundle: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello over https" {
		t.Errorf("body %q", body)
	}
}
