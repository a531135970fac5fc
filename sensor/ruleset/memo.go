package ruleset

// Verdicts remembered: a rule's verdict depends only on the values of the
// fields it names (keyword searches, placeholders and aggregations are
// refused at load, and every comparator is a pure function of the value),
// and the events of a host repeat them: every exec of a build, every
// hooked exec of an attack's storm. Sigma evaluation allocates per search
// and was a tenth of the agent's CPU on such a storm; a verdict looked up
// by the fields' values costs one map read.

import (
	"strconv"
	"sync"
)

// memoSize bounds the verdicts one rule keeps; when full they are
// forgotten at once (the cheapest bound, and a storm refills it).
const memoSize = 4096

type memo struct {
	fields []string // the rule's fields, in a fixed order
	mu     sync.Mutex
	seen   map[string]bool
}

func newMemo(fields []string) *memo {
	return &memo{fields: fields, seen: make(map[string]bool)}
}

// key writes the values of the rule's fields in ev: each with a tag for
// its type and its length, so no two events of different values share a
// key. ok is false for a value of a type it does not know (evaluated every
// time).
func (m *memo) key(b []byte, ev map[string]any) ([]byte, bool) {
	for _, f := range m.fields {
		switch v := ev[f].(type) {
		case nil:
			b = append(b, 'n')
		case string:
			b = appendLenString(append(b, 's'), v)
		case []string:
			b = strconv.AppendInt(append(b, 'l'), int64(len(v)), 10)
			for _, s := range v {
				b = appendLenString(b, s)
			}
		case bool:
			b = strconv.AppendBool(append(b, 'b'), v)
		case int:
			b = strconv.AppendInt(append(b, 'i'), int64(v), 10)
		case int64:
			b = strconv.AppendInt(append(b, 'i'), v, 10)
		case uint32:
			b = strconv.AppendUint(append(b, 'u'), uint64(v), 10)
		case uint64:
			b = strconv.AppendUint(append(b, 'u'), v, 10)
		default:
			return b, false
		}
	}
	return b, true
}

func appendLenString(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

func (m *memo) get(k []byte) (verdict, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	verdict, ok = m.seen[string(k)]
	return verdict, ok
}

func (m *memo) put(k []byte, verdict bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.seen) >= memoSize {
		clear(m.seen)
	}
	m.seen[string(k)] = verdict
}
