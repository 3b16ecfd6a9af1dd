package conslog

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
)

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(New(&buf, "init", slog.LevelInfo))
	l.Debug("hidden")
	l.Info("mounted", "path", "/proc", "ms", 3)
	l.With("svc", "sshd").WithGroup("g").Warn("restart", "err", errors.New("exit status 1\nmore"), slog.Group("x", "a", 1))
	want := "init: mounted path=/proc ms=3\n" +
		"init: WARN restart svc=sshd g.err=\"exit status 1\\nmore\" g.x.a=1\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}
