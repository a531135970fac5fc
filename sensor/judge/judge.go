// Package judge says what a library is: its hashes, which package owns it
// and whether its bytes still match, where it lives and who can replace it,
// which credential and I/O functions it interposes, and whether it hooks the
// functions used to inspect the loader. Judgements are cached per file
// version (device, inode, size, mtime, ctime) in a bounded cache.
package judge

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hookwatch/hookwatch/internal/bounded"
	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/pkgdb"
)

// Input names a library to judge.
type Input struct {
	Path    string
	Deleted bool // the kernel saw no links left
	Memfd   bool
	// PID and the mapping's address let the judge read a deleted or
	// memory-backed file through /proc/PID/map_files while it is mapped.
	PID        uint32
	Start, End uint64
	// Dev, Ino and Version are the file as the kernel mapped it, when it
	// said (Version.Known): the cache is asked by them without a stat.
	Dev, Ino uint64
	Version  event.Version
}

// Mapped names the library of a mapping: start and end locate the live
// mapping of a deleted or memory-backed file.
func Mapped(il *event.ImageLoad, start, end uint64) Input {
	return Input{Path: il.Path, Deleted: il.Deleted, Memfd: il.Memfd, PID: il.PID, Start: start, End: end, Dev: il.Dev, Ino: il.Ino, Version: il.Version}
}

// Finding is one fact that weighs on the verdict.
type Finding struct {
	Key    string // rules.Finding*
	Text   string
	Weight int
}

// Judgement is the verdict on one file version. The judge hands out one
// per version and never changes it afterwards (others cache by it).
type Judgement struct {
	Path     string
	Location string // location class from the rules
	Err      string // why facts are missing (unreadable, not ELF, ...)

	Exists          bool
	Size            int64
	Mode            os.FileMode
	UID, GID        uint32
	NonRootWritable string // what a non-root user could write ("" if nothing)
	Overlay         bool   // on an overlay filesystem (a container layer)

	SHA256, SHA1, MD5 string
	// Hashes is the three as Sysmon writes them (SHA256=…,SHA1=…,MD5=…,
	// in capitals), which Sigma rules test: made once, not per event.
	Hashes        string `json:"-"`
	HashTruncated bool   // larger than the limit: hashes cover a prefix

	Package      string
	Manager      string
	Intact       *bool // nil when there is no recorded digest to compare
	DivertedFrom string

	ELF        bool
	Defined    []string // all defined function symbols (for overrides)
	Interposed []string // defined credential and I/O functions
	Hiding     []string // defined loader-inspection functions
	HidingStrs []string // strings naming what it hides

	Findings []Finding
}

// Score is the sum of the findings' weights.
func (j *Judgement) Score() int {
	s := 0
	for _, f := range j.Findings {
		s += f.Weight
	}
	return s
}

// Has reports whether a finding with key is present.
func (j *Judgement) Has(key string) bool {
	for _, f := range j.Findings {
		if f.Key == key {
			return true
		}
	}
	return false
}

// Judge judges libraries. It is safe for concurrent use.
type Judge struct {
	rules *rules.Set
	pkgs  *pkgdb.DB
	root  string // prefix for every path read (tests; a container's root)
	// anyDevice: files are known without their device (judges of
	// containers' roots, whose overlay mounts each have a device of their
	// own for the same lower-layer file).
	anyDevice bool
	*cache
}

// New returns a judge with a cache of max judgements. root is "/" on a
// live system; pkgs answers package questions.
func New(r *rules.Set, pkgs *pkgdb.DB, root string, max int) *Judge {
	return &Judge{rules: r, pkgs: pkgs, root: root, cache: &cache{judged: bounded.NewLRU[key, *Judgement](max)}}
}

// At returns a judge of another root (a container's) that shares jd's
// judgements: a file is known by its path, inode, size and times, which
// the containers of one image share for every file they did not change
// (overlayfs reports the lower layer's inode and times; the device is each
// mount's own, so it is left out), so a thousand containers of an image
// cost one judgement per library; a file changed in one container has
// other times, and is judged anew.
func (jd *Judge) At(root string, pkgs *pkgdb.DB) *Judge {
	return &Judge{rules: jd.rules, pkgs: pkgs, root: root, anyDevice: true, cache: jd.cache}
}

// Opens is how many files the judge has read, for tests and metrics.
func (jd *Judge) Opens() uint64 { return jd.opens.Load() }

func (jd *Judge) host(p string) string {
	if jd.root == "" || jd.root == "/" {
		return p
	}
	return filepath.Join(jd.root, p)
}

// Judge returns the judgement of a library, from the cache when the file
// has not changed.
func (jd *Judge) Judge(ctx context.Context, in Input) *Judgement {
	if j := jd.known(in); j != nil {
		return j
	}
	src, fi, err := jd.open(in)
	if err != nil {
		j := &Judgement{Path: in.Path, Err: err.Error()}
		j.Location = jd.rules.LocationClass(in.Path, in.Deleted, in.Memfd)
		return j
	}
	defer src.Close()
	st, _ := fi.Sys().(*syscall.Stat_t)
	k := key{size: fi.Size(), path: in.Path}
	if st != nil {
		k = jd.keyOf(in.Path, st)
	}
	if j, ok := jd.judged.Get(k); ok {
		return j
	}
	j := jd.judge(ctx, in, src, fi, st)
	jd.judged.Put(k, j)
	return j
}

// open opens the file: by path, or through /proc/PID/map_files when the
// kernel says it is deleted or memory-backed (the name leads nowhere then).
func (jd *Judge) open(in Input) (*os.File, os.FileInfo, error) {
	p := jd.host(in.Path)
	if in.Deleted || in.Memfd || strings.HasPrefix(in.Path, "/memfd:") {
		if in.PID == 0 || in.End == 0 {
			return nil, nil, errors.New("deleted or memory-backed, and no live mapping to read it through")
		}
		p = fmt.Sprintf("/proc/%d/map_files/%x-%x", in.PID, in.Start, in.End)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", in.Path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat %s: %w", in.Path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file", in.Path)
	}
	return f, fi, nil
}

func (jd *Judge) judge(ctx context.Context, in Input, f *os.File, fi os.FileInfo, st *syscall.Stat_t) *Judgement {
	jr := jd.rules.Judgement
	j := &Judgement{Path: in.Path, Exists: true, Size: fi.Size(), Mode: fi.Mode()}
	j.Location = jd.rules.LocationClass(in.Path, in.Deleted, in.Memfd)
	if st != nil {
		j.UID, j.GID = st.Uid, st.Gid
	}
	var errs []string
	weight := func(k string) int { return jr.Weights[k] }
	add := func(k, text string) { j.Findings = append(j.Findings, Finding{Key: k, Text: text, Weight: weight(k)}) }

	jd.opens.Add(1)
	if err := jd.hash(ctx, f, j); err != nil {
		errs = append(errs, err.Error())
	}
	if !in.Deleted && !in.Memfd {
		j.NonRootWritable = jd.nonRootWritable(in.Path, st)
		j.Overlay = onOverlay(jd.host(in.Path))
		if j.NonRootWritable != "" {
			add(rules.FindingNonRootWritable, "a non-root user can replace it: "+j.NonRootWritable)
		}
		jd.packageFacts(ctx, in.Path, j, add, &errs)
	}

	if ef, err := readELF(f, fi.Size()); err != nil {
		errs = append(errs, err.Error())
	} else {
		j.ELF = true
		j.Defined = ef.defined
		for _, s := range ef.defined {
			if rules.SymbolMatch(jr.InterposedSymbols, s) {
				j.Interposed = append(j.Interposed, s)
			}
			if rules.SymbolMatch(jr.HidingSymbols, s) {
				j.Hiding = append(j.Hiding, s)
			}
		}
		for _, hs := range jr.HidingStrings {
			if ef.hasString(hs) {
				j.HidingStrs = append(j.HidingStrs, hs)
			}
		}
		// A packaged library with its package's bytes defines what it
		// defines by design (libc defines read and readdir, and names
		// /proc/self/maps): a fact, not a finding.
		shipped := j.Intact != nil && *j.Intact
		if len(j.Interposed) > 0 && !shipped {
			add(rules.FindingInterposes, "defines "+strings.Join(j.Interposed, ", "))
		}
		if len(j.Hiding) > 0 && len(j.HidingStrs) > 0 && !shipped {
			add(rules.FindingHidesFromInspection, fmt.Sprintf("hooks %s and names %s", strings.Join(j.Hiding, ", "), strings.Join(j.HidingStrs, ", ")))
		}
	}
	j.Err = strings.Join(errs, "; ")
	return j
}

func (jd *Judge) hash(ctx context.Context, f *os.File, j *Judgement) error {
	limit := jd.rules.Judgement.MaxHashBytes
	deadline := time.Now().Add(jd.rules.Judgement.HashTimeout)
	s256, s1, m5 := sha256.New(), sha1.New(), md5.New()
	w := io.MultiWriter(s256, s1, m5)
	buf := make([]byte, 256<<10)
	var n int64
	for n < limit {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("hashing stopped after %d bytes: time limit", n)
		}
		m, err := f.ReadAt(buf[:min(int64(len(buf)), limit-n)], n)
		w.Write(buf[:m])
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading for hashes: %w", err)
		}
	}
	j.HashTruncated = n < j.Size
	j.SHA256, j.SHA1, j.MD5 = hex.EncodeToString(s256.Sum(nil)), hex.EncodeToString(s1.Sum(nil)), hex.EncodeToString(m5.Sum(nil))
	j.Hashes = strings.ToUpper("SHA256=" + j.SHA256 + ",SHA1=" + j.SHA1 + ",MD5=" + j.MD5)
	return nil
}

func (jd *Judge) packageFacts(ctx context.Context, path string, j *Judgement, add func(k, text string), errs *[]string) {
	if jd.pkgs == nil {
		return
	}
	o, err := jd.pkgs.Owner(ctx, path)
	if err != nil {
		*errs = append(*errs, err.Error())
		return
	}
	j.Manager, j.Package, j.DivertedFrom = o.Manager, o.Package, o.DivertedFrom
	if o.Package != "" && o.Digest != "" && !j.HashTruncated {
		got := j.MD5
		if o.DigestAlgo == "sha256" {
			got = j.SHA256
		} else if o.DigestAlgo == "sha1" {
			got = j.SHA1
		}
		intact := strings.EqualFold(got, o.Digest)
		j.Intact = &intact
		if intact {
			add(rules.FindingPackageIntact, "bytes match package "+o.Package)
		} else {
			add(rules.FindingPackageModified, fmt.Sprintf("bytes differ from package %s (%s %s recorded, %s now)", o.Package, o.DigestAlgo, o.Digest, got))
		}
	}
	if o.Package == "" && o.Manager != "" && j.Location == "system" {
		add(rules.FindingUnownedInSystemDir, "no package owns this file in a system library directory")
		for _, link := range jd.linksTo(path) {
			lo, err := jd.pkgs.Owner(ctx, link)
			if err == nil && lo.Package != "" {
				add(rules.FindingSymlinkRetargeted, fmt.Sprintf("%s (from package %s) now points at this unpackaged file", link, lo.Package))
			}
		}
	}
}

// linksTo lists the symlinks in path's directory that resolve to it.
func (jd *Judge) linksTo(path string) []string {
	dir := filepath.Dir(path)
	ents, err := os.ReadDir(jd.host(dir))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		l := filepath.Join(dir, e.Name())
		target, err := os.Readlink(jd.host(l))
		if err != nil {
			continue
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		if filepath.Clean(target) == path {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// nonRootWritable says what a non-root user could write to replace the file:
// the file itself, or a directory on its path (a sticky directory protects
// entries its writer does not own).
func (jd *Judge) nonRootWritable(path string, st *syscall.Stat_t) string {
	if st != nil && writableByNonRoot(st, false) {
		return path + " (owner " + strconv.Itoa(int(st.Uid)) + ", mode " + fmt.Sprintf("%04o", st.Mode&0o7777) + ")"
	}
	fileOwner := uint32(0)
	if st != nil {
		fileOwner = st.Uid
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		var ds syscall.Stat_t
		if err := syscall.Stat(jd.host(dir), &ds); err == nil && writableByNonRoot(&ds, true) {
			sticky := ds.Mode&syscall.S_ISVTX != 0
			if !sticky || fileOwner != 0 {
				return dir + "/ (mode " + fmt.Sprintf("%04o", ds.Mode&0o7777) + ")"
			}
		}
		if dir == "/" || dir == "." {
			return ""
		}
	}
}

func writableByNonRoot(st *syscall.Stat_t, dir bool) bool {
	mode := st.Mode
	return (st.Uid != 0 && mode&0o200 != 0) || (st.Gid != 0 && mode&0o020 != 0) || mode&0o002 != 0
}

const overlayMagic = 0x794c7630

func onOverlay(path string) bool {
	var s syscall.Statfs_t
	return syscall.Statfs(path, &s) == nil && s.Type == overlayMagic
}

// Overrides lists the functions of imports that the judged library defines:
// what it would interpose in a process whose executable imports them.
func Overrides(j *Judgement, imports map[string]bool) []string {
	var out []string
	for _, s := range j.Defined {
		if imports[s] {
			out = append(out, s)
		}
	}
	return out
}
