package auditd

import (
	"bytes"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// Line is one record in auditd's log format: `type=USER_LOGIN msg=audit(1700000000.123:45): ...`
// followed by a newline. data is the netlink payload, which starts with audit(sec.ms:serial):
// (kernel/audit.c, audit_log_start); a type without a name is written as auditd does,
// UNKNOWN[number].
func Line(typ uint16, data []byte) []byte {
	data = bytes.TrimRight(data, "\x00\n")
	out := make([]byte, 0, len(data)+32)
	out = append(out, "type="...)
	out = append(out, auparse.AuditMessageType(typ).String()...)
	out = append(out, " msg="...)
	out = append(out, data...)
	return append(out, '\n')
}
