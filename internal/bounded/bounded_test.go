package bounded

import "testing"

func TestForgetsEverythingWhenFull(t *testing.T) {
	m := New[string, int](2)
	m.Put("a", 1)
	m.Put("b", 2)
	if v, ok := m.Get("a"); !ok || v != 1 {
		t.Fatalf("a: %d %v", v, ok)
	}
	m.Put("b", 3) // full: forgets a and b, then holds b
	if _, ok := m.Get("a"); ok || len(m.m) != 1 {
		t.Errorf("after a third put: a still there or %d entries", len(m.m))
	}
	if v, _ := m.Get("b"); v != 3 {
		t.Errorf("b: %d", v)
	}
}

func TestLRUDropsTheLeastRecentlyUsed(t *testing.T) {
	c := NewLRU[int, string](2)
	c.Put(1, "a")
	c.Put(2, "b")
	c.Get(1) // 2 is now the least recently used
	c.Put(3, "c")
	if _, ok := c.Get(2); ok {
		t.Error("2 kept, the least recently used")
	}
	if v, ok := c.Get(1); !ok || v != "a" {
		t.Errorf("1: %q %v", v, ok)
	}
	c.Put(1, "A") // replaces, holds two
	if v, _ := c.Get(1); v != "A" || c.Len() != 2 {
		t.Errorf("after replacing 1: %q, %d entries", v, c.Len())
	}
}
