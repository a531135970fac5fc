package users

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	m := Parse([]byte("root:x:0:0:root:/root:/bin/bash\n#c:x:5\nbad\nbob:x:notanumber:1\nalice:x:1000:1000::/home/alice:/bin/sh\ntoor:x:0:0::/:/bin/sh\n"))
	if m[0] != "root" || m[1000] != "alice" || len(m) != 2 {
		t.Errorf("got %v", m)
	}
}

func TestReloadsOnChange(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "passwd")
	os.WriteFile(p, []byte("a:x:1:1::/:/bin/sh\n"), 0o644)
	db := New(p, filepath.Join(dir, "missing"))
	if n, ok := db.User(1); !ok || n != "a" {
		t.Fatalf("User(1) = %q %v", n, ok)
	}
	if _, ok := db.Group(1); ok {
		t.Error("group from a missing file")
	}
	os.WriteFile(p, []byte("b:x:1:1::/:/bin/sh\n"), 0o644)
	os.Chtimes(p, time.Now().Add(time.Minute), time.Now().Add(time.Minute))
	db.passwd.checked = time.Time{} // skip the recheck interval
	if n, _ := db.User(1); n != "b" {
		t.Errorf("after rewrite User(1) = %q", n)
	}
}
