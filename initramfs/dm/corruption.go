package dm

import (
	"regexp"
	"strconv"
)

// corruptionRe is dm-verity's report of a block that does not match its hash
// (drivers/md/dm-verity-target.c, verity_handle_err: DMERR_LIMIT("%s: %s block %llu is corrupted",
// v->data_dev->name, type_str, block)); the device is the data device, as major:minor.
var corruptionRe = regexp.MustCompile(`device-mapper: verity: (\d+:\d+): (data|metadata) block (\d+) is corrupted`)

// Corruption is one block dm-verity refused.
type Corruption struct {
	Dev   string // the data device, major:minor
	Kind  string // data (a block of the file system) or metadata (a block of the hash tree)
	Block uint64
}

// ParseCorruption reads a kernel log line; ok is false when it is not a verity corruption report.
func ParseCorruption(line string) (c Corruption, ok bool) {
	m := corruptionRe.FindStringSubmatch(line)
	if m == nil {
		return Corruption{}, false
	}
	n, err := strconv.ParseUint(m[3], 10, 64)
	if err != nil {
		return Corruption{}, false
	}
	return Corruption{Dev: m[1], Kind: m[2], Block: n}, true
}
