// Package format encodes hookwatch's ECS documents for the places they go:
// ECS JSON, rows of Microsoft Defender's advanced-hunting tables (for
// queries written against them), and ArcSight CEF (Sentinel's
// CommonSecurityLog); plus the syslog headers around them and the shrinking
// of a document that does not fit a message.
package format

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hookwatch/hookwatch/sensor/observation"
)

// Encoder turns an observation into the bytes of one message. Encoders
// are peers: each reads the observation, none reads another's output.
type Encoder interface {
	Encode(o *observation.Observation) ([]byte, error)
}

// Appender is an Encoder that can write after a buffer of the caller's
// (one kept for the next document instead of one made per document).
type Appender interface {
	Append(dst []byte, o *observation.Observation) ([]byte, error)
}

// truncMark ends a string value that was shortened to fit.
const truncMark = "…[truncated %d bytes]"

// Fit encodes o with enc and, while the result is over max bytes, shortens
// the longest string values (never keys, never numbers) with a visible
// marker, so the message stays well-formed. It works on a copy; o is not
// changed. max 0 means no limit.
func Fit(enc Encoder, o *observation.Observation, max int) ([]byte, bool, error) {
	return FitAppend(nil, enc, o, max)
}

// FitAppend is Fit writing after dst when enc is an Appender.
func FitAppend(dst []byte, enc Encoder, o *observation.Observation, max int) ([]byte, bool, error) {
	var b []byte
	var err error
	if a, ok := enc.(Appender); ok && dst != nil {
		b, err = a.Append(dst, o)
	} else {
		b, err = enc.Encode(o)
	}
	if err != nil || max <= 0 || len(b) <= max {
		return b, false, err
	}
	work := o.Clone()
	for i := 0; i < 64 && len(b) > max; i++ {
		over := len(b) - max
		leaves := work.Strings()
		if len(leaves) == 0 {
			break
		}
		l := slices.MaxFunc(leaves, func(a, b observation.StringValue) int { return len(a.Value) - len(b.Value) })
		s := l.Value
		// Cut what is over, plus room for the marker and escaping.
		keep := len(s) - over - 64
		if keep < 16 {
			keep = min(16, len(s))
		}
		keep = utf8Boundary(s, keep)
		l.Set(s[:keep] + fmt.Sprintf(truncMark, len(s)-keep))
		if b, err = enc.Encode(work); err != nil {
			return nil, false, err
		}
	}
	if len(b) > max {
		return b, true, fmt.Errorf("event of %d bytes does not fit in %d even shortened", len(b), max)
	}
	return b, true, nil
}

func utf8Boundary(s string, n int) int {
	for n > 0 && n < len(s) && (s[n]&0xc0) == 0x80 {
		n--
	}
	return n
}

// Clean makes a string safe for a message: bytes that are not UTF-8 are
// written as \xNN, so nothing is silently replaced. (JSON escapes control
// characters itself; CEF escapes newlines.)
func Clean(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
