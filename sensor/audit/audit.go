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
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/auparse"
	"github.com/sirupsen/logrus"

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
	// accessSeen: the accesses reported already (access.go).
	accessSeen map[accessKey]bool

	// Counters.
	execs, delivered, maps, files atomic.Uint64
	raceLost, seqLost             atomic.Uint64
	kernelLost0                   uint32
	kernelLost                    atomic.Uint64
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
		// records in an exec storm. Each library a credential program opens
		// is an event too, and every exec on a busy host (a build) is
		// audited: the backlog holds bursts the reader is late for (kernel
		// memory only while it is used).
		if status.BacklogLimit < backlogLimit {
			if err := control.SetBacklogLimit(backlogLimit, libaudit.WaitForReply); err != nil {
				log.WithError(err).Warn("audit: cannot raise the backlog limit")
			}
		}
	}
	return c, nil
}

// backlogLimit is the audit backlog hookwatch asks for when it is the
// reader.
const backlogLimit = 65536

// recvBufferBytes is the receive buffer of the stream socket: bursts wait
// there rather than in the kernel's backlog.
const recvBufferBytes = 8 << 20

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// tuneRecv sets the read timeout (SO_RCVTIMEO) and a larger receive
// buffer on the client's netlink socket.
// go-libaudit does not expose the descriptor, so it is read from its
// netlink client by reflection (read only; nothing is changed through it).
func tuneRecv(c *libaudit.AuditClient, d time.Duration) error {
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
	// A larger receive buffer than the default (net.core.rmem_default):
	// past it, multicast records are dropped (ENOBUFS) and unicast ones
	// wait in the backlog. FORCE ignores rmem_max; it needs CAP_NET_ADMIN,
	// and the plain option is the fallback.
	if err := syscall.SetsockoptInt(int(f.Int()), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, recvBufferBytes); err != nil {
		syscall.SetsockoptInt(int(f.Int()), syscall.SOL_SOCKET, syscall.SO_RCVBUF, recvBufferBytes)
	}
	return nil
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
	if err := tuneRecv(c.recv, 500*time.Millisecond); err != nil {
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
			s.c.Watch(uint32(pid), 0)
			s.c.scanLater(s.h, uint32(pid))
		}
		s.c.access(s.h, name, sc, when)
	case name == "process_vm_readv" || name == "process_vm_writev":
		s.c.access(s.h, name, sc, when)
	default:
		s.c.fileOp(s.h, name, sc, paths, cwd, when)
	}
}
