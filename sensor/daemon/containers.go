package daemon

import (
	"context"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hookwatch/hookwatch/internal/bounded"
	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/pkgdb"
)

// maxLoaderVerdicts bounds the container loaders remembered.
const maxLoaderVerdicts = 4096

// loaderKey is a loader file by identity: the containers of one image
// share it (overlayfs reports the lower layer's device and inode, and a
// file changed in a container has other times).
type loaderKey struct {
	dev, ino     uint64
	mtime, ctime int64
}

// containerLoaders says whether a container process's ELF interpreter is
// its own system's loader. The kernel compares an interpreter with the
// host's loaders, so every process of a container comes here: a loader by
// name in a system library directory of the container is its loader,
// unless the container's own package database, read through the process's
// root (opened while one of its processes lived, and kept), says its
// bytes are not what the package shipped. A root that could not be opened
// (docker run --rm IMAGE true, gone at once) is judged by the path alone;
// the verdict of a judged one is kept per loader file.
type containerLoaders struct {
	rules *rules.Set
	seen  *bounded.Map[loaderKey, bool]
}

func newContainerLoaders(rs *rules.Set) *containerLoaders {
	return &containerLoaders{rules: rs, seen: bounded.New[loaderKey, bool](maxLoaderVerdicts)}
}

// Is says whether interp, in the root directory root (a container's or a
// chroot's, as a path to open its files through), is that root's own
// system loader.
func (c *containerLoaders) Is(root, interp string) bool {
	if interp == "" || !c.rules.IsLoader(filepath.Base(interp)) || c.rules.LocationClass(interp, false, false) != "system" {
		return false // an odd interpreter in a container is odd too (OrBit)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, interp), &st); err != nil {
		return true // gone: the path is all there is
	}
	k := loaderKey{dev: st.Dev, ino: st.Ino, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
	v, ok := c.seen.Get(k)
	if ok {
		return v
	}
	db := &pkgdb.DB{Root: root, RPMTimeout: 5 * time.Second}
	j := judge.New(c.rules, db, root, 1).Judge(context.Background(), judge.Input{Path: interp})
	if !j.Exists || j.Manager == "" {
		return true // unreadable, or no package database in the image (distroless)
	}
	v = j.Package != "" && j.Intact != nil && *j.Intact && ldso.IsLoader(filepath.Join(root, interp))
	c.seen.Put(k, v)
	return v
}
