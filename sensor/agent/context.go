package agent

// Process context: a process as the table, /proc or the kernel record knows it.

import (
	"time"

	"github.com/hookwatch/hookwatch/sensor/container"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// loaderEnv keeps the configured loader variables of an exec. When the
// kernel could not scan the whole environment it reads /proc/PID/environ:
// padding the environment must not hide LD_PRELOAD. If the process is gone
// by then, the kernel's partial view is all there is.
func (a *Agent) loaderEnv(e *event.Exec) []string {
	env := e.LoaderEnv
	if e.EnvTruncated || e.EnvUnreadable {
		if full, err := a.cfg.Proc.Environ(e.PID); err == nil {
			env = full
		} else {
			a.log.WithError(err).WithField("pid", e.PID).Debug("environment unreadable after a truncated in-kernel scan")
		}
	}
	return a.cfg.Rules.LoaderEnv(env)
}

// mappingOf finds the bounds of the process's mapping of a file by inode.
func (a *Agent) mappingOf(il *event.ImageLoad) (uint64, uint64) {
	maps, err := a.cfg.Proc.Maps(il.PID)
	if err != nil {
		return 0, 0
	}
	for _, m := range maps {
		if m.Inode == il.Ino && (il.Addr == 0 || m.Start == il.Addr || (il.Addr >= m.Start && il.Addr < m.End)) {
			return m.Start, m.End
		}
	}
	for _, m := range maps {
		if m.Inode == il.Ino {
			return m.Start, m.End
		}
	}
	return 0, 0
}

// writerProcess is the context of the process the kernel saw write: the
// table, /proc, or the kernel record alone (it may have exited).
func (a *Agent) writerProcess(op *event.FileOp) *proctable.Process {
	ticks := startTicks(op.StartTime)
	if p, ok := a.table.Get(op.PID); ok && p.StartTicks == ticks {
		return p
	}
	if p, err := a.fromProc(op.PID); err == nil && p.StartTicks == ticks {
		a.table.Put(p)
		return p
	}
	return a.fromRecord(op.Proc)
}

// fromRecord is a process as the kernel record alone describes it, for
// when neither the table nor /proc knows it.
func (a *Agent) fromRecord(r event.Proc) *proctable.Process {
	p := &proctable.Process{
		PID: r.PID, PPID: r.PPID, StartTicks: startTicks(r.StartTime), Name: r.Comm,
		UID: r.UID, EUID: r.EUID, GID: r.GID, EGID: r.EGID,
		Start: a.bootAt.Add(time.Duration(r.StartTime)),
	}
	p.EntityID = proctable.EntityID(a.cfg.Host.ID, p.PID, p.StartTicks)
	return p
}

// containerOf names the container a process runs in: from the cgroup path
// the kernel gave, else from /proc (nothing when the agent names none, or
// the process is gone).
func (a *Agent) containerOf(pid uint32, cgroupPath string) container.Container {
	switch {
	case a.cfg.Containers == nil:
		return container.Container{}
	case cgroupPath == "/":
		// The kernel found the task in the root of the unified hierarchy
		// and of the pids controller's, where every runtime puts its
		// containers: the host (no file to read per exec where the host's
		// processes live in the root cgroups, as on this VM).
		return container.Container{}
	case cgroupPath != "" && cgroupPath != "/":
		return a.cfg.Containers.FromPath(cgroupPath)
	}
	return a.cfg.Containers.Of(pid)
}

// processFor finds the context of the process that mapped a library: the
// table, else the parent it was forked from (same image), else /proc, else
// what the kernel record alone says.
func (a *Agent) processFor(il *event.ImageLoad) *proctable.Process {
	ticks := startTicks(il.StartTime)
	if p, ok := a.table.Get(il.PID); ok && (p.StartTicks == ticks || il.FromSweep) {
		return p
	}
	p := a.fromRecord(il.Proc)
	if parent, ok := a.table.Get(il.PPID); ok && il.Watch&event.WatchInherited != 0 {
		p.Executable, p.Args, p.Credential = parent.Executable, parent.Args, parent.Credential
		p.LoaderEnv = parent.LoaderEnv // the engine gives it its parent's expected sets
		p.Container, p.Cgroup, p.Root, p.RootKey = parent.Container, parent.Cgroup, parent.Root, parent.RootKey
	} else if exe, err := a.cfg.Proc.Exe(il.PID); err == nil {
		p.Container = a.containerOf(il.PID, "")
		p.Executable = exe
		p.Args, _ = a.cfg.Proc.Cmdline(il.PID)
		p.Credential = il.Watch&event.WatchCredential != 0 || a.cfg.Rules.IsCredential(p.Executable, "")
	} else {
		p.Credential = il.Watch&event.WatchCredential != 0 || a.cfg.Rules.IsCredential("", il.Comm)
	}
	a.table.Put(p)
	return p
}

// parent returns the parent's context from the table or, failing that,
// from /proc (best effort: it may be gone).
func (a *Agent) parent(p *proctable.Process) *proctable.Process {
	if p.PPID == 0 {
		return nil
	}
	if pp, ok := a.table.Get(p.PPID); ok {
		return pp
	}
	pp, err := a.fromProc(p.PPID)
	if err != nil {
		return nil
	}
	a.table.Put(pp)
	return pp
}

// fromProc builds a process's context from /proc.
func (a *Agent) fromProc(pid uint32) (*proctable.Process, error) {
	st, err := a.cfg.Proc.Stat(pid)
	if err != nil {
		return nil, err
	}
	exe, err := a.cfg.Proc.Exe(pid)
	if err != nil {
		return nil, err
	}
	args, _ := a.cfg.Proc.Cmdline(pid)
	p := &proctable.Process{
		PID: pid, PPID: st.PPID, StartTicks: st.StartTicks,
		Start:      a.bootAt.Add(time.Duration(st.StartTicks) * (time.Second / ticksPerSecond)),
		Executable: exe, Name: st.Comm, Args: args,
		UID: st.UID, EUID: st.EUID, GID: st.GID, EGID: st.EGID,
	}
	p.EntityID = proctable.EntityID(a.cfg.Host.ID, pid, st.StartTicks)
	p.Credential = a.cfg.Rules.IsCredential(p.Executable, st.Comm)
	p.Container = a.containerOf(pid, "")
	return p, nil
}
