package procfs

// Threads, tracers and pid namespaces: what it takes to name the process a
// ptrace or process_vm_* call reached.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hookwatch/hookwatch/internal/bounded"
)

// Threads lists the process's threads other than its main one.
func (fs FS) Threads(pid uint32) ([]uint32, error) {
	ents, err := os.ReadDir(fs.path(pid, "task"))
	if err != nil {
		return nil, fmt.Errorf("listing threads of %d: %w", pid, err)
	}
	var out []uint32
	for _, e := range ents {
		if n, err := strconv.ParseUint(e.Name(), 10, 32); err == nil && uint32(n) != pid {
			out = append(out, uint32(n))
		}
	}
	return out, nil
}

// Task is what /proc/TID/status says of a thread's process and tracer.
type Task struct {
	Tgid      uint32   // the process the thread belongs to
	TracerPid uint32   // the process tracing it (0: none)
	NSpid     []uint32 // its id in each pid namespace, outermost first
}

// Task reads a thread's (or process's) status: its process, tracer and
// namespaced ids. Threads are not listed in /proc but their status is there.
func (fs FS) Task(tid uint32) (Task, error) {
	b, err := bounded.ReadFile(fs.path(tid, "status"), 64<<10)
	if err != nil {
		return Task{}, fmt.Errorf("reading status of %d: %w", tid, err)
	}
	return ParseTask(b)
}

// ParseTask parses the Tgid, TracerPid and NSpid lines of a status file.
func ParseTask(b []byte) (Task, error) {
	var t Task
	seen := false
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "Tgid", "TracerPid":
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return t, fmt.Errorf("%s: %w", k, err)
			}
			if k == "Tgid" {
				t.Tgid, seen = uint32(n), true
			} else {
				t.TracerPid = uint32(n)
			}
		case "NSpid":
			for _, f := range strings.Fields(v) {
				n, err := strconv.ParseUint(f, 10, 32)
				if err != nil {
					return t, fmt.Errorf("NSpid: %w", err)
				}
				t.NSpid = append(t.NSpid, uint32(n))
			}
		}
	}
	if !seen {
		return t, fmt.Errorf("no Tgid line")
	}
	return t, nil
}

// PidNS names the process's pid namespace ("pid:[4026531836]").
func (fs FS) PidNS(pid uint32) (string, error) {
	ns, err := os.Readlink(fs.path(pid, filepath.Join("ns", "pid")))
	if err != nil {
		return "", fmt.Errorf("reading pid namespace of %d: %w", pid, err)
	}
	return ns, nil
}

// FindVPID maps a process id as the caller's pid namespace numbers it to
// the host's: the process in that namespace whose innermost id is vpid.
// A scan of /proc, for the rare call the kernel could not map itself.
func (fs FS) FindVPID(caller, vpid uint32) (uint32, error) {
	ns, err := fs.PidNS(caller)
	if err != nil {
		return 0, err
	}
	pids, err := fs.PIDs()
	if err != nil {
		return 0, err
	}
	for _, pid := range pids {
		t, err := fs.Task(pid)
		if err != nil || len(t.NSpid) == 0 || t.NSpid[len(t.NSpid)-1] != vpid {
			continue
		}
		if other, err := fs.PidNS(pid); err == nil && other == ns {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no process %d in the pid namespace of %d", vpid, caller)
}
