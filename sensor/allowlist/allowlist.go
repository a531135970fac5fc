// Package allowlist reads the named exceptions for software that preloads
// on purpose (fakeroot, stdbuf, libfaketime, allocators, profilers, security
// agents) and says whether a judged library is one of them. An entry always
// names where the library lives and what vouches for its bytes (the package
// that owns it, intact, or its hash): a name alone never matches, so a file
// called libjemalloc.so in /tmp is not jemalloc.
package allowlist

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/rulesdir"
)

// Entry is one exception.
type Entry struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Reference   string   `yaml:"reference"`
	Paths       []string `yaml:"paths"`    // absolute globs over the library's path
	Packages    []string `yaml:"packages"` // owners whose intact file is allowed
	SHA256      []string `yaml:"sha256"`   // or files with exactly these bytes
	File        string   `yaml:"-"`
}

type file struct {
	Allowlist []*Entry `yaml:"allowlist"`
}

// List is the exceptions in force. It is safe for concurrent use.
type List struct {
	entries []*Entry

	// The judge hands out one Judgement per file version, so a verdict is
	// remembered per Judgement: matching globs costs more than the rest
	// of an event's facts together.
	mu    sync.Mutex
	cache map[*judge.Judgement]*Entry
}

// maxCache bounds the remembered verdicts.
const maxCache = 4096

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Entries returns every entry, built-in first.
func (l *List) Entries() []*Entry {
	if l == nil {
		return nil
	}
	return l.entries
}

// Load reads the built-in allowlists (every *.yml under builtin) and the
// user's allowlist files (read by rulesdir). Built-in errors are fatal;
// user file errors are returned with the file name beside a list that
// keeps every good entry.
func Load(builtin fs.FS, user []rulesdir.File) (*List, []error, error) {
	l := &List{}
	names := map[string]string{}
	err := fs.WalkDir(builtin, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") {
			return err
		}
		b, err := fs.ReadFile(builtin, p)
		if err != nil {
			return err
		}
		es, err := Parse(b, "builtin:"+p)
		if err == nil {
			err = l.add(es, names)
		}
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("built-in allowlists: %w", err)
	}
	var userErrs []error
	for _, f := range user {
		es, err := Parse(f.Data, f.Path)
		if err == nil {
			err = l.add(es, names)
		}
		if err != nil {
			userErrs = append(userErrs, fmt.Errorf("%s: %w", f.Path, err))
		}
	}
	return l, userErrs, nil
}

func (l *List) add(es []*Entry, names map[string]string) error {
	for _, e := range es {
		if prev, ok := names[e.Name]; ok {
			return fmt.Errorf("allowlist entry %q is already defined in %s", e.Name, prev)
		}
	}
	for _, e := range es {
		names[e.Name] = e.File
		l.entries = append(l.entries, e)
	}
	return nil
}

// Parse reads one allowlist file; name is used in errors.
func Parse(b []byte, name string) ([]*Entry, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parsing: %w", err)
	}
	var errs []error
	for i, e := range f.Allowlist {
		if e == nil {
			errs = append(errs, fmt.Errorf("allowlist[%d] is empty", i))
			continue
		}
		e.File = name
		if err := e.check(); err != nil {
			errs = append(errs, fmt.Errorf("allowlist[%d] %q: %w", i, e.Name, err))
		}
	}
	if len(f.Allowlist) == 0 {
		errs = append(errs, errors.New("allowlist is empty"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f.Allowlist, nil
}

func (e *Entry) check() error {
	var errs []error
	if e.Name == "" || e.Description == "" {
		errs = append(errs, errors.New("needs a name and a description (say why it preloads)"))
	}
	if len(e.Paths) == 0 {
		errs = append(errs, errors.New("needs paths: an entry is narrowed by where the library lives"))
	}
	for _, p := range e.Paths {
		if _, err := path.Match(p, ""); err != nil || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/*") {
			errs = append(errs, fmt.Errorf("path %q must be an absolute glob under a fixed top directory", p))
		}
	}
	if len(e.Packages) == 0 && len(e.SHA256) == 0 {
		errs = append(errs, errors.New("needs packages or sha256: a path alone does not vouch for the bytes"))
	}
	for _, h := range e.SHA256 {
		if !sha256RE.MatchString(h) {
			errs = append(errs, fmt.Errorf("sha256 %q is not 64 lowercase hex digits", h))
		}
	}
	return errors.Join(errs...)
}

// Match returns the entry that covers a judged library, or nil: the path
// must match and the bytes must be vouched for, by an owning package whose
// recorded digest they match or by a listed hash.
func (l *List) Match(j *judge.Judgement) *Entry {
	if l == nil || j == nil || !j.Exists {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.cache[j]; ok {
		return e
	}
	var found *Entry
	for _, e := range l.entries {
		if e.covers(j) {
			found = e
			break
		}
	}
	if l.cache == nil || len(l.cache) >= maxCache {
		l.cache = map[*judge.Judgement]*Entry{} // rare: a reset beats LRU bookkeeping
	}
	l.cache[j] = found
	return found
}

func (e *Entry) covers(j *judge.Judgement) bool {
	inPath := false
	for _, g := range e.Paths {
		if ok, _ := path.Match(g, j.Path); ok {
			inPath = true
			break
		}
	}
	if !inPath {
		return false
	}
	if j.Package != "" && j.Intact != nil && *j.Intact {
		for _, p := range e.Packages {
			// dpkg names multiarch packages pkg:arch.
			if pkg, _, _ := strings.Cut(j.Package, ":"); pkg == p || j.Package == p {
				return true
			}
		}
	}
	for _, h := range e.SHA256 {
		if j.SHA256 != "" && j.SHA256 == h && !j.HashTruncated {
			return true
		}
	}
	return false
}
