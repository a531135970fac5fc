// Package bounded keeps what an attacker controls from growing the agent: a
// file read stops at a limit, and a map of verdicts that are cheap to make
// again forgets everything when full, so what an attacker can make the
// agent remember (one entry per file, image or container) cannot grow
// without bound, and a hit costs one lock and one lookup.
package bounded

import (
	"io"
	"os"
	"sync"
)

// Map is safe for concurrent use. Its zero value is not: use New.
type Map[K comparable, V any] struct {
	mu  sync.Mutex
	m   map[K]V
	max int
}

// New returns a map holding at most max entries.
func New[K comparable, V any](max int) *Map[K, V] {
	return &Map[K, V]{m: map[K]V{}, max: max}
}

// Get returns the value remembered for k.
func (b *Map[K, V]) Get(k K) (V, bool) {
	b.mu.Lock()
	v, ok := b.m[k]
	b.mu.Unlock()
	return v, ok
}

// Put remembers v for k, forgetting everything first when the map is full.
func (b *Map[K, V]) Put(k K, v V) {
	b.mu.Lock()
	if len(b.m) >= b.max {
		clear(b.m)
	}
	b.m[k] = v
	b.mu.Unlock()
}

// ReadFile reads at most max bytes of a file: /proc files, configuration
// and a container's files are read whatever their size claims to be.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}
