// Package proctable keeps what hookwatch knows of processes it has seen:
// identity, executable, command line, user, the loader variables it started
// with, and the libraries judged so far. It is bounded: the least recently
// used process is forgotten first.
package proctable

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"

	"github.com/hookwatch/hookwatch/internal/bounded"
	"github.com/hookwatch/hookwatch/sensor/container"
)

// Process is the context kept for one process.
type Process struct {
	PID        uint32
	PPID       uint32
	StartTicks uint64 // clock ticks since boot, as /proc/PID/stat
	Start      time.Time
	EntityID   string

	Executable    string
	Name          string // comm, or the executable's base name
	Args          []string
	ArgsTruncated bool
	UID, EUID     uint32
	GID, EGID     uint32
	LoaderEnv     []string
	Credential    bool // a credential program, or forked from one
	// Container is the container it runs in (zero: the host), and Cgroup
	// the cgroup path the kernel named at exec.
	Container container.Container
	Cgroup    string
	// Root is the root directory of a process chrooted elsewhere than
	// hookwatch, as a host path ("": hookwatch's own), and RootKey its
	// identity: its paths are within it, and its files are judged there.
	Root, RootKey string

	// Vouched lists the libraries of a vouched loader variable (the
	// agent's verdict at exec): their mappings are in its summary, not
	// documents of their own.
	Vouched []string

	cmdline string // CommandLine, once asked
}

// CommandLine is the arguments joined by spaces, joined once: every event
// and document of the process, and of its children, names it.
func (p *Process) CommandLine() string {
	if p.cmdline == "" && len(p.Args) > 0 {
		p.cmdline = strings.Join(p.Args, " ")
	}
	return p.cmdline
}

// EntityID is a process identity unique on this host across pid reuse: a
// hash of the host id, the pid and the start time.
func EntityID(hostID string, pid uint32, startTicks uint64) string {
	h := sha256.New()
	h.Write([]byte(hostID))
	var b [12]byte
	binary.LittleEndian.PutUint32(b[0:4], pid)
	binary.LittleEndian.PutUint64(b[4:12], startTicks)
	h.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:15])
}

// Table is a bounded, concurrency-safe map of processes by pid: the least
// recently used go beyond its size.
type Table struct {
	procs *bounded.LRU[uint32, *Process]
}

// New returns a table holding at most max processes.
func New(max int) *Table {
	return &Table{procs: bounded.NewLRU[uint32, *Process](max)}
}

// Get returns the process with pid, if known.
func (t *Table) Get(pid uint32) (*Process, bool) { return t.procs.Get(pid) }

// Put stores p, replacing any process with the same pid (a new image after
// exec, or a reused pid).
func (t *Table) Put(p *Process) { t.procs.Put(p.PID, p) }

// Len is the number of processes held.
func (t *Table) Len() int { return t.procs.Len() }
