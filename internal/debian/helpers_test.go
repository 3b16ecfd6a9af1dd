package debian

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/genai-os/genai-build/internal/debtest"
)

var testTime = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func newKey(t testing.TB, name string) *openpgp.Entity {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return testTime.Add(-24 * time.Hour) }}
	e, err := openpgp.NewEntity(name, "", name+"@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func publicRing(t testing.TB, es ...*openpgp.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, e := range es {
		if err := e.Serialize(&b); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func clearsignWith(t testing.TB, text string, es ...*openpgp.Entity) []byte {
	t.Helper()
	return debtest.Clearsign(t, text, testTime, es...)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// The archive builders are internal/debtest's, under the names these tests grew up with.
type tarFile = debtest.File

// arEntry is one ar member, written unkeyed in these tests.
type arEntry struct {
	Name string
	Data []byte
}

func makeTar(t testing.TB, files []tarFile) []byte          { return debtest.Tar(t, files) }
func compress(t testing.TB, data []byte, ext string) []byte { return debtest.Compress(t, data, ext) }
func makeAr(entries []arEntry) []byte {
	ms := make([]debtest.Member, len(entries))
	for i, e := range entries {
		ms[i] = debtest.Member{Name: e.Name, Data: e.Data}
	}
	return debtest.Ar(ms...)
}

// makeDeb builds a .deb with the given control text and data entries.
func makeDeb(t testing.TB, control string, ctlExt, dataExt string, data []tarFile) []byte {
	return debtest.Deb(t, control, ctlExt, dataExt, nil, data)
}
