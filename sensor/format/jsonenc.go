package format

// A JSON encoder for documents: the trees of maps, slices, strings and
// numbers the encoders build. It writes exactly what encoding/json writes
// (keys sorted, HTML characters and U+2028/U+2029 escaped, invalid UTF-8
// as U+FFFD) without reflection: on a storm of alerts, encoding/json's
// reflection, key sorting and allocations were a fifth of the agent's CPU
// and much of its garbage. Any other type is handed to encoding/json.

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"
)

// MarshalDoc encodes a document as encoding/json.Marshal would.
func MarshalDoc(doc map[string]any) ([]byte, error) {
	return appendValue(make([]byte, 0, 2048), doc)
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case map[string]any:
		return appendObject(b, x)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []string:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e)
		}
		return append(b, ']'), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	}
	// Floats (encoding/json's own formatting), named types, Marshalers.
	e, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, e...), nil
}

func appendObject(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	var buf [32]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

const hexDigits = "0123456789abcdef"

// jsonSafe are the ASCII bytes a JSON string holds as they are, as
// encoding/json writes them (HTML's <, > and & escaped).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString is encoding/json's string encoding with HTML escaping.
func appendString(b []byte, s string) []byte {
	if len(s) < memoMin {
		return appendQuoted(b, s)
	}
	// A long string is most often one written before: a process's
	// command line is in every document of its events and of its
	// children's (the same string, not an equal one: the agent joins it
	// once). The entry holds the string, so its bytes cannot be reused
	// for another while it is remembered.
	slot := &escapedMemo[uintptr(unsafe.Pointer(unsafe.StringData(s)))>>4%uintptr(len(escapedMemo))]
	if m := slot.Load(); m != nil && len(m.s) == len(s) && unsafe.StringData(m.s) == unsafe.StringData(s) {
		return append(b, m.quoted...)
	}
	start := len(b)
	b = appendQuoted(b, s)
	slot.Store(&escaped{s: s, quoted: slices.Clone(b[start:])})
	return b
}

// memoMin is the length from which a string's quoted form is remembered.
const memoMin = 512

type escaped struct {
	s      string
	quoted []byte
}

// escapedMemo remembers the quoted form of the last long strings written,
// by address (safe for concurrent encoders: entries are never changed).
var escapedMemo [8]atomic.Pointer[escaped]

// appendQuoted writes s quoted and escaped.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs escaping: command lines
		// and environments are long, and nearly all plain ASCII.
		for i+8 <= len(s) && plain8(load8(s[i:])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// load8 is s's first eight bytes as one little-endian word (one load).
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plain8 reports whether none of the eight bytes of x needs escaping: each
// is ASCII, not a control and not one of " \ < > &. Each term is the "has
// a zero byte" test of Hacker's Delight: it may be wrong about which byte,
// never about whether one is.
func plain8(x uint64) bool {
	bad := (x-0x20*lsb)&^x | x |
		(x^'"'*lsb-lsb)&^(x^'"'*lsb) | (x^'\\'*lsb-lsb)&^(x^'\\'*lsb) |
		(x^'<'*lsb-lsb)&^(x^'<'*lsb) | (x^'>'*lsb-lsb)&^(x^'>'*lsb) |
		(x^'&'*lsb-lsb)&^(x^'&'*lsb)
	return bad&msb == 0
}
