// Package efivars writes UEFI variables into an edk2 (OVMF) non-volatile variable store, offline:
// Enroll turns a copy of OVMF_VARS_4M.fd into one with an organisation's Secure Boot keys
// enrolled and Secure Boot on, for QEMU tests, without virt-fw-vars (not in Debian 12).
//
// The layout, from edk2's MdePkg/Include/Pi/PiFirmwareVolume.h and
// MdeModulePkg/Include/Guid/VariableFormat.h:
//
//	EFI_FIRMWARE_VOLUME_HEADER (FileSystemGuid = EfiSystemNvDataFv, "_FVH" at 40, HeaderLength at 48)
//	VARIABLE_STORE_HEADER     (Signature = gEfiAuthenticatedVariableGuid, Size, Format 0x5A, State 0xFE)
//	AUTHENTICATED_VARIABLE_HEADER + name (UCS-2, NUL) + data, each 4-byte aligned, 0xFF after the last
package efivars

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/genai-os/genai-build/internal/sbkeys"
)

// GUIDs in their on-disk byte order (UEFI 2.10 Appendix A: the first three fields little-endian).
var (
	guidSystemNvDataFv   = GUID("fff12b8d-7696-4c8b-a985-2747075b4f50") // EFI_SYSTEM_NV_DATA_FV_GUID
	guidAuthVariable     = GUID("aaf32c78-947b-439a-a180-2e144ec37792") // gEfiAuthenticatedVariableGuid
	GlobalVariable       = GUID("8be4df61-93ca-11d2-aa0d-00e098032b8c") // EFI_GLOBAL_VARIABLE: PK, KEK
	ImageSecurityDB      = GUID("d719b2cb-3d3a-4596-a3bc-dad00e67656f") // EFI_IMAGE_SECURITY_DATABASE_GUID: db, dbx
	SecureBootEnableGUID = GUID("f0a30bc7-af08-4556-99c4-001009c93a44") // edk2 gEfiSecureBootEnableDisableGuid
	CustomModeGUID       = GUID("c076ec0c-7028-4399-a072-71ee5c448b9f") // edk2 gEfiCustomModeEnableGuid
	certSHA256GUID       = GUID("c1c41626-504c-4092-aca9-41f936934328") // EFI_CERT_SHA256_GUID
)

// GUID converts the text form of a GUID into its 16 on-disk bytes. It panics on a malformed
// constant: it is meant for literals.
func GUID(s string) [16]byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		panic("efivars: bad GUID " + s)
	}
	var g [16]byte
	g[0], g[1], g[2], g[3] = b[3], b[2], b[1], b[0]
	g[4], g[5] = b[5], b[4]
	g[6], g[7] = b[7], b[6]
	copy(g[8:], b[8:])
	return g
}

// Variable attributes (UEFI 2.10 §8.2.1).
const (
	AttrNonVolatile        = 0x01
	AttrBootService        = 0x02
	AttrRuntime            = 0x04
	AttrTimeBasedAuthWrite = 0x20
	// the Secure Boot key databases: NV|BS|RT|TIME_BASED_AUTHENTICATED_WRITE_ACCESS
	attrAuthDB = AttrNonVolatile | AttrBootService | AttrRuntime | AttrTimeBasedAuthWrite
)

// Variable header states (VariableFormat.h): a live variable is VAR_ADDED with the other bits set
// (0x3F); clearing VAR_DELETED's bit marks it deleted.
const (
	stateAdded     = 0x3F
	varDeleted     = 0xFD // AND mask
	startID        = 0x55AA
	headerSize     = 60 // sizeof(AUTHENTICATED_VARIABLE_HEADER)
	storeHdrSize   = 28 // sizeof(VARIABLE_STORE_HEADER)
	storeFormatted = 0x5A
	storeHealthy   = 0xFE
)

// Variable is one live variable of a store.
type Variable struct {
	Name       string
	GUID       [16]byte
	Attributes uint32
	Data       []byte
	offset     int // of its header in the store
}

// store locates the variable area of an edk2 variable store firmware volume.
func store(fv []byte) (start, end int, err error) {
	if len(fv) < 0x48 || !bytes.Equal(fv[16:32], guidSystemNvDataFv[:]) || string(fv[40:44]) != "_FVH" {
		return 0, 0, errors.New("not an edk2 variable store (no EfiSystemNvDataFv firmware volume header)")
	}
	if fl := binary.LittleEndian.Uint64(fv[32:]); fl != uint64(len(fv)) {
		return 0, 0, fmt.Errorf("firmware volume length %d, file %d bytes", fl, len(fv))
	}
	h := int(binary.LittleEndian.Uint16(fv[48:]))
	if h+storeHdrSize > len(fv) || !bytes.Equal(fv[h:h+16], guidAuthVariable[:]) {
		return 0, 0, errors.New("variable store is not of the authenticated format")
	}
	size := int(binary.LittleEndian.Uint32(fv[h+16:]))
	if fv[h+20] != storeFormatted || fv[h+21] != storeHealthy || h+size > len(fv) {
		return 0, 0, fmt.Errorf("variable store header: size %d format %#x state %#x", size, fv[h+20], fv[h+21])
	}
	return h + storeHdrSize, h + size, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// walk calls fn for every variable header in the store (live or not) and returns the offset of
// the free space.
func walk(fv []byte, fn func(off int, state byte, v Variable)) (int, error) {
	off, end, err := store(fv)
	if err != nil {
		return 0, err
	}
	for off+headerSize <= end && binary.LittleEndian.Uint16(fv[off:]) == startID {
		state := fv[off+2]
		nameSize := int(binary.LittleEndian.Uint32(fv[off+36:]))
		dataSize := int(binary.LittleEndian.Uint32(fv[off+40:]))
		next := off + headerSize + nameSize + dataSize
		if nameSize%2 != 0 || next > end {
			return 0, fmt.Errorf("variable at %#x: name %d bytes, data %d bytes, past the store", off, nameSize, dataSize)
		}
		var v Variable
		v.offset = off
		v.Attributes = binary.LittleEndian.Uint32(fv[off+4:])
		copy(v.GUID[:], fv[off+44:off+60])
		name := fv[off+headerSize : off+headerSize+nameSize]
		u := make([]uint16, 0, nameSize/2)
		for i := 0; i+1 < len(name); i += 2 {
			c := binary.LittleEndian.Uint16(name[i:])
			if c == 0 {
				break
			}
			u = append(u, c)
		}
		v.Name = string(utf16.Decode(u))
		v.Data = fv[off+headerSize+nameSize : next]
		fn(off, state, v)
		off = align4(next)
	}
	return off, nil
}

// Variables returns the live variables of an edk2 variable store, in store order.
func Variables(fv []byte) ([]Variable, error) {
	var out []Variable
	_, err := walk(fv, func(_ int, state byte, v Variable) {
		if state == stateAdded {
			v.Data = bytes.Clone(v.Data)
			out = append(out, v)
		}
	})
	return out, err
}

// Set returns a copy of the store with the variable written: an earlier live copy of the same
// name and GUID is marked deleted and the new one is appended, as the firmware itself does.
// The authenticated header fields (MonotonicCount, TimeStamp, PubKeyIndex) are zero: the oldest
// possible time, so that any later signed update is newer (UEFI 2.10 §8.2.2).
func Set(fv []byte, v Variable) ([]byte, error) {
	out := bytes.Clone(fv)
	free, err := walk(out, func(off int, state byte, old Variable) {
		if state == stateAdded && old.Name == v.Name && old.GUID == v.GUID {
			out[off+2] &= varDeleted
		}
	})
	if err != nil {
		return nil, err
	}
	_, end, _ := store(out)
	name := utf16.Encode([]rune(v.Name + "\x00"))
	size := headerSize + 2*len(name) + len(v.Data)
	if free+size > end {
		return nil, fmt.Errorf("variable %s: %d bytes do not fit the %d free bytes of the store", v.Name, size, end-free)
	}
	for _, b := range out[free : free+size] {
		if b != 0xFF {
			return nil, fmt.Errorf("variable %s: the free space at %#x is not erased", v.Name, free)
		}
	}
	h := out[free:]
	binary.LittleEndian.PutUint16(h[0:], startID)
	h[2] = stateAdded
	h[3] = 0
	binary.LittleEndian.PutUint32(h[4:], v.Attributes)
	clear(h[8:36]) // MonotonicCount, TimeStamp, PubKeyIndex
	binary.LittleEndian.PutUint32(h[36:], uint32(2*len(name)))
	binary.LittleEndian.PutUint32(h[40:], uint32(len(v.Data)))
	copy(h[44:60], v.GUID[:])
	for i, c := range name {
		binary.LittleEndian.PutUint16(h[headerSize+2*i:], c)
	}
	copy(h[headerSize+2*len(name):], v.Data)
	return out, nil
}

// DummyDBX is the dbx written by Enroll: one EFI_CERT_SHA256 entry, the SHA-256 of nothing, which
// no image has. A present dbx keeps firmware and tools that expect one quiet.
func DummyDBX(owner [16]byte) []byte {
	sum := sha256.Sum256(nil)
	const sigSize = 16 + sha256.Size
	esl := make([]byte, 28+sigSize) // EFI_SIGNATURE_LIST header (UEFI 2.10 §32.4.1) + one entry
	copy(esl[0:16], certSHA256GUID[:])
	binary.LittleEndian.PutUint32(esl[16:], uint32(len(esl))) // SignatureListSize
	binary.LittleEndian.PutUint32(esl[20:], 0)                // SignatureHeaderSize
	binary.LittleEndian.PutUint32(esl[24:], sigSize)          // SignatureSize
	copy(esl[28:44], owner[:])
	copy(esl[44:], sum[:])
	return esl
}

// Enroll returns a copy of an edk2 variable store template (OVMF_VARS_4M.fd) with pk, kek and db
// enrolled as X.509 signature lists, a dummy dbx, SecureBootEnable=1 and CustomMode=0: the
// firmware starts in User Mode with Secure Boot on and trusts images signed by db.
func Enroll(template []byte, pk, kek, db *x509.Certificate) ([]byte, error) {
	if pk == nil || kek == nil || db == nil {
		return nil, errors.New("efivars: PK, KEK and db certificates are all required")
	}
	esl := func(c *x509.Certificate) []byte {
		b, err := sbkeys.ESL(c)
		if err != nil {
			panic(err) // appending one certificate to an empty database cannot fail
		}
		return b
	}
	vars := []Variable{
		// The key databases first and PK last, the order a person enrols them in.
		{Name: "db", GUID: ImageSecurityDB, Attributes: attrAuthDB, Data: esl(db)},
		{Name: "dbx", GUID: ImageSecurityDB, Attributes: attrAuthDB, Data: DummyDBX(sbkeys.OwnerGUID(pk))},
		{Name: "KEK", GUID: GlobalVariable, Attributes: attrAuthDB, Data: esl(kek)},
		{Name: "PK", GUID: GlobalVariable, Attributes: attrAuthDB, Data: esl(pk)},
		// edk2 SecureBootConfigDxe's switches, NV|BS (SecureBootConfigDxe, AuthVariableLib).
		{Name: "SecureBootEnable", GUID: SecureBootEnableGUID, Attributes: AttrNonVolatile | AttrBootService, Data: []byte{1}},
		{Name: "CustomMode", GUID: CustomModeGUID, Attributes: AttrNonVolatile | AttrBootService, Data: []byte{0}},
	}
	out := template
	for _, v := range vars {
		var err error
		if out, err = Set(out, v); err != nil {
			return nil, fmt.Errorf("efivars: %w", err)
		}
	}
	return out, nil
}

// Lookup returns the live variable name of vendor guid, if the store has it.
func Lookup(vars []Variable, name string, guid [16]byte) (Variable, bool) {
	for _, v := range vars {
		if v.Name == name && v.GUID == guid {
			return v, true
		}
	}
	return Variable{}, false
}
