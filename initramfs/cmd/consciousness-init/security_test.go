package main

import (
	"testing"

	"github.com/genai-os/genai-build/initramfs/auditmsg"
	"github.com/genai-os/genai-build/initramfs/svc"
)

func TestUnitAuditRecord(t *testing.T) {
	type rec struct {
		typ      uint16
		ok, send bool
	}
	none := rec{}
	for _, tc := range []struct {
		prev, now svc.State
		want      rec
	}{
		{"", svc.Starting, none},
		{svc.Starting, svc.Running, rec{auditmsg.ServiceStart, true, true}},
		{svc.Starting, svc.Exited, rec{auditmsg.ServiceStart, true, true}}, // a oneshot
		{svc.Starting, svc.Failed, rec{auditmsg.ServiceStart, false, true}},
		{svc.Running, svc.Stopping, none},
		{svc.Stopping, svc.Inactive, rec{auditmsg.ServiceStop, true, true}},
		{svc.Running, svc.Failed, rec{auditmsg.ServiceStop, false, true}},
		{svc.Running, svc.Restarting, rec{auditmsg.ServiceStop, false, true}},
		{svc.Restarting, svc.Running, rec{auditmsg.ServiceStart, true, true}},
		{svc.Running, svc.Running, none},
		{svc.Inactive, svc.Inactive, none},
	} {
		typ, ok, send := unitAuditRecord(tc.prev, tc.now)
		if got := (rec{typ, ok, send}); got != tc.want {
			t.Errorf("%q -> %q: %+v, want %+v", tc.prev, tc.now, got, tc.want)
		}
	}
}
