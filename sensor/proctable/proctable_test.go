package proctable

import "testing"

func TestBoundedLRU(t *testing.T) {
	tab := New(2)
	tab.Put(&Process{PID: 1})
	tab.Put(&Process{PID: 2})
	if _, ok := tab.Get(1); !ok { // 1 is now the most recent
		t.Fatal("1 missing")
	}
	tab.Put(&Process{PID: 3})
	if _, ok := tab.Get(2); ok {
		t.Error("2 should have been evicted")
	}
	if tab.Len() != 2 {
		t.Errorf("len %d", tab.Len())
	}
	tab.Put(&Process{PID: 3, Name: "new image"})
	if p, _ := tab.Get(3); p.Name != "new image" || tab.Len() != 2 {
		t.Errorf("replace: %+v len %d", p, tab.Len())
	}
}

func TestEntityIDDistinguishesReuse(t *testing.T) {
	a := EntityID("host", 100, 5)
	if a == EntityID("host", 100, 6) || a == EntityID("other", 100, 5) || a != EntityID("host", 100, 5) {
		t.Error("entity ids do not separate processes")
	}
}

func BenchmarkLookup(b *testing.B) {
	tab := New(16384)
	for i := uint32(0); i < 16384; i++ {
		tab.Put(&Process{PID: i})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := tab.Get(uint32(i) & 16383); !ok {
			b.Fatal("missing")
		}
	}
}
