package detect

// The engine's files: where a path of the events is on this host, which
// version of it the kernel used, and what the loader would map for it.

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/ldso"
)

// version is the version of the file at path: seen when the kernel told
// it (no stat), else what the file system says now.
func (e *Engine) version(path string, seen ldso.Version) (ldso.Version, error) {
	if seen.Ctime != 0 {
		return seen, nil
	}
	return ldso.StatVersion(e.onHost(path))
}

// exeVersion is the version of an exec's executable as the kernel saw it
// (zero when the collector did not say).
func exeVersion(ex *event.Exec) ldso.Version {
	if !ex.ExeVersion.Known() {
		return ldso.Version{}
	}
	v := ex.ExeVersion
	return ldso.Version{FileID: ldso.FileID{Dev: ex.ExeDev, Ino: ex.ExeIno}, Size: v.Size, Mtime: v.Mtime, Ctime: v.Ctime}
}

// seenAs is the version the kernel told at exec (v, of the executable
// the process runs) when path is that executable, else zero: another
// file is asked.
func seenAs(path, executable string, v ldso.Version) ldso.Version {
	if path != executable {
		return ldso.Version{}
	}
	return v
}

// onHost is where a path of the events is on this host's file system.
func (e *Engine) onHost(path string) string {
	if e.cfg.Root == "" || e.cfg.Root == "/" {
		return path
	}
	return filepath.Join(e.cfg.Root, path)
}

// fromHost is a host path as the events name it (inside Root).
func (e *Engine) fromHost(path string) string {
	if e.cfg.Root == "" || e.cfg.Root == "/" {
		return path
	}
	if rel, err := filepath.Rel(e.cfg.Root, path); err == nil && !strings.HasPrefix(rel, "..") {
		return "/" + rel
	}
	return path
}

// closure returns the expected set of an executable, cached per file
// version (seen, when the kernel told it).
func (e *Engine) closure(path string, seen ldso.Version) (*ldso.Closure, error) {
	v, err := e.version(path, seen)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	k := closureKey{path: path, v: v}
	if r, ok := e.closures.Get(k); ok {
		return r.c, r.err
	}
	c, err := e.cfg.Resolver.Resolve(path)
	e.closures.Put(k, closureResult{c: c, err: err})
	return c, err
}
