// Package event is hookwatch's collector-neutral model of what the kernel
// reported: process starts that matter (Exec) and files mapped executable into
// watched processes (ImageLoad). Collectors (eBPF today, audit later) produce
// these; the agent enriches and judges them.
package event

import "time"

// Watch records why the kernel watches a process.
type Watch uint8

// Watch reasons, as the kernel side sets them.
const (
	WatchCredential Watch = 1 << iota // a credential program, by name
	WatchLoader                       // the dynamic loader run directly
	WatchLoaderEnv                    // exec'd with a loader variable
	WatchInherited                    // forked from a watched process
	WatchUserspace                    // marked by the agent (startup sweep)
)

// Proc is what the kernel knows of the process at the time of a record, so an
// event stays meaningful after the process is gone.
type Proc struct {
	Time      time.Time // wall-clock time of the record
	StartTime uint64    // process start, ns since boot: with PID, a unique identity
	PID       uint32    // process id (thread group id)
	TID       uint32    // thread id
	PPID      uint32
	UID       uint32
	GID       uint32
	EUID      uint32
	EGID      uint32
	LoginUID  uint32 // audit login uid; 0xffffffff when unset
	Comm      string
}

// Version is a file's size and times (ns) as the kernel saw its inode,
// which with its device and inode is what the agent knows a file version
// by: told, it need not stat the path again, and judges the file the
// kernel used rather than whatever the path names by then. Zero times
// when the collector could not tell (the audit fallback, the sweep).
type Version struct{ Size, Mtime, Ctime int64 }

// Known reports whether the collector told the version.
func (v Version) Known() bool { return v.Ctime != 0 }

// Exec is a process start the kernel chose to deliver: a watched program, the
// loader run directly, or any program exec'd with a loader variable.
type Exec struct {
	Proc
	Watch      Watch
	Executable string // absolute path of the new image, resolved in the kernel
	ExeDev     uint64 // userspace dev_t encoding
	ExeIno     uint64
	ExeVersion Version
	Args       []string
	// LoaderEnv holds only the environment strings whose names matched the
	// configured loader variables ("LD_PRELOAD=/tmp/x.so"), never the rest
	// of the environment: it may hold secrets.
	LoaderEnv []string

	ArgsTruncated      bool // argv longer than the kernel keeps
	EnvTruncated       bool // environment too large to scan in the kernel
	LoaderEnvTruncated bool // a matching string cut, or too many matches
	PathTruncated      bool
	EnvUnreadable      bool // the kernel could not read the environment
	FromSweep          bool // found by the startup sweep, not seen at exec

	// Interpreter is the ELF interpreter when it is not one of the system's
	// loaders (OddInterpreter), as OrBit-style malware arranges.
	Interpreter    string
	OddInterpreter bool
	// LoaderLike is set for a position-independent executable with no
	// interpreter: static-pie, or a copy of the loader under another name.
	LoaderLike bool
	// Traced is set when a watched program was exec'd under ptrace: a
	// debugger or tracer started it.
	Traced bool
	// OtherRoot is set when the process's root directory is not
	// hookwatch's (a chroot): its files are judged in its own root, the
	// directory RootDev, RootIno (userspace dev_t encoding).
	OtherRoot        bool
	RootDev, RootIno uint64
	// Cgroup is the process's cgroup path as the kernel named it at exec
	// ("/docker/<id>"; the last levels only): its container.
	Cgroup string
}

// AccessOp is what one process did to another's memory or execution.
type AccessOp string

// Access operations: ptrace requests, process_vm_*, /proc/PID/mem opens.
const (
	AccessAttach     AccessOp = "ptrace-attach"
	AccessSeize      AccessOp = "ptrace-seize"
	AccessPeek       AccessOp = "ptrace-peek"    // memory or registers read
	AccessPoke       AccessOp = "ptrace-poke"    // memory written
	AccessSetRegs    AccessOp = "ptrace-setregs" // registers changed
	AccessVMRead     AccessOp = "vm-read"        // process_vm_readv
	AccessVMWrite    AccessOp = "vm-write"       // process_vm_writev
	AccessMemRead    AccessOp = "mem-read"       // /proc/PID/mem opened read-only
	AccessMemWrite   AccessOp = "mem-write"      // /proc/PID/mem opened for writing
	AccessTracedExec AccessOp = "traced-exec"    // the program exec'd under the caller's ptrace
)

// Class is read, write or attach: what the operation lets the caller do.
func (o AccessOp) Class() string {
	switch o {
	case AccessPoke, AccessSetRegs, AccessVMWrite, AccessMemWrite:
		return "write"
	case AccessPeek, AccessVMRead, AccessMemRead:
		return "read"
	}
	return "attach"
}

// Access is a process reaching into a watched (credential) process: the
// caller is Proc, the process it named is the target.
type Access struct {
	Proc
	Executable string   // the caller's executable, resolved in the kernel
	Ancestors  []string // comm of the caller's parent, grandparent, ...
	Op         AccessOp
	// Target is the thread or process the caller named; TargetPID its
	// process when known (0: resolve from Target).
	Target    uint32
	TargetPID uint32
	// TargetWatch is why the kernel watches the target (0: unresolved).
	TargetWatch Watch
	// TargetVPID says Target is a pid in the caller's pid namespace, not
	// the host's: the kernel could not map it.
	TargetVPID bool
	// ByParent says the caller is the target's parent or tracer.
	ByParent bool
	Result   int64
}

// FileOp is an operation on a loader configuration file, with the process
// that did it.
type FileOp struct {
	Proc
	Op        string // open-write, rename, unlink, link, symlink, truncate
	Path      string // the file (rename, link: the old name; symlink: the target text)
	Path2     string // rename, link, symlink: the new name
	Dev, Ino  uint64 // open-write: the file opened
	OpenFlags uint32
	Ancestors []string // comm of the parent, grandparent, ...
	Cgroup    string   // the writer's cgroup path, as the kernel named it: its container
}

// ImageLoad is a file mapped executable into a watched process.
type ImageLoad struct {
	Proc
	Watch         Watch
	Path          string
	Dev           uint64 // userspace dev_t encoding
	Ino           uint64
	Version       Version // of the file mapped (its size at least, from the sweep)
	Mode          uint32
	Addr          uint64
	Deleted       bool // no links left when mapped
	Memfd         bool // memory-backed (memfd_create)
	Mprotect      bool // made executable by mprotect, not mmap
	PathTruncated bool
	FromSweep     bool // found in /proc/PID/maps by the startup sweep
}

// Stats are the kernel side's counters, summed over CPUs.
type Stats struct {
	Execs      uint64 // every exec seen
	ExecEvents uint64 // exec records delivered
	MapEvents  uint64 // mapping records delivered
	LostExec   uint64 // exec records the ring buffer could not take
	LostMap    uint64 // mapping records the ring buffer could not take
	WatchFull  uint64 // processes that could not be marked watched
	EnvTrunc   uint64 // environments too large to scan in the kernel
	FileEvents uint64 // loader configuration file operations delivered
	LostFile   uint64 // file records the ring buffer could not take
	// Accesses to another process's memory: delivered, lost, on processes
	// not watched (not delivered), and refused by the kernel.
	AccessEvents uint64
	LostAccess   uint64
	AccessOther  uint64
	AccessDenied uint64
	// Vouched: execs the kernel counted instead of delivering, their one
	// loader variable vouched for by userspace (event.Vouched).
	Vouched uint64
}

// Vouched is one verdict the kernel reuses: execs of Comm whose only
// loader variable is Env ("LD_PRELOAD=..."), and how many it counted.
type Vouched struct {
	Comm, Env string
	Count     uint64
}

// Lost is every record the kernel could not deliver.
func (s Stats) Lost() uint64 { return s.LostExec + s.LostMap + s.LostFile + s.LostAccess }

// Handler receives events from a collector. Collectors call it from their
// reader goroutine: it must not block for long.
type Handler interface {
	Exec(*Exec)
	ImageLoad(*ImageLoad)
	FileOp(*FileOp)
	Access(*Access)
}

// FileID is a file by device (userspace encoding) and inode.
type FileID struct {
	Dev, Ino uint64
}
