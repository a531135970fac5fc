// Package users names user and group ids from /etc/passwd and /etc/group.
// hookwatch is built static (no cgo, no NSS: an NSS module is itself a
// library an attacker could hook), so it reads the files directly; ids that
// only a network directory knows stay numeric.
package users

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// recheck is how often the files' modification times are looked at.
const recheck = 5 * time.Second

// DB maps ids to names, reloading a file when it changes.
type DB struct {
	passwd, group table
}

// New returns a DB over the given files (normally /etc/passwd, /etc/group).
func New(passwd, group string) *DB {
	return &DB{passwd: table{path: passwd}, group: table{path: group}}
}

// User names a uid; ok is false when no name is known.
func (d *DB) User(uid uint32) (string, bool) { return d.passwd.name(uid) }

// Group names a gid; ok is false when no name is known.
func (d *DB) Group(gid uint32) (string, bool) { return d.group.name(gid) }

type table struct {
	path    string
	mu      sync.Mutex
	checked time.Time
	mtime   time.Time
	names   map[uint32]string
}

func (t *table) name(id uint32) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now := time.Now(); now.Sub(t.checked) > recheck {
		t.checked = now
		if fi, err := os.Stat(t.path); err == nil && !fi.ModTime().Equal(t.mtime) {
			if b, err := os.ReadFile(t.path); err == nil {
				t.names, t.mtime = Parse(b), fi.ModTime()
			}
		}
	}
	n, ok := t.names[id]
	return n, ok
}

// Parse reads name:x:id:... lines (passwd and group share the first three
// fields). Malformed lines are skipped; the first name for an id wins, as
// getpwuid does.
func Parse(b []byte) map[uint32]string {
	out := map[uint32]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ":", 4)
		if len(f) < 3 || f[0] == "" || strings.HasPrefix(f[0], "#") {
			continue
		}
		id, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := out[uint32(id)]; !dup {
			out[uint32(id)] = f[0]
		}
	}
	return out
}
