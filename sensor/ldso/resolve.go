package ldso

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// maxClosure bounds the libraries followed for one executable.
const maxClosure = 512

// Resolver resolves DT_NEEDED closures against a loader cache. It is safe
// for concurrent use.
type Resolver struct {
	cache *Cache
	// Root prefixes every path read, for tests on a made-up tree.
	root string

	mu  sync.Mutex
	elf map[string]*elfInfo // by path, parsed once
}

// NewResolver returns a resolver using cache (which may be nil: the default
// directories are still searched).
func NewResolver(cache *Cache) *Resolver {
	return &Resolver{cache: cache, elf: map[string]*elfInfo{}}
}

// NewResolverAt resolves as the loader of another root does (a container's,
// through /proc/PID/root): paths are as that root names them, files and the
// cache are read through it.
func NewResolverAt(root string, cache *Cache) *Resolver {
	return &Resolver{root: root, cache: cache, elf: map[string]*elfInfo{}}
}

type elfInfo struct {
	machine elf.Machine
	class   elf.Class
	needed  []string
	rpath   []string
	runpath []string
	interp  string
	err     error
}

// Closure is the set of libraries the loader would map for an executable.
type Closure struct {
	Interp string          // PT_INTERP
	Paths  map[string]bool // resolved paths, and their symlink-free forms
	IDs    map[FileID]bool // device and inode of each
	// Missing lists DT_NEEDED names the search did not find: the process
	// would fail to start, or finds them somewhere we do not model.
	Missing []string
}

// FileID identifies a file regardless of the name used to reach it.
type FileID struct {
	Dev, Ino uint64
}

// Contains reports whether the library at path with id is in the closure.
func (c *Closure) Contains(path string, id FileID) bool {
	if c == nil {
		return false
	}
	return c.Paths[path] || (id.Ino != 0 && c.IDs[id])
}

// Add puts a resolved library (and its symlink-free name) in the closure.
func (c *Closure) Add(path string) {
	c.Paths[path] = true
	if real, err := filepath.EvalSymlinks(path); err == nil {
		c.Paths[real] = true
	}
	if id, err := StatID(path); err == nil {
		c.IDs[id] = true
	}
}

// Resolve computes the DT_NEEDED closure of the ELF object at path, as the
// loader would search without LD_LIBRARY_PATH: DT_RPATH (when there is no
// DT_RUNPATH, inherited from the loading objects), DT_RUNPATH, the cache,
// then the default directories. An error means the object itself could not
// be read; libraries that cannot be found are listed in Missing.
func (r *Resolver) Resolve(path string) (*Closure, error) {
	root, err := r.info(path)
	if err != nil {
		return nil, err
	}
	c := &Closure{Interp: root.interp, Paths: map[string]bool{}, IDs: map[FileID]bool{}}
	if root.interp != "" {
		c.Add(root.interp)
	}
	arch := archFlag(root)
	type item struct {
		path  string
		info  *elfInfo
		rpath []string // RPATHs of the loaders, inherited down the chain
	}
	queue := []item{{path: path, info: root}}
	seen := map[string]bool{path: true}
	for len(queue) > 0 && len(seen) < maxClosure {
		it := queue[0]
		queue = queue[1:]
		inherited := it.rpath
		if len(it.info.runpath) == 0 {
			inherited = append(expandAll(it.info.rpath, it.path), it.rpath...)
		}
		for _, name := range it.info.needed {
			p := r.search(name, inherited, expandAll(it.info.runpath, it.path), arch, root)
			if p == "" {
				c.Missing = append(c.Missing, name)
				continue
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			c.Add(p)
			info, err := r.info(p)
			if err != nil {
				continue
			}
			queue = append(queue, item{path: p, info: info, rpath: inherited})
		}
	}
	return c, nil
}

// search finds a DT_NEEDED name the way ld.so does (minus LD_LIBRARY_PATH).
func (r *Resolver) search(name string, rpath, runpath []string, arch int32, want *elfInfo) string {
	if strings.Contains(name, "/") {
		return name
	}
	try := func(dirs []string) string {
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if info, err := r.info(p); err == nil && compatible(info, want) {
				return p
			}
		}
		return ""
	}
	if len(runpath) == 0 {
		if p := try(rpath); p != "" {
			return p
		}
	}
	if p := try(runpath); p != "" {
		return p
	}
	for _, p := range r.cache.Lookup(name, arch) {
		if info, err := r.info(p); err == nil && compatible(info, want) {
			return p
		}
	}
	return try(defaultDirs(want))
}

func compatible(a, b *elfInfo) bool { return a.machine == b.machine && a.class == b.class }

func archFlag(info *elfInfo) int32 {
	switch {
	case info.machine == elf.EM_X86_64:
		return flagX8664Lib64
	case info.machine == elf.EM_AARCH64:
		return flagAArch64
	}
	return 0
}

// defaultDirs are glibc's built-in directories, multiarch first as Debian
// builds it.
func defaultDirs(info *elfInfo) []string {
	switch info.machine {
	case elf.EM_X86_64:
		return []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}
	case elf.EM_AARCH64:
		return []string{"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}
	}
	return []string{"/lib", "/usr/lib"}
}

// expandAll expands $ORIGIN in search paths of the object at path.
func expandAll(dirs []string, path string) []string {
	if len(dirs) == 0 {
		return nil
	}
	origin := filepath.Dir(path)
	out := make([]string, 0, len(dirs))
	for _, d := range dirs {
		d = strings.ReplaceAll(d, "${ORIGIN}", origin)
		d = strings.ReplaceAll(d, "$ORIGIN", origin)
		out = append(out, d)
	}
	return out
}

func (r *Resolver) info(path string) (*elfInfo, error) {
	r.mu.Lock()
	info, ok := r.elf[path]
	r.mu.Unlock()
	if !ok {
		info = readELF(filepath.Join(r.root, path))
		r.mu.Lock()
		r.elf[path] = info
		r.mu.Unlock()
	}
	return info, info.err
}

func readELF(path string) *elfInfo {
	f, err := elf.Open(path)
	if err != nil {
		return &elfInfo{err: fmt.Errorf("reading ELF %s: %w", path, err)}
	}
	defer f.Close()
	info := &elfInfo{machine: f.Machine, class: f.Class}
	info.needed, _ = f.DynString(elf.DT_NEEDED)
	info.rpath = splitPath(f, elf.DT_RPATH)
	info.runpath = splitPath(f, elf.DT_RUNPATH)
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				info.interp = strings.TrimRight(string(b), "\x00")
			}
		}
	}
	return info
}

func splitPath(f *elf.File, tag elf.DynTag) []string {
	vals, _ := f.DynString(tag)
	var out []string
	for _, v := range vals {
		for _, d := range strings.Split(v, ":") {
			if d != "" {
				out = append(out, d)
			}
		}
	}
	return out
}

// Version is one version of a file: its identity, size and times. A file
// rewritten in place (cp over it, patchelf) keeps its device and inode
// but not its times.
type Version struct {
	FileID
	Size, Mtime, Ctime int64
}

// StatVersion returns the version of the file at path, following symlinks:
// what a verdict on the file's bytes is remembered by.
func StatVersion(path string) (Version, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Version{}, err
	}
	return fileVersion(fi), nil
}

// StatID returns the device and inode of a path, following symlinks.
func StatID(path string) (FileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return FileID{}, err
	}
	return fileID(fi), nil
}

// Find resolves a library name without a slash as the loader resolves an
// LD_PRELOAD entry for the executable at exe: through dirs (the
// LD_LIBRARY_PATH of the exec), the cache, then the default directories,
// taking the first file of exe's architecture. It returns "" when nothing
// is found or exe cannot be read.
func (r *Resolver) Find(name, exe string, dirs []string) string {
	want, err := r.info(exe)
	if err != nil || strings.Contains(name, "/") {
		return ""
	}
	return r.search(name, nil, dirs, archFlag(want), want)
}
