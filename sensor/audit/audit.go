// Package audit is hookwatch's fallback collector for hosts where eBPF
// cannot load: it asks the kernel audit subsystem (through go-libaudit) for
// every exec, for writes to the loader's configuration and for ptrace
// attaches, and turns what it reports into the sensor's events. For the
// credential programs and the loader it also asks for the files they open
// the way the loader opens a library: audit writes that record before the
// open returns, so a library preloaded into a short-lived ssh is seen even
// when the process is gone before anything can look at it. What audit does
// not carry it reads from /proc at once — a loader variable from
// /proc/PID/environ, a library mapped another way from /proc/PID/maps — and
// a process that is gone by then is counted, not hidden.
package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/auparse"
	"github.com/elastic/go-libaudit/v2/rule"
	"github.com/elastic/go-libaudit/v2/rule/flags"
	"github.com/sirupsen/logrus"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/procfs"
)

// Key tags every audit rule hookwatch adds, so it removes only its own.
const Key = "hookwatch"

// LibKey tags the rules for library opens by watched programs, so their
// records are told from a write to a watched configuration file (also an
// open, under Key).
const LibKey = Key + "-lib"

// loaderOpenFlags is how the loader (and dlopen) opens a library:
// open_verify's O_RDONLY|O_CLOEXEC. Filtering on it in the kernel keeps the
// records to libraries and a few other read-only opens.
const loaderOpenFlags = "0x80000"

// goneGrace is how long a watched process that has exited is remembered:
// its records may still be on their way through the stream.
const goneGrace = 5 * time.Second

// Config is what the collector needs.
type Config struct {
	CredentialPrograms []string
	LoaderNames        []string
	LoaderVars         []string
	// ConfigPaths are watched for writes (the loader's configuration).
	ConfigPaths []string
	// WatchedOnly audits the execs of the credential programs and the
	// loader only (by path), not every exec: cheaper, but a loader
	// variable on any other program goes unseen.
	WatchedOnly bool
	Proc        procfs.FS
	// LockWait is how long New waits for another hookwatch to let go of
	// the audit collector before it fails with ErrInUse.
	LockWait time.Duration
}

// Collector reads the kernel audit stream.
type Collector struct {
	cfg     Config
	log     logrus.FieldLogger
	control *libaudit.AuditClient
	recv    *libaudit.AuditClient
	shared  bool // auditd owns the socket: we listen on the multicast group
	names   atomic.Pointer[map[string]bool]
	lockFD  int // the instance lock, held until Close

	mu      sync.Mutex
	watched map[uint32]*watchedProc

	// Counters.
	execs, delivered, maps, files atomic.Uint64
	raceLost, seqLost             atomic.Uint64
	kernelLost0                   uint32
	kernelLost                    atomic.Uint64
}

// watchedProc is what the collector remembers of a watched process.
type watchedProc struct {
	start uint64          // start time as the exec record gave it (0: unknown)
	seen  map[string]bool // libraries reported
	gone  time.Time       // when /proc no longer had it
}

// New checks the audit subsystem, removes rules a crashed hookwatch left,
// and installs its own.
func New(cfg Config, log logrus.FieldLogger) (*Collector, error) {
	lock, err := instanceLock(cfg.LockWait)
	if err != nil {
		return nil, err
	}
	control, err := libaudit.NewAuditClient(nil)
	if err != nil {
		syscall.Close(lock)
		return nil, fmt.Errorf("audit netlink socket: %w", err)
	}
	c := &Collector{cfg: cfg, log: log, control: control, lockFD: lock, watched: map[uint32]*watchedProc{}}
	fail := func(err error) (*Collector, error) {
		control.Close()
		syscall.Close(lock)
		return nil, err
	}
	c.SetNames(cfg.CredentialPrograms, cfg.LoaderNames)
	status, err := control.GetStatus()
	if err != nil {
		return fail(fmt.Errorf("audit status: %w", err))
	}
	c.kernelLost0 = status.Lost
	if status.Enabled == 0 {
		if err := control.SetEnabled(true, libaudit.WaitForReply); err != nil {
			return fail(fmt.Errorf("enabling audit: %w", err))
		}
	}
	if _, err := c.removeOurRules(); err != nil {
		return fail(err)
	}
	if err := c.addRules(); err != nil {
		c.removeOurRules()
		return fail(err)
	}
	// Be a good citizen: if auditd owns the stream, listen alongside it
	// on the multicast group instead of taking the stream away.
	if status.PID != 0 && int(status.PID) != os.Getpid() && alive(int(status.PID)) {
		c.shared = true
		c.recv, err = libaudit.NewMulticastAuditClient(nil)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("audit multicast socket: %w", err)
		}
		log.WithField("auditd_pid", status.PID).Info("audit: reading through the multicast group alongside auditd")
	} else {
		// A socket of its own for the stream, so closing it to stop
		// reading leaves the control socket free to remove our rules.
		if c.recv, err = libaudit.NewAuditClient(nil); err != nil {
			c.Close()
			return nil, fmt.Errorf("audit netlink socket: %w", err)
		}
		if err := c.recv.SetPID(libaudit.WaitForReply); err != nil {
			c.Close()
			return nil, fmt.Errorf("registering as the audit reader: %w", err)
		}
		// Nobody else tuned the backlog: the kernel's default (64) drops
		// records in an exec storm.
		if status.BacklogLimit < 8192 {
			if err := control.SetBacklogLimit(8192, libaudit.WaitForReply); err != nil {
				log.WithError(err).Warn("audit: cannot raise the backlog limit")
			}
		}
	}
	return c, nil
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// setRecvTimeout sets SO_RCVTIMEO on the client's netlink socket.
// go-libaudit does not expose the descriptor, so it is read from its
// netlink client by reflection (read only; nothing is changed through it).
func setRecvTimeout(c *libaudit.AuditClient, d time.Duration) error {
	v := reflect.ValueOf(c.Netlink)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return errors.New("audit: unexpected netlink client type")
	}
	f := v.Elem().FieldByName("fd")
	if !f.IsValid() || f.Kind() != reflect.Int {
		return errors.New("audit: netlink client has no descriptor field")
	}
	tv := syscall.NsecToTimeval(d.Nanoseconds())
	if err := syscall.SetsockoptTimeval(int(f.Int()), syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("audit: setting the read timeout: %w", err)
	}
	return nil
}

// watchedExecutables are the installed credential programs and loaders,
// by real path: audit's exe filter compares the file, not its name.
func (c *Collector) watchedExecutables() []string {
	var out []string
	seen := map[string]bool{}
	for _, name := range append(append([]string{}, c.cfg.CredentialPrograms...), c.cfg.LoaderNames...) {
		for _, dir := range rules.ProgramDirs {
			p, err := filepath.EvalSymlinks(filepath.Join(dir, name))
			if err != nil || seen[p] {
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// rules are hookwatch's audit rules, all tagged with Key or LibKey.
func (c *Collector) rules() []string {
	var rs []string
	exes := c.watchedExecutables()
	if c.cfg.WatchedOnly {
		for _, p := range exes {
			rs = append(rs, "-a always,exit -F arch=b64 -S execve,execveat -F exe="+p+" -k "+Key)
		}
	} else {
		rs = append(rs, "-a always,exit -F arch=b64 -S execve,execveat -k "+Key)
	}
	// The libraries a watched program opens, race-free: one record per
	// successful loader-style open, by the watched executables only.
	for _, p := range exes {
		rs = append(rs, "-a always,exit -F arch=b64 -S openat -F a2="+loaderOpenFlags+" -F success=1 -F exe="+p+" -k "+LibKey)
	}
	rs = append(rs,
		"-a always,exit -F arch=b64 -S ptrace -F a0=0x10 -k "+Key,   // PTRACE_ATTACH
		"-a always,exit -F arch=b64 -S ptrace -F a0=0x4206 -k "+Key, // PTRACE_SEIZE
	)
	for _, p := range c.cfg.ConfigPaths {
		rs = append(rs, "-w "+p+" -p wa -k "+Key)
	}
	return rs
}

func (c *Collector) addRules() error {
	for _, text := range c.rules() {
		r, err := flags.Parse(text)
		if err != nil {
			return fmt.Errorf("audit rule %q: %w", text, err)
		}
		wire, err := rule.Build(r)
		if err != nil {
			return fmt.Errorf("audit rule %q: %w", text, err)
		}
		if err := c.control.AddRule(wire); err != nil && !strings.Contains(err.Error(), "exist") {
			return fmt.Errorf("adding audit rule %q: %w", text, err)
		}
	}
	return nil
}

// removeOurRules deletes the rules tagged with Key, and only those: the
// admin's rules and their order stay.
func (c *Collector) removeOurRules() (int, error) {
	rules, err := c.control.GetRules()
	if err != nil {
		return 0, fmt.Errorf("listing audit rules: %w", err)
	}
	n := 0
	for _, wire := range rules {
		text, err := rule.ToCommandLine(wire, false)
		if err != nil || !isOurs(text) {
			continue
		}
		if err := c.control.DeleteRule(wire); err != nil {
			return n, fmt.Errorf("removing audit rule %q: %w", text, err)
		}
		n++
	}
	return n, nil
}

// isOurs tells hookwatch's rules (key Key or LibKey) from anyone else's,
// including an admin's key that merely starts with "hookwatch".
func isOurs(ruleText string) bool {
	for _, f := range strings.Fields(ruleText) {
		for _, k := range []string{Key, LibKey} {
			if f == "key="+k || f == k {
				return true
			}
		}
	}
	return false
}

// SetNames replaces the credential program and loader names.
func (c *Collector) SetNames(credential, loaders []string) error {
	m := map[string]bool{}
	for _, n := range append(append([]string{}, credential...), loaders...) {
		m[n] = true
	}
	c.names.Store(&m)
	return nil
}

// SetWatchedFiles is the eBPF collector's: audit watches paths instead.
func (c *Collector) SetWatchedFiles(files, dirs []event.FileID) error { return nil }

// Watch marks a running process as watched: its mappings are read.
func (c *Collector) Watch(pid uint32) error {
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

// Close removes hookwatch's rules and lets the audit stream go.
func (c *Collector) Close() error {
	_, err := c.removeOurRules()
	if c.recv != nil {
		c.recv.Close()
	}
	err = errors.Join(err, c.control.Close())
	syscall.Close(c.lockFD)
	return err
}

// Stats maps audit's counters onto the sensor's: kernel-side losses are the
// audit backlog's lost count and sequence gaps; records seen are execs.
func (c *Collector) Stats() (event.Stats, uint64, error) {
	if st, err := c.control.GetStatus(); err == nil && st.Lost >= c.kernelLost0 {
		c.kernelLost.Store(uint64(st.Lost - c.kernelLost0))
	}
	return event.Stats{
		Execs: c.execs.Load(), ExecEvents: c.delivered.Load(), MapEvents: c.maps.Load(), FileEvents: c.files.Load(),
		LostExec: c.kernelLost.Load() + c.seqLost.Load(),
	}, 0, nil
}

// RaceLost is how many watched processes were gone before /proc could be
// read: their loader variables or libraries are unknown.
func (c *Collector) RaceLost() uint64 { return c.raceLost.Load() }

// Run reads the audit stream until ctx is done.
func (c *Collector) Run(ctx context.Context, h event.Handler) error {
	st := &stream{c: c, h: h}
	re, err := libaudit.NewReassembler(512, 2*time.Second, st)
	if err != nil {
		return fmt.Errorf("audit reassembler: %w", err)
	}
	defer re.Close()
	// Closing a socket does not wake a thread blocked reading it: read
	// with a timeout instead, and look at ctx between reads.
	if err := setRecvTimeout(c.recv, 500*time.Millisecond); err != nil {
		return err
	}
	// Timed-out events are evicted from this goroutine too, never from
	// another: a process's records are then handled in the order audit
	// wrote them (its exec before the libraries it opened).
	lastMaintain := time.Now()
	for {
		if ctx.Err() != nil {
			return nil
		}
		if now := time.Now(); now.Sub(lastMaintain) >= 500*time.Millisecond {
			lastMaintain = now
			re.Maintain()
			c.forgetGone(now)
		}
		msg, err := c.recv.Receive(false)
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			if errors.Is(err, syscall.ENOBUFS) {
				// The socket overflowed: records were lost.
				c.seqLost.Add(1)
				continue
			}
			return fmt.Errorf("audit receive: %w", err)
		}
		if msg.Type < auparse.AUDIT_USER_AUTH || msg.Type > auparse.AUDIT_LAST_USER_MSG2 {
			continue
		}
		re.Push(msg.Type, msg.Data)
	}
}

type stream struct {
	c *Collector
	h event.Handler
}

func (s *stream) EventsLost(n int) {
	// The first sequence number seen can look like a wrap-around: a gap
	// wider than the kernel's backlog is not a loss.
	if n > 0 && n < 1<<20 {
		s.c.seqLost.Add(uint64(n))
	}
}

func (s *stream) ReassemblyComplete(msgs []*auparse.AuditMessage) {
	var sc, exe map[string]string
	var paths []map[string]string
	var cwd string
	var when time.Time
	var key string
	for _, m := range msgs {
		d, err := m.Data()
		if err != nil {
			continue
		}
		when = m.Timestamp
		switch m.RecordType {
		case auparse.AUDIT_SYSCALL:
			sc = d
			// auparse moves the rule key into the tags.
			tags, _ := m.Tags()
			for _, t := range tags {
				if t == Key || t == LibKey {
					key = t
				}
			}
		case auparse.AUDIT_EXECVE:
			exe = d
		case auparse.AUDIT_PATH:
			paths = append(paths, d)
		case auparse.AUDIT_CWD:
			cwd = d["cwd"]
		}
	}
	if sc == nil || key == "" {
		return
	}
	switch name := sc["syscall"]; {
	case key == LibKey:
		s.c.opened(s.h, sc, paths, cwd, when)
	case name == "execve" || name == "execveat":
		// auparse turns success=yes into result=success.
		if sc["result"] == "success" && exe != nil {
			s.c.exec(s.h, sc, exe, when)
		}
	case name == "ptrace":
		// An attach is often an injection on its way: look at the
		// target's mappings now and again shortly.
		if pid, err := strconv.ParseUint(sc["a1"], 16, 32); err == nil {
			s.c.Watch(uint32(pid))
			s.c.scanLater(s.h, uint32(pid))
		}
	default:
		s.c.fileOp(s.h, name, sc, paths, cwd, when)
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

func (c *Collector) fileOp(h event.Handler, name string, sc map[string]string, paths []map[string]string, cwd string, when time.Time) {
	abs := func(p string) string {
		if p != "" && !strings.HasPrefix(p, "/") && cwd != "" {
			return filepath.Join(cwd, p)
		}
		return p
	}
	var created, deleted, normal string
	for _, p := range paths {
		switch p["nametype"] {
		case "CREATE":
			created = abs(p["name"])
		case "DELETE":
			deleted = abs(p["name"])
		case "NORMAL":
			normal = abs(p["name"])
		}
	}
	op := &event.FileOp{Proc: proc(sc, when, 0), Ancestors: c.ancestors(atou(sc["ppid"]))}
	switch {
	case strings.HasPrefix(name, "rename"):
		op.Op, op.Path, op.Path2 = "rename", deleted, created
	case strings.HasPrefix(name, "unlink"):
		op.Op, op.Path = "unlink", deleted
	case strings.HasPrefix(name, "link"):
		op.Op, op.Path, op.Path2 = "link", normal, created
	case strings.HasPrefix(name, "symlink"):
		op.Op, op.Path2 = "symlink", created
	case strings.HasPrefix(name, "truncate"):
		op.Op, op.Path = "truncate", normal
	default:
		op.Op = "open-write"
		op.Path = normal
		if created != "" {
			op.Path = created
		}
	}
	if op.Path == "" && op.Path2 == "" {
		return
	}
	if fi, err := os.Stat(op.Path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			op.Dev, op.Ino = st.Dev, st.Ino
		}
	}
	c.files.Add(1)
	h.FileOp(op)
}

// ancestors are the comms of the parent chain, read from /proc.
func (c *Collector) ancestors(ppid uint32) []string {
	var out []string
	for i := 0; i < 4 && ppid > 1; i++ {
		st, err := c.cfg.Proc.Stat(ppid)
		if err != nil {
			break
		}
		out = append(out, st.Comm)
		ppid = st.PPID
	}
	return out
}
