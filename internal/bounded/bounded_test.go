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
	if _, ok := m.Get("a"); ok || m.Len() != 1 {
		t.Errorf("after a third put: a still there or %d entries", m.Len())
	}
	if v, _ := m.Get("b"); v != 3 {
		t.Errorf("b: %d", v)
	}
}
