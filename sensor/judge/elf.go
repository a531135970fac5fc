package judge

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
)

// maxELFRead bounds the bytes read for string search (.rodata, .data).
const maxELFRead = 64 << 20

type elfFacts struct {
	defined []string
	strs    [][]byte // read-only data sections, for hasString
}

func (e *elfFacts) hasString(s string) bool {
	for _, d := range e.strs {
		if bytes.Contains(d, []byte(s)) {
			return true
		}
	}
	return false
}

// readELF reads the defined function symbols of the dynamic symbol table and
// the read-only data. Hostile files give an error, never a panic: debug/elf
// is defensive, and a recover guards what it misses.
func readELF(r io.ReaderAt, size int64) (facts *elfFacts, err error) {
	defer func() {
		if p := recover(); p != nil {
			facts, err = nil, fmt.Errorf("malformed ELF: %v", p)
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("not an ELF object: %w", err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil && err != elf.ErrNoSymbols {
		return nil, fmt.Errorf("reading dynamic symbols: %w", err)
	}
	facts = &elfFacts{}
	seen := map[string]bool{}
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF || elf.ST_TYPE(s.Info) != elf.STT_FUNC {
			continue
		}
		if b := elf.ST_BIND(s.Info); b != elf.STB_GLOBAL && b != elf.STB_WEAK {
			continue
		}
		if !seen[s.Name] {
			seen[s.Name] = true
			facts.defined = append(facts.defined, s.Name)
		}
	}
	sort.Strings(facts.defined)
	var budget int64 = maxELFRead
	for _, sec := range f.Sections {
		if sec.Name != ".rodata" && sec.Name != ".data" {
			continue
		}
		if sec.Type == elf.SHT_NOBITS || int64(sec.Size) > budget || int64(sec.Offset)+int64(sec.Size) > size {
			continue
		}
		b, err := sec.Data()
		if err == nil {
			budget -= int64(len(b))
			facts.strs = append(facts.strs, b)
		}
	}
	return facts, nil
}

// Imports caches the undefined function symbols of executables: what a
// preloaded library could override in them.
type Imports struct {
	mu sync.Mutex
	m  map[string]map[string]bool
}

// NewImports returns an empty cache.
func NewImports() *Imports { return &Imports{m: map[string]map[string]bool{}} }

// Of returns the imported functions of the ELF file at path.
func (im *Imports) Of(path string) (map[string]bool, error) {
	im.mu.Lock()
	if v, ok := im.m[path]; ok {
		im.mu.Unlock()
		return v, nil
	}
	im.mu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	syms, err := ef.DynamicSymbols()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]bool{}
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF && s.Name != "" && elf.ST_TYPE(s.Info) != elf.STT_OBJECT {
			out[s.Name] = true
		}
	}
	im.mu.Lock()
	if len(im.m) > 1024 {
		clear(im.m)
	}
	im.m[path] = out
	im.mu.Unlock()
	return out, nil
}
