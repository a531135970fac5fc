package judge

// The judgements remembered, by file identity.

import (
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/hookwatch/hookwatch/internal/bounded"
)

// cache holds judgements by file identity; judges of other roots may share
// it (At).
type cache struct {
	judged *bounded.LRU[key, *Judgement]
	opens  atomic.Uint64 // files opened for hashing, for tests and stats
}

type key struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
	path         string
}

// keyOf is a file's identity in the cache.
func (jd *Judge) keyOf(path string, st *syscall.Stat_t) key {
	k := key{size: st.Size, path: path, dev: st.Dev, ino: st.Ino, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
	if jd.anyDevice {
		k.dev = 0
	}
	return k
}

// known is the cached judgement of a file named by a path that still
// leads to the same file (device, inode, size, times), found with one
// stat and no open: on a storm of the same library in every exec, opening
// each to ask its identity was a tenth of the agent's CPU. When the
// kernel told the version it mapped, not even the stat. A file the cache
// does not know, and a deleted or memory-backed one, is opened.
func (jd *Judge) known(in Input) *Judgement {
	if in.Deleted || in.Memfd || strings.HasPrefix(in.Path, "/memfd:") {
		return nil
	}
	if v := in.Version; v.Known() {
		// The version the kernel mapped: no stat, and the judgement of
		// that version even if the path names another file by now.
		k := key{dev: in.Dev, ino: in.Ino, size: v.Size, mtime: v.Mtime, ctime: v.Ctime, path: in.Path}
		if jd.anyDevice {
			k.dev = 0
		}
		if j, ok := jd.judged.Get(k); ok {
			return j
		}
	}
	var st syscall.Stat_t
	if syscall.Stat(jd.host(in.Path), &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil
	}
	j, _ := jd.judged.Get(jd.keyOf(in.Path, &st))
	return j
}
