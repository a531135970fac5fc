package bounded

import (
	"container/list"
	"sync"
)

// LRU is a map that holds at most max entries, dropping the least recently
// used: what must stay while in use (a process's context, a file's
// judgement) and may go once forgotten. Safe for concurrent use.
type LRU[K comparable, V any] struct {
	mu  sync.Mutex
	max int
	m   map[K]*list.Element
	l   *list.List
}

type lruEntry[K comparable, V any] struct {
	k K
	v V
}

// NewLRU returns an LRU holding at most max entries.
func NewLRU[K comparable, V any](max int) *LRU[K, V] {
	return &LRU[K, V]{max: max, m: map[K]*list.Element{}, l: list.New()}
}

// Get returns the value for k and marks it used.
func (c *LRU[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		c.l.MoveToFront(e)
		return e.Value.(*lruEntry[K, V]).v, true
	}
	var zero V
	return zero, false
}

// Put stores v for k, replacing what k held, and drops the least recently
// used entries beyond max.
func (c *LRU[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		e.Value.(*lruEntry[K, V]).v = v
		c.l.MoveToFront(e)
		return
	}
	c.m[k] = c.l.PushFront(&lruEntry[K, V]{k: k, v: v})
	for c.l.Len() > c.max {
		old := c.l.Back()
		c.l.Remove(old)
		delete(c.m, old.Value.(*lruEntry[K, V]).k)
	}
}

// Len is how many entries are held.
func (c *LRU[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.l.Len()
}
