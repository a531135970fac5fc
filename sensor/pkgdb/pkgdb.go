// Package pkgdb answers which installed package owns a file and what digest
// the package recorded for it: from dpkg's database (read directly) or, on
// RPM systems, from the rpm command (run out of the hot path, with a
// timeout). Lookups scan the database on demand instead of holding an index
// of every packaged path in memory; callers cache answers per file. A
// Bloom filter of the listed paths (170 KiB for 130,000), made by reading
// every list once (Warm, at start), answers for a file no package owns,
// the attacker's kind, without a scan.
package pkgdb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Ownership is what the package database says of one path.
type Ownership struct {
	Manager string // "dpkg" or "rpm"; "" when no database was found
	Package string // "" when no package owns the path
	// ListedAs is the name the package lists, which may differ from the
	// path asked for on merged-/usr systems (/lib vs /usr/lib).
	ListedAs string
	// Digest is the recorded digest of the file ("" when none), and
	// DigestAlgo its algorithm: "md5" (dpkg), "sha256" or "md5" (rpm).
	Digest, DigestAlgo string
	// DivertedFrom is set when dpkg-divert moved another package's file
	// to this path.
	DivertedFrom string
}

// DB is a package database rooted at Root ("/" on a live system; tests use
// a made-up tree).
type DB struct {
	Root string
	// RPMTimeout bounds each rpm command.
	RPMTimeout time.Duration

	mu sync.Mutex
	// lists are the names of dpkg's .list files, read again when the info
	// directory changes (a package installed or removed).
	lists      []string
	listsMtime time.Time
	// dirOwner remembers which package owned the last file found in a
	// directory: files of one directory mostly come from one package
	// (every PAM module from libpam-modules), so its list is read first.
	dirOwner map[string]string

	// filterMu serialises making the filter: a lookup while Warm reads
	// the lists waits for it rather than reading them again.
	filterMu sync.Mutex
	// listed is every path the lists as of filterOf name (nil when one of
	// them could not be read whole; made again when they change).
	listed   *pathFilter
	filterOf time.Time
	filtered bool
}

// maxDirOwners bounds dirOwner: a simple reset when full.
const maxDirOwners = 4096

// New returns the live system's database.
func New() *DB { return &DB{Root: "/", RPMTimeout: 5 * time.Second} }

func (db *DB) dpkgDir() string { return filepath.Join(db.Root, "var/lib/dpkg") }

// Owner looks path up.
func (db *DB) Owner(ctx context.Context, path string) (Ownership, error) {
	if fi, err := os.Stat(filepath.Join(db.dpkgDir(), "info")); err == nil && fi.IsDir() {
		return db.dpkgOwner(path)
	}
	if _, err := exec.LookPath("rpm"); err == nil {
		if _, err := os.Stat(filepath.Join(db.Root, "var/lib/rpm")); err == nil {
			return db.rpmOwner(ctx, path)
		}
	}
	return Ownership{}, nil
}

// Aliases are the names a path may be listed under: on merged-/usr systems
// /lib, /bin, /sbin, /lib64 and /lib32 are links into /usr, and packages
// list either form.
func Aliases(path string) []string {
	out := []string{path}
	for _, pair := range [][2]string{
		{"/usr/lib/", "/lib/"}, {"/usr/lib64/", "/lib64/"}, {"/usr/lib32/", "/lib32/"},
		{"/usr/bin/", "/bin/"}, {"/usr/sbin/", "/sbin/"},
	} {
		if rest, ok := strings.CutPrefix(path, pair[0]); ok {
			out = append(out, pair[1]+rest)
		} else if rest, ok := strings.CutPrefix(path, pair[1]); ok {
			out = append(out, pair[0]+rest)
		}
	}
	return out
}

func (db *DB) dpkgOwner(path string) (Ownership, error) {
	o := Ownership{Manager: "dpkg"}
	div, err := db.diversions()
	if err != nil {
		return o, err
	}
	// A diverted file lives under its new name but belongs to the package
	// that shipped the original.
	lookup := path
	for _, a := range Aliases(path) {
		if orig, ok := div[a]; ok {
			o.DivertedFrom = orig
			lookup = orig
			break
		}
	}
	lists, mtime, err := db.listFiles()
	if err != nil {
		return o, err
	}
	needles := Aliases(lookup)
	dir := filepath.Dir(lookup)
	db.mu.Lock()
	guess := db.dirOwner[dir]
	db.mu.Unlock()
	if f := db.filter(lists, mtime); f != nil && !slices.ContainsFunc(needles, f.mayHave) {
		return o, nil // in no list: no need to read them all
	}
	lists = likelyFirst(lists, guess, filepath.Base(lookup))
	buf := make([]byte, 64<<10) // one buffer for every list: no file is held whole
	for _, l := range lists {
		n, ok := fileHasLine(l, needles, buf)
		if !ok {
			continue
		}
		o.Package = strings.TrimSuffix(filepath.Base(l), ".list")
		db.mu.Lock()
		if db.dirOwner == nil || len(db.dirOwner) >= maxDirOwners {
			db.dirOwner = map[string]string{}
		}
		db.dirOwner[dir] = o.Package
		db.mu.Unlock()
		o.ListedAs = n
		o.Digest, err = db.dpkgDigest(o.Package, n)
		if o.Digest != "" {
			o.DigestAlgo = "md5"
		}
		return o, err
	}
	return o, nil
}

// Warm makes the filter of listed paths now, so that the first lookup
// does not read every list in the agent's path. For a goroutine at start;
// on a system without dpkg it does nothing.
func (db *DB) Warm() {
	if lists, mtime, err := db.listFiles(); err == nil {
		db.filter(lists, mtime)
	}
}

// filter is the filter of the paths the lists (as of mtime) name, made by
// reading them all when first asked for, and again when they change. A
// list that cannot be read whole leaves none (it would deny that list's
// files) until the lists change: lookups then scan.
func (db *DB) filter(lists []string, mtime time.Time) *pathFilter {
	db.filterMu.Lock()
	defer db.filterMu.Unlock()
	if db.filtered && db.filterOf.Equal(mtime) {
		return db.listed
	}
	db.listed, db.filterOf, db.filtered = nil, mtime, true
	seed := maphash.MakeSeed()
	var hashes []uint64
	buf := make([]byte, 64<<10)
	for _, l := range lists {
		err := eachLine(l, buf, func(line []byte) bool {
			hashes = append(hashes, maphash.Bytes(seed, line))
			return true
		})
		if err != nil {
			return nil
		}
	}
	db.listed = newPathFilter(hashes, seed)
	return db.listed
}

// likelyFirst orders the lists to read the likely owners of a file first:
// the package that owned the last file found in its directory (guess),
// then the packages whose name holds the file's stem (libc6 for
// libc.so.6, openssh-client for ssh). The full scan still decides; the
// order only spares reading most lists before the owner's.
func likelyFirst(lists []string, guess, base string) []string {
	stem, _, _ := strings.Cut(base, ".")
	if len(stem) < 3 {
		stem = ""
	}
	out := make([]string, 0, len(lists))
	var rest []string
	for _, l := range lists {
		name := strings.TrimSuffix(filepath.Base(l), ".list")
		switch {
		case name == guess:
			out = append([]string{l}, out...)
		case stem != "" && strings.Contains(name, stem):
			out = append(out, l)
		default:
			rest = append(rest, l)
		}
	}
	return append(out, rest...)
}

// listFiles are dpkg's .list files, listed again only when the info
// directory's modification time changes (returned: the filter of listed
// paths is made again then).
func (db *DB) listFiles() ([]string, time.Time, error) {
	info := filepath.Join(db.dpkgDir(), "info")
	fi, err := os.Stat(info)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading dpkg database: %w", err)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.lists != nil && fi.ModTime().Equal(db.listsMtime) {
		return db.lists, db.listsMtime, nil
	}
	lists, err := filepath.Glob(filepath.Join(info, "*.list"))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("listing dpkg database: %w", err)
	}
	db.lists, db.listsMtime = lists, fi.ModTime()
	return lists, db.listsMtime, nil
}

// fileHasLine reports which of needles is a whole line of the file (a list
// being rewritten by dpkg right now reads as not having it).
func fileHasLine(path string, needles []string, buf []byte) (string, bool) {
	found := ""
	eachLine(path, buf, func(line []byte) bool {
		for _, n := range needles {
			if len(line) == len(n) && string(line) == n {
				found = n
				return false
			}
		}
		return true
	})
	return found, found != ""
}

// eachLine calls fn with each line of the file until fn returns false;
// the error says the file was not read whole.
func eachLine(path string, buf []byte, fn func(line []byte) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(buf, len(buf))
	for sc.Scan() {
		if !fn(sc.Bytes()) {
			return nil
		}
	}
	return sc.Err()
}

// pathFilter is a Bloom filter of the paths dpkg's lists name: "no" is
// sure, "maybe" (about one in a hundred for an unlisted path) means
// reading the lists. At ten bits a path it is about 170 KiB for Debian's
// 130,000 paths, where the paths themselves are 7 MiB.
type pathFilter struct {
	bits []uint64
	seed maphash.Seed
}

const filterHashes = 7

func newPathFilter(hashes []uint64, seed maphash.Seed) *pathFilter {
	words := 1
	for words*64 < len(hashes)*10 {
		words *= 2
	}
	f := &pathFilter{bits: make([]uint64, words), seed: seed}
	for _, h := range hashes {
		f.each(h, func(w int, bit uint64) { f.bits[w] |= bit })
	}
	return f
}

// each calls fn with the word and bit of each of the hash's probes
// (double hashing: one 64-bit hash makes them all).
func (f *pathFilter) each(h uint64, fn func(w int, bit uint64)) {
	mask := uint64(len(f.bits)*64 - 1)
	h1, h2 := h, h>>32|h<<32|1
	for i := uint64(0); i < filterHashes; i++ {
		b := (h1 + i*h2) & mask
		fn(int(b/64), 1<<(b%64))
	}
}

func (f *pathFilter) mayHave(path string) bool {
	all := true
	f.each(maphash.String(f.seed, path), func(w int, bit uint64) { all = all && f.bits[w]&bit != 0 })
	return all
}

func (db *DB) dpkgDigest(pkg, listed string) (string, error) {
	b, err := os.ReadFile(filepath.Join(db.dpkgDir(), "info", pkg+".md5sums"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil // packages without md5sums exist (and conffiles are elsewhere)
	}
	if err != nil {
		return "", fmt.Errorf("reading %s.md5sums: %w", pkg, err)
	}
	sums, err := ParseMD5Sums(b)
	if err != nil {
		return "", fmt.Errorf("%s.md5sums: %w", pkg, err)
	}
	return sums[strings.TrimPrefix(listed, "/")], nil
}

// ParseMD5Sums parses a dpkg .md5sums file: "HEX  path" per line, paths
// without the leading slash.
func ParseMD5Sums(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" {
			continue
		}
		sum, path, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 32 || !isHex(sum) || path == "" {
			return nil, fmt.Errorf("line %d: not \"md5  path\"", n)
		}
		out[path] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return out, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// diversions maps each diverted-to path to the original path.
func (db *DB) diversions() (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(db.dpkgDir(), "diversions"))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading dpkg diversions: %w", err)
	}
	return ParseDiversions(b)
}

// ParseDiversions parses dpkg's diversions file: triples of lines
// (original, diverted-to, package).
func ParseDiversions(b []byte) (map[string]string, error) {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return map[string]string{}, nil
	}
	if len(lines)%3 != 0 {
		return nil, fmt.Errorf("diversions: %d lines, not triples", len(lines))
	}
	out := make(map[string]string, len(lines)/3)
	for i := 0; i+2 < len(lines); i += 3 {
		out[lines[i+1]] = lines[i]
	}
	return out, nil
}

func (db *DB) rpmOwner(ctx context.Context, path string) (Ownership, error) {
	o := Ownership{Manager: "rpm"}
	ctx, cancel := context.WithTimeout(ctx, db.RPMTimeout)
	defer cancel()
	args := []string{"-q", "--qf", "%{NAME}\\t%{FILEDIGESTALGO}\\n[%{FILENAMES}\\t%{FILEDIGESTS}\\n]", "-f", path}
	if db.Root != "/" && db.Root != "" {
		args = append([]string{"--root", db.Root}, args...)
	}
	out, err := exec.CommandContext(ctx, "rpm", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ctx.Err() == nil {
			return o, nil // not owned by any package
		}
		return o, fmt.Errorf("rpm -qf %s: %w", path, err)
	}
	return parseRPM(o, out, Aliases(path)), nil
}

func parseRPM(o Ownership, out []byte, names []string) Ownership {
	lines := strings.Split(string(out), "\n")
	if len(lines) == 0 {
		return o
	}
	name, algo, _ := strings.Cut(lines[0], "\t")
	o.Package = name
	// RPM's digest algorithm numbers (PGPHASHALGO_*): 1 md5, 8 sha256.
	switch n, _ := strconv.Atoi(algo); n {
	case 0, 1:
		o.DigestAlgo = "md5"
	case 8:
		o.DigestAlgo = "sha256"
	case 2:
		o.DigestAlgo = "sha1"
	}
	for _, l := range lines[1:] {
		f, d, ok := strings.Cut(l, "\t")
		if !ok {
			continue
		}
		for _, n := range names {
			if f == n {
				o.ListedAs, o.Digest = f, d
				return o
			}
		}
	}
	return o
}
