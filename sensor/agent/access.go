package agent

// Accesses: a process reaching into a credential process's memory.

import (
	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/ecs"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// Access implements event.Handler; it never blocks.
func (a *Agent) Access(e *event.Access) {
	a.stats.Accesses.Add(1)
	a.enqueue(item{access: e})
}

func (a *Agent) handleAccess(e *event.Access) {
	target := a.accessTarget(e)
	if target == nil || target.PID == e.PID {
		a.stats.AccessesIgnored.Add(1)
		return
	}
	if e.TargetWatch&event.WatchCredential != 0 {
		target.Credential = true
	}
	if !target.Credential && e.TargetWatch&event.WatchLoader == 0 {
		// Only a caller in another pid namespace gets here: the kernel
		// could not tell what it named.
		a.stats.AccessesIgnored.Add(1)
		return
	}
	caller := a.callerProcess(e)
	a.judgeAccess(caller, target, e, e.ByParent || target.PPID == caller.PID)
}

// tracedExec reports a credential program exec'd under ptrace: its tracer
// (a debugger that started it, or one that attached to its parent and
// followed the fork) reads and writes it at will from here on.
func (a *Agent) tracedExec(p *proctable.Process, e *event.Exec) {
	t, err := a.cfg.Proc.Task(p.PID)
	if err != nil || t.TracerPid == 0 {
		return // gone, or no longer traced
	}
	tracer, ok := a.table.Get(t.TracerPid)
	if !ok {
		if tracer, err = a.fromProc(t.TracerPid); err != nil {
			return
		}
		a.table.Put(tracer)
	}
	ac := &event.Access{
		Proc: e.Proc, Executable: tracer.Executable, Op: event.AccessTracedExec,
		Target: p.PID, TargetPID: p.PID, TargetWatch: e.Watch,
	}
	ac.Proc.PID, ac.Proc.TID, ac.Proc.PPID, ac.Proc.Comm = tracer.PID, tracer.PID, tracer.PPID, tracer.Name
	a.judgeAccess(tracer, p, ac, p.PPID == tracer.PID)
}

func (a *Agent) judgeAccess(caller, target *proctable.Process, e *event.Access, byParent bool) {
	parent := a.parent(caller)
	ev := a.engine.Access(caller, parent, target, e, byParent)
	defer detect.Release(ev) // its documents are written by then
	alerts := a.evaluate(ev)
	// What the event's documents share, made once.
	var sh ecs.Shared
	if a.keepTelemetry(true) { // every access to a credential process is notable
		a.write(a.enc.With(a.enc.Access(&sh, caller, parent, target, e, byParent), a.enc.FactsFor(&sh, ev.Fields)))
	}
	for _, al := range alerts {
		a.writeAlert(&sh, caller, parent, al)
	}
}

// accessTarget is the process the caller reached: by the id the kernel
// resolved, else by the thread named (its process from /proc), else, for
// a caller in another pid namespace, by that namespace's numbering.
func (a *Agent) accessTarget(e *event.Access) *proctable.Process {
	pid := e.TargetPID
	switch {
	case e.TargetVPID:
		var err error
		if pid, err = a.cfg.Proc.FindVPID(e.PID, e.Target); err != nil {
			a.log.WithError(err).Debug("access target not found")
			return nil
		}
	case pid == 0:
		t, err := a.cfg.Proc.Task(e.Target)
		if err != nil {
			return nil
		}
		pid = t.Tgid
	}
	if p, ok := a.table.Get(pid); ok {
		return p
	}
	p, err := a.fromProc(pid)
	if err != nil {
		if e.TargetWatch&event.WatchCredential != 0 && pid != 0 {
			// The kernel marked it a credential process, yet neither the
			// table (a fork of one, never exec'd) nor this /proc knows
			// it: a daemon in a pid namespace of its own reads /proc by
			// pids other than the kernel's. Report it by what the
			// kernel says rather than not at all.
			return &proctable.Process{PID: pid, Credential: true}
		}
		return nil
	}
	a.table.Put(p)
	return p
}

// callerProcess is the caller's context: the table, /proc, or the kernel
// record with the executable it resolved (a reader may exit at once).
func (a *Agent) callerProcess(e *event.Access) *proctable.Process {
	ticks := startTicks(e.StartTime)
	if p, ok := a.table.Get(e.PID); ok && p.StartTicks == ticks {
		return p
	}
	if p, err := a.fromProc(e.PID); err == nil && p.StartTicks == ticks {
		a.table.Put(p)
		return p
	}
	p := a.fromRecord(e.Proc)
	p.Executable = e.Executable
	p.Container = a.containerOf(e.PID, "")
	return p
}
