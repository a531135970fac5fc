package probe

import (
	"bytes"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/procfs"
)

var (
	execHdrSize   = int(unsafe.Sizeof(hookwatchExecHdr{}))
	mapHdrSize    = int(unsafe.Sizeof(hookwatchMapHdr{}))
	fileHdrSize   = int(unsafe.Sizeof(hookwatchFileHdr{}))
	accessHdrSize = int(unsafe.Sizeof(hookwatchAccessHdr{}))
)

// header copies a record's fixed part into h. bpf2go's types have the C
// layout, padding spelled out, and the objects are built little-endian
// for little-endian hosts (bpfel), so the record's bytes are h's bytes:
// a copy, where encoding/binary walked every field by reflection for
// every record (TestHeadersAreTheirBytes holds the two to agreeing).
func header[T any](raw []byte, h *T) error {
	n := int(unsafe.Sizeof(*h))
	if len(raw) < n {
		return fmt.Errorf("record of %d bytes, header of %d", len(raw), n)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(h)), n), raw)
	return nil
}

var accessOps = map[hookwatchAccessOp]event.AccessOp{
	hookwatchAccessOpACC_ATTACH:    event.AccessAttach,
	hookwatchAccessOpACC_SEIZE:     event.AccessSeize,
	hookwatchAccessOpACC_PEEK:      event.AccessPeek,
	hookwatchAccessOpACC_POKE:      event.AccessPoke,
	hookwatchAccessOpACC_SETREGS:   event.AccessSetRegs,
	hookwatchAccessOpACC_VM_READ:   event.AccessVMRead,
	hookwatchAccessOpACC_VM_WRITE:  event.AccessVMWrite,
	hookwatchAccessOpACC_MEM_READ:  event.AccessMemRead,
	hookwatchAccessOpACC_MEM_WRITE: event.AccessMemWrite,
}

var fileOps = map[hookwatchFileOp]string{
	hookwatchFileOpFOP_OPEN_WRITE: "open-write",
	hookwatchFileOpFOP_RENAME:     "rename",
	hookwatchFileOpFOP_UNLINK:     "unlink",
	hookwatchFileOpFOP_LINK:       "link",
	hookwatchFileOpFOP_SYMLINK:    "symlink",
	hookwatchFileOpFOP_TRUNCATE:   "truncate",
}

// decoder turns raw ring buffer records into events.
type decoder struct {
	// boot is the wall-clock time of CLOCK_MONOTONIC zero: the kernel
	// stamps records with bpf_ktime_get_ns.
	boot   time.Time
	errors atomic.Uint64
}

func newDecoder() decoder {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return decoder{boot: time.Now().Add(-time.Duration(ts.Nano()))}
}

func (d *decoder) dispatch(raw []byte, h event.Handler) error {
	if len(raw) == 0 {
		d.errors.Add(1)
		return fmt.Errorf("empty record")
	}
	switch hookwatchKind(raw[0]) {
	case hookwatchKindKIND_EXEC:
		ev, err := d.exec(raw)
		if err != nil {
			d.errors.Add(1)
			return err
		}
		h.Exec(ev)
	case hookwatchKindKIND_MAP:
		ev, err := d.imageLoad(raw)
		if err != nil {
			d.errors.Add(1)
			return err
		}
		h.ImageLoad(ev)
	case hookwatchKindKIND_FILE:
		ev, err := d.fileOp(raw)
		if err != nil {
			d.errors.Add(1)
			return err
		}
		h.FileOp(ev)
	case hookwatchKindKIND_ACCESS:
		ev, err := d.access(raw)
		if err != nil {
			d.errors.Add(1)
			return err
		}
		h.Access(ev)
	default:
		d.errors.Add(1)
		return fmt.Errorf("unknown record kind %d", raw[0])
	}
	return nil
}

func (d *decoder) exec(raw []byte) (*event.Exec, error) {
	var h hookwatchExecHdr
	if err := header(raw, &h); err != nil {
		return nil, fmt.Errorf("decoding exec header: %w", err)
	}
	data := raw[execHdrSize:]
	path, rest, ok := cut(data, int(h.PathLen))
	argv, rest2, ok2 := cut(rest, int(h.ArgvLen))
	env, rest3, ok3 := cut(rest2, int(h.EnvLen))
	interp, _, ok4 := cut(rest3, int(h.InterpLen))
	if !ok || !ok2 || !ok3 || !ok4 {
		return nil, fmt.Errorf("exec record of %d bytes shorter than its lengths (%d+%d+%d)", len(data), h.PathLen, h.ArgvLen, h.EnvLen)
	}
	f := hookwatchExecFlag(h.Flags)
	return &event.Exec{
		Proc:               d.proc(&h.Proc),
		Watch:              event.Watch(h.Watch),
		Executable:         string(path),
		ExeDev:             userDev(h.ExeDev),
		ExeIno:             h.ExeIno,
		ExeVersion:         version(h.ExeVer),
		Args:               procfs.ParseNUL(argv),
		LoaderEnv:          procfs.ParseNUL(env),
		ArgsTruncated:      f&hookwatchExecFlagEXEC_ARGV_TRUNC != 0,
		EnvTruncated:       f&hookwatchExecFlagEXEC_ENV_TRUNC != 0,
		LoaderEnvTruncated: f&hookwatchExecFlagEXEC_ENVVAR_TRUNC != 0,
		PathTruncated:      f&hookwatchExecFlagEXEC_PATH_TRUNC != 0,
		EnvUnreadable:      f&hookwatchExecFlagEXEC_ENV_FAULT != 0,
		Interpreter:        string(interp),
		OddInterpreter:     f&hookwatchExecFlagEXEC_ODD_INTERP != 0,
		LoaderLike:         f&hookwatchExecFlagEXEC_LOADERLIKE != 0,
		Traced:             f&hookwatchExecFlagEXEC_PTRACED != 0,
		OtherRoot:          f&hookwatchExecFlagEXEC_OTHER_ROOT != 0,
		RootDev:            userDev(h.RootDev),
		RootIno:            h.RootIno,
		Cgroup:             cgroupPath(h.Cgroup),
	}, nil
}

func (d *decoder) imageLoad(raw []byte) (*event.ImageLoad, error) {
	var h hookwatchMapHdr
	if err := header(raw, &h); err != nil {
		return nil, fmt.Errorf("decoding mapping header: %w", err)
	}
	path, _, ok := cut(raw[mapHdrSize:], int(h.PathLen))
	if !ok {
		return nil, fmt.Errorf("mapping record shorter than its path length %d", h.PathLen)
	}
	f := hookwatchMapFlag(h.Flags)
	return &event.ImageLoad{
		Proc:          d.proc(&h.Proc),
		Watch:         event.Watch(h.Watch),
		Path:          string(path),
		Dev:           userDev(h.Dev),
		Ino:           h.Ino,
		Version:       version(h.Ver),
		Mode:          h.Mode,
		Addr:          h.Addr,
		Deleted:       f&hookwatchMapFlagMAP_DELETED != 0,
		Memfd:         f&hookwatchMapFlagMAP_MEMFD != 0,
		Mprotect:      f&hookwatchMapFlagMAP_MPROTECT != 0,
		PathTruncated: f&hookwatchMapFlagMAP_PATH_TRUNC != 0,
	}, nil
}

func (d *decoder) fileOp(raw []byte) (*event.FileOp, error) {
	var h hookwatchFileHdr
	if err := header(raw, &h); err != nil {
		return nil, fmt.Errorf("decoding file header: %w", err)
	}
	p1, rest, ok := cut(raw[fileHdrSize:], int(h.PathLen))
	p2, _, ok2 := cut(rest, int(h.Path2Len))
	if !ok || !ok2 {
		return nil, fmt.Errorf("file record shorter than its lengths (%d+%d)", h.PathLen, h.Path2Len)
	}
	op, known := fileOps[hookwatchFileOp(h.Op)]
	if !known {
		return nil, fmt.Errorf("unknown file operation %d", h.Op)
	}
	return &event.FileOp{
		Proc: d.proc(&h.Proc), Op: op, Path: string(p1), Path2: string(p2),
		Dev: userDev(h.Dev), Ino: h.Ino, OpenFlags: h.OpenFlags, Ancestors: ancestors(h.Ancestors),
		Cgroup: cgroupPath(h.Cgroup),
	}, nil
}

func (d *decoder) access(raw []byte) (*event.Access, error) {
	var h hookwatchAccessHdr
	if err := header(raw, &h); err != nil {
		return nil, fmt.Errorf("decoding access header: %w", err)
	}
	path, _, ok := cut(raw[accessHdrSize:], int(h.PathLen))
	if !ok {
		return nil, fmt.Errorf("access record shorter than its path length %d", h.PathLen)
	}
	op, known := accessOps[hookwatchAccessOp(h.Op)]
	if !known {
		return nil, fmt.Errorf("unknown access operation %d", h.Op)
	}
	f := hookwatchAccessFlag(h.Flags)
	return &event.Access{
		Proc: d.proc(&h.Proc), Executable: string(path), Ancestors: ancestors(h.Ancestors),
		Op: op, Target: h.Target, TargetPID: h.TargetTgid, TargetWatch: event.Watch(h.TargetWatch),
		TargetVPID: f&hookwatchAccessFlagACC_VPID != 0, ByParent: f&hookwatchAccessFlagACC_PARENT != 0,
		Result: h.Ret,
	}, nil
}

// cgroupPath joins the kernel's cgroup names (leaf first) into the end of
// a path, "/docker/<id>".
func cgroupPath(names [4][80]uint8) string {
	var parts []string
	for _, n := range names {
		i := bytes.IndexByte(n[:], 0)
		if i == 0 {
			break
		}
		if i < 0 {
			i = len(n)
		}
		parts = append([]string{string(n[:i])}, parts...)
	}
	// No name at all: the task is in the hierarchy's root cgroup.
	return "/" + strings.Join(parts, "/")
}

// ancestors reads the kernel's comm list, stopping at the first empty one.
func ancestors(comms [4][16]uint8) []string {
	var anc []string
	for _, c := range comms {
		if n := bytes.IndexByte(c[:], 0); n > 0 {
			anc = append(anc, string(c[:n]))
		} else if n < 0 {
			anc = append(anc, string(c[:]))
		} else {
			break
		}
	}
	return anc
}

func version(v hookwatchFileVersion) event.Version {
	return event.Version{Size: int64(v.Size), Mtime: v.Mtime, Ctime: v.Ctime}
}

func (d *decoder) proc(p *hookwatchProcInfo) event.Proc {
	comm := p.Comm[:]
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	return event.Proc{
		Time:      d.boot.Add(time.Duration(p.Ktime)),
		StartTime: p.StartTime,
		PID:       p.Tgid,
		TID:       p.Pid,
		PPID:      p.Ppid,
		UID:       p.Uid,
		GID:       p.Gid,
		EUID:      p.Euid,
		EGID:      p.Egid,
		LoginUID:  p.Loginuid,
		Comm:      string(comm),
	}
}

func cut(b []byte, n int) (head, rest []byte, ok bool) {
	if n > len(b) {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}

// userDev converts the kernel's internal dev_t (major<<20 | minor) into the
// userspace encoding that stat(2) reports.
func userDev(kdev uint32) uint64 {
	return unix.Mkdev(kdev>>20, kdev&0xfffff)
}
