package audit

// Watched processes: their execs, the libraries they open (from audit's
// own records) and map (from /proc), and what is remembered of them.

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/procfs"
)

// watchedProc is what the collector remembers of a watched process.
type watchedProc struct {
	start uint64          // start time as the exec record gave it (0: unknown)
	seen  map[string]bool // libraries reported
	gone  time.Time       // when /proc no longer had it
}

// Watch marks a running process as watched: its mappings are read.
func (c *Collector) Watch(pid uint32, _ event.Watch) error {
	c.watchedEntry(pid, 0)
	return nil
}

// watchedEntry returns pid's entry, creating it with start when missing.
func (c *Collector) watchedEntry(pid uint32, start uint64) *watchedProc {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.watched[pid]
	if w == nil {
		w = &watchedProc{start: start, seen: map[string]bool{}}
		c.watched[pid] = w
	}
	return w
}

// firstReport tells whether path is new for pid (and remembers it).
func (c *Collector) firstReport(pid uint32, path string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.watched[pid]
	if w == nil {
		w = &watchedProc{seen: map[string]bool{}}
		c.watched[pid] = w
	}
	if w.seen[path] {
		return false
	}
	w.seen[path] = true
	return true
}

// forgetGone drops the processes that exited more than goneGrace ago.
func (c *Collector) forgetGone(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for pid, w := range c.watched {
		if !w.gone.IsZero() && now.Sub(w.gone) > goneGrace {
			delete(c.watched, pid)
		}
	}
}

func atou(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

func loginUID(s string) uint32 {
	if s == "unset" || s == "" {
		return ^uint32(0)
	}
	return atou(s)
}

// ticksToNs converts /proc's start time (USER_HZ, 100 everywhere) to the
// kernel records' nanoseconds since boot.
const ticksToNs = 1e9 / 100

// proc is the process a syscall record describes; start is its start time
// in ns since boot (0 when unknown).
func proc(sc map[string]string, when time.Time, start uint64) event.Proc {
	pid := atou(sc["pid"])
	return event.Proc{
		Time: when, StartTime: start, PID: pid, TID: pid, PPID: atou(sc["ppid"]),
		UID: atou(sc["uid"]), GID: atou(sc["gid"]), EUID: atou(sc["euid"]), EGID: atou(sc["egid"]),
		LoginUID: loginUID(sc["auid"]), Comm: sc["comm"],
	}
}

func (c *Collector) exec(h event.Handler, sc, exe map[string]string, when time.Time) {
	c.execs.Add(1)
	pid := atou(sc["pid"])
	argc, _ := strconv.Atoi(exe["argc"])
	var args []string
	for i := 0; i < argc && i < 4096; i++ {
		args = append(args, exe["a"+strconv.Itoa(i)])
	}
	watch := c.watchOf(sc)
	// The environment is not in the audit record: read it now, racing
	// the process (counted when lost). A process that already exited reads
	// as gone, or as a zombie whose environment is empty.
	env, err := c.cfg.Proc.Environ(pid)
	st, serr := c.cfg.Proc.Stat(pid)
	if err == nil && len(env) == 0 && (serr != nil || st.State == 'Z') {
		err = errors.New("exited before its environment was read")
	}
	var loader []string
	for _, kv := range env {
		n, _, _ := strings.Cut(kv, "=")
		for _, v := range c.cfg.LoaderVars {
			if n == v {
				loader = append(loader, kv)
			}
		}
	}
	if len(loader) > 0 {
		watch |= event.WatchLoaderEnv
	}
	if err != nil {
		c.raceLost.Add(1)
	}
	if watch == 0 {
		return // not ours to watch: the kernel side would not have sent it
	}
	var start uint64
	if serr == nil {
		start = st.StartTicks * ticksToNs
	}
	ev := &event.Exec{Proc: proc(sc, when, start), Watch: watch, Executable: sc["exe"], Args: args, LoaderEnv: loader}
	if err != nil {
		ev.EnvUnreadable = true
	}
	c.delivered.Add(1)
	h.Exec(ev)
	// A new image: forget what the previous one of this pid loaded.
	c.mu.Lock()
	c.watched[pid] = &watchedProc{start: start, seen: map[string]bool{}}
	c.mu.Unlock()
	c.scanLater(h, pid)
}

// watchOf is why a record's process is watched: a credential program or
// the loader, by executable or comm.
func (c *Collector) watchOf(sc map[string]string) event.Watch {
	var w event.Watch
	base := filepath.Base(sc["exe"])
	if names := *c.names.Load(); names[base] || names[sc["comm"]] {
		w |= event.WatchCredential
	}
	for _, l := range c.cfg.LoaderNames {
		if base == l {
			w |= event.WatchLoader
		}
	}
	return w
}

// opened reports a library a watched program opened the loader's way.
// The record was written before the open returned, so this holds even for
// a process that is long gone: no /proc read is needed to know the file.
func (c *Collector) opened(h event.Handler, sc map[string]string, paths []map[string]string, cwd string, when time.Time) {
	var rec map[string]string
	for _, p := range paths {
		if p["nametype"] == "NORMAL" {
			rec = p
		}
	}
	if rec == nil || rec["name"] == "" {
		return
	}
	// Only regular files can be libraries; never open a FIFO or device
	// to find out.
	if mode, err := strconv.ParseUint(rec["mode"], 8, 32); err != nil || mode&syscall.S_IFMT != syscall.S_IFREG {
		return
	}
	name := rec["name"]
	if !strings.HasPrefix(name, "/") && cwd != "" {
		name = filepath.Join(cwd, name)
	}
	// The loader opens libraries by the names it searched (a symlink such
	// as libz.so.1, a merged-/usr alias); the mapping, and the eBPF
	// collector, name the file itself.
	if real, err := filepath.EvalSymlinks(name); err == nil {
		name = real
	}
	if !sharedObject(name) {
		return
	}
	pid := atou(sc["pid"])
	w := c.watchedEntry(pid, 0)
	if !c.firstReport(pid, name) {
		return
	}
	ino, _ := strconv.ParseUint(rec["inode"], 10, 64)
	c.maps.Add(1)
	h.ImageLoad(&event.ImageLoad{
		Proc: proc(sc, when, w.start), Watch: c.watchOf(sc) | event.WatchUserspace,
		Path: name, Dev: procfs.ParseDev(rec["dev"]), Ino: ino,
	})
}

// sharedObject tells an ELF shared object (or position-independent
// executable) from the other files a program opens read-only.
func sharedObject(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	var hdr [18]byte
	if n, _ := f.ReadAt(hdr[:], 0); n < len(hdr) {
		return false
	}
	if string(hdr[:4]) != "\x7fELF" {
		return false
	}
	var typ uint16
	if hdr[5] == 2 { // big-endian
		typ = uint16(hdr[16])<<8 | uint16(hdr[17])
	} else {
		typ = uint16(hdr[17])<<8 | uint16(hdr[16])
	}
	return typ == 3 // ET_DYN
}

// scanLater reads a watched process's mappings a few times after an exec or
// attach: the loader maps libraries after the exec record is written.
func (c *Collector) scanLater(h event.Handler, pid uint32) {
	go func() {
		for _, d := range []time.Duration{20 * time.Millisecond, 200 * time.Millisecond, time.Second} {
			time.Sleep(d)
			if !c.scan(h, pid) {
				return
			}
		}
	}()
}

// scan reports executable file mappings not reported yet; false when the
// process is gone.
func (c *Collector) scan(h event.Handler, pid uint32) bool {
	maps, err := c.cfg.Proc.Maps(pid)
	if err != nil {
		// Gone: forgotten a little later, as records about it may still
		// be on their way.
		c.mu.Lock()
		if w := c.watched[pid]; w != nil && w.gone.IsZero() {
			w.gone = time.Now()
		}
		c.mu.Unlock()
		return false
	}
	st, _ := c.cfg.Proc.Stat(pid)
	for _, m := range maps {
		if !m.Executable() || !strings.HasPrefix(m.Path, "/") || !c.firstReport(pid, m.Path) {
			continue
		}
		c.maps.Add(1)
		h.ImageLoad(&event.ImageLoad{
			Proc: event.Proc{Time: time.Now(), StartTime: st.StartTicks * ticksToNs, PID: pid, TID: pid, PPID: st.PPID,
				UID: st.UID, EUID: st.EUID, GID: st.GID, EGID: st.EGID, Comm: st.Comm},
			Watch: event.WatchUserspace, Path: m.Path, Ino: m.Inode, Addr: m.Start,
			Deleted: m.Deleted, Memfd: strings.HasPrefix(m.Path, "/memfd:"),
		})
	}
	return true
}
