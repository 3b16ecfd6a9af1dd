package ukitest_test

import (
	"bytes"
	"debug/pe"
	"testing"

	"github.com/genai-os/genai-build/internal/uki/ukitest"
)

func TestStub(t *testing.T) {
	b := ukitest.Stub(t)
	f, err := pe.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range f.Sections {
		names = append(names, s.Name)
	}
	t.Logf("%d bytes, sections %v", len(b), names)
	if f.Section(".sbat") == nil || f.Section(".sdmagic") == nil {
		t.Errorf("sections %v: not systemd-stub", names)
	}
}
