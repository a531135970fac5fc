package loaderconf

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/sirupsen/logrus"

	"github.com/hookwatch/hookwatch/internal/bounded"
	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/ldso"
)

const (
	// debounce folds a burst of changes to one file into one report: a
	// file replaced thousands of times a second yields a few changes, each
	// with the count it stands for.
	debounce = 150 * time.Millisecond
	// attributionWindow is how far back a kernel report may explain a change.
	attributionWindow = 10 * time.Second
	maxOps            = 4096
	maxDiffLines      = 64
)

// Change is one observed change to a loader configuration file.
type Change struct {
	Time        time.Time
	Path        string
	Kind        string // preload, ldconf, cache, environment, unit
	Type        string // creation, change, deletion, rename
	RenamedFrom string // creation by rename: the old name
	RenamedTo   string // rename: the new name
	Startup     bool   // found by the startup sweep

	Exists    bool
	Size      int64
	Ino, Dev  uint64
	SHA256    string
	Content   []byte // at most max_file_bytes
	Truncated bool   // the file is larger than what was read

	CacheEntries   int         // ld.so.cache: libraries it indexes
	Items          []ldso.Item // what the file names now
	ItemsTruncated bool
	Added, Removed []ldso.Item
	AddedLines     []string
	RemovedLines   []string

	// Writer is the kernel's report of the process that made the change,
	// nil when none was seen (a change made before hookwatch started, or
	// through a path the kernel filter does not match). Writers counts the
	// distinct processes that touched the file within the window.
	Writer    *event.FileOp
	Writers   int
	Coalesced int // file system notifications this change stands for
}

// KernelFiles is the collector side of the watch: which files (by inode)
// and directories the kernel reports writes to.
type KernelFiles interface {
	SetWatchedFiles(files, dirs []event.FileID) error
}

// Watcher watches the configured files and directories.
type Watcher struct {
	conf   rules.LoaderConf
	log    logrus.FieldLogger
	emit   func(*Change)
	kernel KernelFiles
	fsw    *fsnotify.Watcher
	// inflight counts scheduled and running settles, so Run returns only
	// when no change can be emitted any more.
	inflight sync.WaitGroup

	mu      sync.Mutex
	ops     []*event.FileOp
	state   map[string]*fileState
	pending map[string]*pending
}

type fileState struct {
	exists  bool
	ino     uint64
	content []byte
	items   []ldso.Item
}

type pending struct {
	count int
	timer *time.Timer
}

// New returns a watcher for conf; kernel may be nil. Watching starts now,
// so nothing falls between New and Run.
func New(conf rules.LoaderConf, kernel KernelFiles, log logrus.FieldLogger) (*Watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("starting inotify: %w", err)
	}
	w := &Watcher{conf: conf, log: log, kernel: kernel, fsw: fsw,
		state: map[string]*fileState{}, pending: map[string]*pending{}}
	for _, d := range w.watchDirs() {
		if err := fsw.Add(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.WithError(err).WithField("dir", d).Warn("cannot watch directory")
		}
	}
	return w, nil
}

// watchDirs is every directory to watch: parents of the files, the
// directories, and (recursive ones) their subdirectories.
func (w *Watcher) watchDirs() []string {
	seen := map[string]bool{}
	var out []string
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, f := range w.conf.Files {
		add(filepath.Dir(f.Path))
	}
	for _, d := range w.conf.Directories {
		// A directory that does not exist yet (no systemd, no /run/systemd)
		// is watched through its nearest existing ancestor until it does.
		anc := d.Path
		for {
			if _, err := os.Stat(anc); err == nil || anc == "/" {
				break
			}
			anc = filepath.Dir(anc)
		}
		add(anc)
		if d.Recursive {
			filepath.WalkDir(d.Path, func(p string, e fs.DirEntry, err error) error {
				if err == nil && e.IsDir() {
					add(p)
				}
				return nil
			})
		}
	}
	return out
}

// kindOf says whether path is watched configuration, and its kind.
func (w *Watcher) kindOf(path string) (string, bool) {
	for _, f := range w.conf.Files {
		if f.Path == path {
			return f.Kind, true
		}
	}
	for _, d := range w.conf.Directories {
		dir := filepath.Dir(path)
		if dir == d.Path || (d.Recursive && strings.HasPrefix(dir, d.Path+"/")) {
			return d.Kind, true
		}
	}
	return "", false
}

// Sweep reads every watched file as it is now. It returns a change for
// each file that names something the loader would act on (a preload list, a
// loader variable): planted before hookwatch started, it is reported now.
func (w *Watcher) Sweep() []*Change {
	var out []*Change
	paths := w.currentPaths()
	for _, p := range paths {
		kind, _ := w.kindOf(p)
		c := w.read(p, kind)
		c.Startup, c.Type = true, "creation"
		w.mu.Lock()
		w.state[p] = &fileState{exists: c.Exists, ino: c.Ino, content: c.Content, items: c.Items}
		w.mu.Unlock()
		if c.Exists && len(c.Items) > 0 && kind != "ldconf" && kind != "cache" {
			c.Added = c.Items
			out = append(out, c)
		}
	}
	w.updateKernel()
	return out
}

// currentPaths lists the watched files that exist and the files in the
// watched directories.
func (w *Watcher) currentPaths() []string {
	var out []string
	for _, f := range w.conf.Files {
		if _, err := os.Lstat(f.Path); err == nil {
			out = append(out, f.Path)
		}
	}
	for _, d := range w.conf.Directories {
		filepath.WalkDir(d.Path, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				if err == nil && p != d.Path && !d.Recursive {
					return filepath.SkipDir
				}
				return nil
			}
			out = append(out, p)
			return nil
		})
	}
	sort.Strings(out)
	return out
}

// updateKernel tells the collector which inodes and directories to watch.
func (w *Watcher) updateKernel() {
	if w.kernel == nil {
		return
	}
	var files, dirs []event.FileID
	for _, f := range w.conf.Files {
		if id, ok := statID(f.Path); ok {
			files = append(files, id)
		}
	}
	for _, d := range w.watchDirs() {
		if id, ok := statID(d); ok {
			dirs = append(dirs, id)
		}
	}
	if err := w.kernel.SetWatchedFiles(files, dirs); err != nil {
		w.log.WithError(err).Warn("updating the kernel's watched files")
	}
}

func statID(p string) (event.FileID, bool) {
	var st syscall.Stat_t
	if syscall.Stat(p, &st) != nil {
		return event.FileID{}, false
	}
	return event.FileID{Dev: st.Dev, Ino: st.Ino}, true
}

// Run watches until ctx is done, handing each change to emit (from the
// watcher's own goroutines). When it returns, emit is not called again.
func (w *Watcher) Run(ctx context.Context, emit func(*Change)) error {
	w.emit = emit
	defer w.fsw.Close()
	for {
		select {
		case <-ctx.Done():
			w.mu.Lock()
			for path, p := range w.pending {
				if p.timer.Stop() {
					w.inflight.Done()
				}
				delete(w.pending, path)
			}
			w.mu.Unlock()
			w.inflight.Wait()
			return nil
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return nil
			}
			// An overflowed inotify queue loses events, not state: the
			// next change to a file is still diffed against what we knew.
			w.log.WithError(err).Warn("inotify")
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return nil
			}
			w.notify(ev)
		}
	}
}

func (w *Watcher) notify(ev fsnotify.Event) {
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			w.newDir(ev.Name)
			return
		}
	}
	kind, ok := w.kindOf(ev.Name)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.pending[ev.Name]; p != nil {
		p.count++
		return
	}
	path := ev.Name
	w.inflight.Add(1)
	w.pending[path] = &pending{count: 1, timer: time.AfterFunc(debounce, func() {
		defer w.inflight.Done()
		w.settle(path, kind)
	})}
}

// newDir handles a directory that appeared: a watched directory (or one on
// the way to it, or below a recursive one) gets a watch, and files written
// before the watch was in place (mkdir and write in one breath) are read.
func (w *Watcher) newDir(dir string) {
	relevant := false
	for _, d := range w.conf.Directories {
		if dir == d.Path || strings.HasPrefix(d.Path, dir+"/") || (d.Recursive && strings.HasPrefix(dir, d.Path+"/")) {
			relevant = true
		}
	}
	if !relevant {
		return
	}
	for _, d := range w.watchDirs() {
		if d == dir || strings.HasPrefix(d, dir+"/") {
			w.fsw.Add(d)
		}
	}
	w.updateKernel()
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if e.IsDir() && p != dir {
			w.fsw.Add(p)
		}
		if !e.IsDir() {
			w.notify(fsnotify.Event{Name: p, Op: fsnotify.Create})
		}
		return nil
	})
}

// settle reads a file after a burst of notifications and reports the change.
func (w *Watcher) settle(path, kind string) {
	w.mu.Lock()
	n := 0
	if p := w.pending[path]; p != nil {
		n = p.count
	}
	delete(w.pending, path)
	prev := w.state[path]
	w.mu.Unlock()
	if prev == nil {
		prev = &fileState{}
	}

	c := w.read(path, kind)
	c.Coalesced = n
	switch {
	case !c.Exists && !prev.exists:
		return
	case !c.Exists:
		c.Type = "deletion"
	case !prev.exists:
		c.Type = "creation"
	default:
		if string(c.Content) == string(prev.content) && c.Ino == prev.ino {
			return // metadata only
		}
		c.Type = "change"
	}
	c.Added, c.Removed = diffItems(prev.items, c.Items)
	c.AddedLines, c.RemovedLines = diffLines(prev.content, c.Content)
	w.attribute(c, prev.ino)

	w.mu.Lock()
	w.state[path] = &fileState{exists: c.Exists, ino: c.Ino, content: c.Content, items: c.Items}
	w.mu.Unlock()
	w.updateKernel()
	w.emit(c)
}

// read reads a file's current content, bounded.
func (w *Watcher) read(path, kind string) *Change {
	c := &Change{Time: time.Now(), Path: path, Kind: kind}
	f, err := os.Open(path)
	if err != nil {
		return c
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return c
	}
	c.Exists, c.Size = true, fi.Size()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		c.Ino, c.Dev = st.Ino, st.Dev
	}
	max := w.conf.MaxFileBytes
	if max <= 0 {
		max = 1 << 20
	}
	c.Content, _ = io.ReadAll(io.LimitReader(f, max))
	c.Truncated = int64(len(c.Content)) < c.Size
	sum := sha256.Sum256(c.Content)
	c.SHA256 = hex.EncodeToString(sum[:])
	if kind == "cache" {
		if cache, err := ldso.ParseCache(c.Content); err == nil {
			c.CacheEntries = cache.Len()
		}
		c.Content = nil // binary: its entries, not its bytes, are the news
		return c
	}
	parsed := Parse(kind, path, c.Content)
	c.Items, c.ItemsTruncated = parsed.Items, parsed.Truncated
	for _, ef := range parsed.EnvFiles {
		// A unit's environment file sets the service's variables too.
		b, err := bounded.ReadFile(ef, max)
		if err != nil {
			continue
		}
		c.Items = append(c.Items, ParseEnvironment(ef, b).Items...)
	}
	return c
}
