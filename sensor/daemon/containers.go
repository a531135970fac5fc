package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/pkgdb"
)

// maxLoaderVerdicts bounds the container loaders remembered.
const maxLoaderVerdicts = 4096

type loaderKey struct {
	dev, ino uint64
	mtime    int64
}

// containerLoaders says whether a container process's ELF interpreter is
// its own system's loader: a loader (by its soname) that the container's
// own package database installed, bytes intact. The kernel compares an
// interpreter with the host's loaders, so every process of a container
// reaches here once per loader file.
type containerLoaders struct {
	rules *rules.Set
	mu    sync.Mutex
	seen  map[loaderKey]bool
}

func newContainerLoaders(rs *rules.Set) *containerLoaders {
	return &containerLoaders{rules: rs, seen: map[loaderKey]bool{}}
}

// Is judges interp as process pid sees it, through /proc/PID/root.
func (c *containerLoaders) Is(pid uint32, interp string) bool {
	if interp == "" {
		return false
	}
	root := fmt.Sprintf("/proc/%d/root", pid)
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, interp), &st); err != nil {
		return false
	}
	k := loaderKey{dev: st.Dev, ino: st.Ino, mtime: st.Mtim.Nano()}
	c.mu.Lock()
	v, ok := c.seen[k]
	c.mu.Unlock()
	if ok {
		return v
	}
	db := &pkgdb.DB{Root: root, RPMTimeout: 5 * time.Second}
	j := judge.New(c.rules, db, root, 1).Judge(context.Background(), judge.Input{Path: interp})
	v = j.Exists && j.Package != "" && j.Intact != nil && *j.Intact && ldso.IsLoader(filepath.Join(root, interp))
	c.mu.Lock()
	if len(c.seen) >= maxLoaderVerdicts {
		clear(c.seen)
	}
	c.seen[k] = v
	c.mu.Unlock()
	return v
}
