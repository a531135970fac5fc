// Package format encodes hookwatch's ECS documents for the places they go:
// ECS JSON, rows of Microsoft Defender's advanced-hunting tables (for
// queries written against them), and ArcSight CEF (Sentinel's
// CommonSecurityLog); plus the syslog headers around them and the shrinking
// of a document that does not fit a message.
package format

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Encoder turns a document into the bytes of one message.
type Encoder interface {
	Encode(doc map[string]any) ([]byte, error)
}

// truncMark ends a string value that was shortened to fit.
const truncMark = "…[truncated %d bytes]"

// Fit encodes doc with enc and, while the result is over max bytes, shortens
// the longest string values (never keys, never numbers) with a visible
// marker, so the message stays well-formed. It works on a copy; doc is not
// changed. max 0 means no limit.
func Fit(enc Encoder, doc map[string]any, max int) ([]byte, bool, error) {
	b, err := enc.Encode(doc)
	if err != nil || max <= 0 || len(b) <= max {
		return b, false, err
	}
	work := deepCopy(doc).(map[string]any)
	for i := 0; i < 64 && len(b) > max; i++ {
		over := len(b) - max
		leaves := stringLeaves(work)
		if len(leaves) == 0 {
			break
		}
		sort.Slice(leaves, func(a, b int) bool { return len(*leaves[a].s) > len(*leaves[b].s) })
		l := leaves[0]
		s := *l.s
		// Cut what is over, plus room for the marker and escaping.
		keep := len(s) - over - 64
		if keep < 16 {
			keep = min(16, len(s))
		}
		keep = utf8Boundary(s, keep)
		l.set(s[:keep] + fmt.Sprintf(truncMark, len(s)-keep))
		if b, err = enc.Encode(work); err != nil {
			return nil, false, err
		}
	}
	if len(b) > max {
		return b, true, fmt.Errorf("event of %d bytes does not fit in %d even shortened", len(b), max)
	}
	return b, true, nil
}

type leaf struct {
	s   *string
	set func(string)
}

func stringLeaves(v any) []leaf {
	var out []leaf
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if s, ok := c.(string); ok {
					k, m := k, x
					str := s
					out = append(out, leaf{s: &str, set: func(n string) { m[k] = n }})
					continue
				}
				walk(c)
			}
		case []any:
			for i, c := range x {
				if s, ok := c.(string); ok {
					i, arr := i, x
					str := s
					out = append(out, leaf{s: &str, set: func(n string) { arr[i] = n }})
					continue
				}
				walk(c)
			}
		case []string:
			for i := range x {
				i, arr := i, x
				out = append(out, leaf{s: &arr[i], set: func(n string) { arr[i] = n }})
			}
		}
	}
	walk(v)
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, c := range x {
			m[k] = deepCopy(c)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, c := range x {
			a[i] = deepCopy(c)
		}
		return a
	case []string:
		return append([]string(nil), x...)
	}
	// Named map types (ecs.Doc) arrive as map[string]any after normalise.
	return v
}

func utf8Boundary(s string, n int) int {
	for n > 0 && n < len(s) && (s[n]&0xc0) == 0x80 {
		n--
	}
	return n
}

// get reads a dotted path from a nested document.
func get(d map[string]any, path string) any {
	var cur any = d
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func str(d map[string]any, path string) string {
	switch v := get(d, path).(type) {
	case string:
		return v
	case []string:
		return strings.Join(v, " ")
	case []any:
		var parts []string
		for _, x := range v {
			parts = append(parts, fmt.Sprint(x))
		}
		return strings.Join(parts, " ")
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func num(d map[string]any, path string) (int64, bool) {
	switch v := get(d, path).(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case uint32:
		return int64(v), true
	case float64:
		return int64(v), true
	}
	return 0, false
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
