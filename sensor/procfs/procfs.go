// Package procfs reads what hookwatch needs from /proc: a process's
// environment, executable mappings, command line and identity. Every parser
// takes bytes so it can be fuzzed; processes that vanish mid-read give an
// error, never a partial value presented as whole.
package procfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/internal/bounded"
)

// MaxEnviron bounds how much of an environment is read: the kernel's own
// limit for argv plus envp is a quarter of the stack limit, far below this.
const MaxEnviron = 8 << 20

// TicksPerSecond is USER_HZ, the unit of /proc/PID/stat's start time: 100
// on every architecture Linux supports.
const TicksPerSecond = 100

// FS is a /proc tree; Root is "/proc" on a live system.
type FS struct {
	Root string
}

// Default is the live system's /proc.
func Default() FS { return FS{Root: "/proc"} }

func (fs FS) path(pid uint32, name string) string {
	return filepath.Join(fs.Root, strconv.FormatUint(uint64(pid), 10), name)
}

// PIDs lists the numeric entries of /proc.
func (fs FS) PIDs() ([]uint32, error) {
	ents, err := os.ReadDir(fs.Root)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", fs.Root, err)
	}
	var pids []uint32
	for _, e := range ents {
		if n, err := strconv.ParseUint(e.Name(), 10, 32); err == nil {
			pids = append(pids, uint32(n))
		}
	}
	return pids, nil
}

// Environ returns the process's environment strings.
func (fs FS) Environ(pid uint32) ([]string, error) {
	b, err := bounded.ReadFile(fs.path(pid, "environ"), MaxEnviron)
	if err != nil {
		return nil, fmt.Errorf("reading environment of %d: %w", pid, err)
	}
	return ParseNUL(b), nil
}

// Cmdline returns the process's argv.
func (fs FS) Cmdline(pid uint32) ([]string, error) {
	b, err := bounded.ReadFile(fs.path(pid, "cmdline"), 1<<20)
	if err != nil {
		return nil, fmt.Errorf("reading command line of %d: %w", pid, err)
	}
	return ParseNUL(b), nil
}

// Exe returns the path the process's executable was run from. The
// kernel's " (deleted)" after an unlinked one is taken off: the process
// is named by that path, and its mappings (Maps) say it was deleted.
func (fs FS) Exe(pid uint32) (string, error) {
	p, err := os.Readlink(fs.path(pid, "exe"))
	if err != nil {
		return "", fmt.Errorf("reading executable of %d: %w", pid, err)
	}
	return strings.TrimSuffix(p, " (deleted)"), nil
}

// ParseNUL splits NUL-terminated strings (environ, cmdline, the kernel's
// argv copy). Empty strings are kept: `prog ""` has an empty argument. A
// last string cut short (no NUL) is kept too.
func ParseNUL(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i]))
		b = b[i+1:]
	}
	return out
}

// Mapping is one line of /proc/PID/maps.
type Mapping struct {
	Start, End uint64
	Perms      string
	Offset     uint64
	Dev        string // "major:minor" in hex, as the kernel prints it
	Inode      uint64
	Path       string
	Deleted    bool // the kernel appended " (deleted)"
}

// Executable reports whether the mapping has execute permission.
func (m Mapping) Executable() bool { return len(m.Perms) >= 3 && m.Perms[2] == 'x' }

// Maps returns the process's memory mappings.
func (fs FS) Maps(pid uint32) ([]Mapping, error) {
	b, err := bounded.ReadFile(fs.path(pid, "maps"), 64<<20)
	if err != nil {
		return nil, fmt.Errorf("reading mappings of %d: %w", pid, err)
	}
	return ParseMaps(b)
}

// ParseMaps parses the text of /proc/PID/maps.
func ParseMaps(b []byte) ([]Mapping, error) {
	var out []Mapping
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		m, err := parseMapsLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("maps line %d: %w", line, err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("maps line %d: %w", line+1, err)
	}
	return out, nil
}

func parseMapsLine(s string) (Mapping, error) {
	var m Mapping
	// address perms offset dev inode [path]; the path may contain spaces.
	fields := make([]string, 0, 5)
	rest := s
	for len(fields) < 5 {
		rest = strings.TrimLeft(rest, " ")
		i := strings.IndexByte(rest, ' ')
		if i < 0 {
			fields = append(fields, rest)
			rest = ""
			break
		}
		fields = append(fields, rest[:i])
		rest = rest[i+1:]
	}
	if len(fields) < 5 {
		return m, fmt.Errorf("%d fields, want at least 5", len(fields))
	}
	start, end, ok := strings.Cut(fields[0], "-")
	if !ok {
		return m, errors.New("address range without '-'")
	}
	var err error
	if m.Start, err = strconv.ParseUint(start, 16, 64); err != nil {
		return m, fmt.Errorf("start address: %w", err)
	}
	if m.End, err = strconv.ParseUint(end, 16, 64); err != nil {
		return m, fmt.Errorf("end address: %w", err)
	}
	if len(fields[1]) != 4 {
		return m, fmt.Errorf("permissions %q", fields[1])
	}
	m.Perms = fields[1]
	if m.Offset, err = strconv.ParseUint(fields[2], 16, 64); err != nil {
		return m, fmt.Errorf("offset: %w", err)
	}
	m.Dev = fields[3]
	if m.Inode, err = strconv.ParseUint(fields[4], 10, 64); err != nil {
		return m, fmt.Errorf("inode: %w", err)
	}
	m.Path = strings.TrimLeft(rest, " ")
	if p, ok := strings.CutSuffix(m.Path, " (deleted)"); ok {
		m.Path, m.Deleted = p, true
	}
	return m, nil
}

// Stat is what hookwatch takes from /proc/PID/stat and status.
type Stat struct {
	State      byte // R, S, D, Z (zombie: exited, not yet reaped), ...
	PPID       uint32
	StartTicks uint64 // start time in clock ticks since boot
	Comm       string
	UID, EUID  uint32
	GID, EGID  uint32
}

// Stat reads the process's parent, start time and credentials.
func (fs FS) Stat(pid uint32) (Stat, error) {
	b, err := bounded.ReadFile(fs.path(pid, "stat"), 4096)
	if err != nil {
		return Stat{}, fmt.Errorf("reading stat of %d: %w", pid, err)
	}
	st, err := ParseStat(b)
	if err != nil {
		return st, fmt.Errorf("stat of %d: %w", pid, err)
	}
	sb, err := bounded.ReadFile(fs.path(pid, "status"), 64<<10)
	if err != nil {
		return st, fmt.Errorf("reading status of %d: %w", pid, err)
	}
	if err := parseStatusIDs(sb, &st); err != nil {
		return st, fmt.Errorf("status of %d: %w", pid, err)
	}
	return st, nil
}

// ParseStat parses /proc/PID/stat. comm is in parentheses and may itself
// contain spaces and parentheses, so fields are counted from the last ')'.
func ParseStat(b []byte) (Stat, error) {
	var st Stat
	open := bytes.IndexByte(b, '(')
	closeIdx := bytes.LastIndexByte(b, ')')
	if open < 0 || closeIdx < open {
		return st, errors.New("no (comm)")
	}
	st.Comm = string(b[open+1 : closeIdx])
	f := strings.Fields(string(b[closeIdx+1:]))
	// After comm: state(0) ppid(1) ... starttime is field 22 overall, 19 here.
	if len(f) < 20 {
		return st, fmt.Errorf("%d fields after comm, want at least 20", len(f))
	}
	if len(f[0]) > 0 {
		st.State = f[0][0]
	}
	ppid, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return st, fmt.Errorf("ppid: %w", err)
	}
	st.PPID = uint32(ppid)
	if st.StartTicks, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return st, fmt.Errorf("starttime: %w", err)
	}
	return st, nil
}

func parseStatusIDs(b []byte, st *Stat) error {
	seen := 0
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "Uid" && k != "Gid") {
			continue
		}
		f := strings.Fields(v)
		if len(f) < 2 {
			return fmt.Errorf("%s: %d fields", k, len(f))
		}
		real, err1 := strconv.ParseUint(f[0], 10, 32)
		eff, err2 := strconv.ParseUint(f[1], 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if k == "Uid" {
			st.UID, st.EUID = uint32(real), uint32(eff)
		} else {
			st.GID, st.EGID = uint32(real), uint32(eff)
		}
		seen++
	}
	if seen != 2 {
		return errors.New("no Uid and Gid lines")
	}
	return nil
}

// ParseDev turns the kernel's "major:minor" hex pair (/proc/PID/maps,
// audit's PATH records) into a userspace dev_t; 0 when it is not one.
func ParseDev(s string) uint64 {
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return 0
	}
	ma, err1 := strconv.ParseUint(maj, 16, 32)
	mi, err2 := strconv.ParseUint(min, 16, 32)
	if err1 != nil || err2 != nil {
		return 0
	}
	return unix.Mkdev(uint32(ma), uint32(mi))
}
