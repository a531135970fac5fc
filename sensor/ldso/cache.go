// Package ldso models what the dynamic loader (glibc's ld.so) would do: read
// its cache, resolve an executable's DT_NEEDED closure in the loader's search
// order, and read the libraries named by its environment variables and its
// command line. hookwatch compares what a process really mapped against this.
package ldso

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

const (
	cacheMagicNew = "glibc-ld.so.cache1.1"
	cacheMagicOld = "ld.so-1.7.0"

	flagTypeMask   = 0x00ff
	flagELFLibc6   = 0x0003
	flagArchMask   = 0xff00
	flagX8664Lib64 = 0x0300
	flagAArch64    = 0x0a00
)

// CacheEntry is one library in ld.so.cache.
type CacheEntry struct {
	Name  string // soname, the key the loader looks up
	Path  string
	Flags int32
}

// Cache is a parsed ld.so.cache.
type Cache struct {
	byName map[string][]CacheEntry
}

// ReadCache parses the cache file at path.
func ReadCache(path string) (*Cache, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading loader cache: %w", err)
	}
	c, err := ParseCache(b)
	if err != nil {
		return nil, fmt.Errorf("loader cache %s: %w", path, err)
	}
	return c, nil
}

// ParseCache parses ld.so.cache in the new format (glibc 2.32+ writes only
// that), also when it follows an old-format header.
func ParseCache(b []byte) (*Cache, error) {
	if bytes.HasPrefix(b, []byte(cacheMagicOld)) {
		// Old header: magic, nlibs, then nlibs 12-byte entries; the new
		// format follows, 8-byte aligned.
		if len(b) < 16 {
			return nil, errors.New("truncated old-format header")
		}
		n := binary.LittleEndian.Uint32(b[12:16])
		off := uint64(16) + uint64(n)*12
		off = (off + 7) &^ 7
		if off > uint64(len(b)) {
			return nil, errors.New("old-format entries run past the end")
		}
		b = b[off:]
	}
	const hdr = 48
	if len(b) < hdr || !bytes.HasPrefix(b, []byte(cacheMagicNew)) {
		return nil, errors.New("not a glibc-ld.so.cache1.1 file")
	}
	nlibs := binary.LittleEndian.Uint32(b[20:24])
	const entSize = 24
	if uint64(nlibs)*entSize > uint64(len(b)-hdr) {
		return nil, fmt.Errorf("%d entries do not fit in %d bytes", nlibs, len(b))
	}
	c := &Cache{byName: make(map[string][]CacheEntry, nlibs)}
	for i := uint32(0); i < nlibs; i++ {
		e := b[hdr+i*entSize:]
		flags := int32(binary.LittleEndian.Uint32(e[0:4]))
		key, err1 := cstring(b, binary.LittleEndian.Uint32(e[4:8]))
		val, err2 := cstring(b, binary.LittleEndian.Uint32(e[8:12]))
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		c.byName[key] = append(c.byName[key], CacheEntry{Name: key, Path: val, Flags: flags})
	}
	return c, nil
}

// cstring reads a NUL-terminated string at off; in the new format string
// offsets count from the start of the new-format header.
func cstring(b []byte, off uint32) (string, error) {
	if uint64(off) >= uint64(len(b)) {
		return "", fmt.Errorf("string offset %d past the end", off)
	}
	end := bytes.IndexByte(b[off:], 0)
	if end < 0 {
		return "", fmt.Errorf("string at %d has no terminator", off)
	}
	return string(b[off : int(off)+end]), nil
}

// Lookup returns the paths the cache gives for a soname on machine arch
// (the arch flag bits: flagX8664Lib64, flagAArch64, or 0 for 32-bit x86).
// Several may match (glibc-hwcaps subdirectories): all are returned, the
// loader picks one by CPU features.
func (c *Cache) Lookup(name string, arch int32) []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, e := range c.byName[name] {
		if e.Flags&flagTypeMask == flagELFLibc6 && e.Flags&flagArchMask == arch {
			out = append(out, e.Path)
		}
	}
	return out
}

// Len is the number of entries.
func (c *Cache) Len() int {
	n := 0
	for _, es := range c.byName {
		n += len(es)
	}
	return n
}
