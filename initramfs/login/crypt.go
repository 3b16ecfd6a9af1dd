package login

import (
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-crypt/x/yescrypt"
)

// ErrUnsupportedHash is returned for a hash scheme this package does not
// implement (bcrypt "$2b$", say, or a yescrypt setting outside "$y$j"): set
// the password with yescrypt (Debian's default: `mkpasswd -m yescrypt`) or
// SHA-512 crypt ("$6$", `openssl passwd -6`) for console logins.
var ErrUnsupportedHash = errors.New("unsupported password hash scheme")

// ErrLocked is returned for a locked or empty password field: no password can
// match it ('!' or '*' prefixes, or nothing at all; shadow(5)).
var ErrLocked = errors.New("account has no usable password")

// Verify reports whether password matches the shadow(5) hash field.
func Verify(hash, password string) (bool, error) {
	switch {
	case hash == "" || hash[0] == '!' || hash[0] == '*':
		return false, ErrLocked
	case strings.HasPrefix(hash, "$6$"):
		want, err := SHA512Crypt(password, hash)
		if err != nil {
			return false, err
		}
		return subtle.ConstantTimeCompare([]byte(want), []byte(hash)) == 1, nil
	case strings.HasPrefix(hash, "$y$"):
		// Debian's default since 11 (libxcrypt). yescrypt.Hash takes the whole field as setting
		// and reads the salt up to its '$'.
		want, err := yescrypt.Hash([]byte(password), []byte(hash))
		if err != nil {
			return false, fmt.Errorf("%w: %v", ErrUnsupportedHash, err)
		}
		return subtle.ConstantTimeCompare(want, []byte(hash)) == 1, nil
	}
	return false, ErrUnsupportedHash
}

const (
	roundsDefault = 5000 // "Unix crypt using SHA-256 and SHA-512" (Drepper, 2007-2016), the spec of $5$ and $6$
	roundsMin     = 1000
	roundsMax     = 999999999
	saltMax       = 16
	cryptB64      = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// SHA512Crypt computes the "$6$" hash of password with the salt (and rounds)
// of setting ("$6$salt" or "$6$rounds=N$salt", anything after the salt's '$' ignored).
func SHA512Crypt(password, setting string) (string, error) {
	rest, ok := strings.CutPrefix(setting, "$6$")
	if !ok {
		return "", ErrUnsupportedHash
	}
	rounds, custom := roundsDefault, false
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		n, tail, found := strings.Cut(r, "$")
		v, err := strconv.ParseUint(n, 10, 64)
		if !found || err != nil {
			return "", errors.New("sha512-crypt: bad rounds=")
		}
		rounds, custom, rest = int(min(max(v, roundsMin), roundsMax)), true, tail
	}
	salt, _, _ := strings.Cut(rest, "$")
	if len(salt) > saltMax {
		salt = salt[:saltMax]
	}
	pw, s := []byte(password), []byte(salt)

	h := sha512.New()
	h.Write(pw)
	h.Write(s)
	h.Write(pw)
	b := h.Sum(nil)

	h.Reset()
	h.Write(pw)
	h.Write(s)
	n := len(pw)
	for ; n > 64; n -= 64 {
		h.Write(b)
	}
	h.Write(b[:n])
	for n = len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(pw)
		}
	}
	a := h.Sum(nil)

	h.Reset()
	for range len(pw) {
		h.Write(pw)
	}
	p := repeat(h.Sum(nil), len(pw))

	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(s)
	}
	sb := repeat(h.Sum(nil), len(s))

	c := a
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sb)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(c[:0])
	}

	var out strings.Builder
	out.WriteString("$6$")
	if custom {
		out.WriteString("rounds=" + strconv.Itoa(rounds) + "$")
	}
	out.WriteString(salt)
	out.WriteByte('$')
	// The spec's byte order for the final encoding.
	for i := range 21 {
		b2, b1, b0 := c[(i*22)%63], c[(i*22+21)%63], c[(i*22+42)%63]
		enc(&out, uint(b2)<<16|uint(b1)<<8|uint(b0), 4)
	}
	enc(&out, uint(c[63]), 2)
	return out.String(), nil
}

func repeat(d []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, d[:min(len(d), n-len(out))]...)
	}
	return out
}

func enc(b *strings.Builder, w uint, n int) {
	for range n {
		b.WriteByte(cryptB64[w&0x3f])
		w >>= 6
	}
}
