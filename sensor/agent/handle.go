package agent

// The events, one handler each: process context, the engine's facts, the
// rules' verdict, and what is written.

import (
	"slices"

	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/ecs"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/loaderconf"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

func (a *Agent) handleExec(e *event.Exec, root string) {
	p := a.fromRecord(e.Proc)
	p.Container, p.Cgroup = a.containerOf(e.PID, e.Cgroup), e.Cgroup
	if root != "" && p.Container.ID == "" && a.containers != nil {
		// Chrooted: its paths as it names them, judged in its root.
		p.RootKey, p.Root = root, a.containers.rootPath(root)
		e.Executable, e.Interpreter = inRoot(p.Root, e.Executable), inRoot(p.Root, e.Interpreter)
	} else if e.OtherRoot && p.Container.ID == "" {
		a.stats.RootUnknown.Add(1) // judged by hookwatch's own files
	}
	if e.OddInterpreter && a.cfg.ContainerLoader != nil && a.containerLoader(p, e.Interpreter) {
		// The container's (or chroot's) own loader, as its packages
		// installed it: not an alternate loader, and not the loader run
		// directly.
		e.OddInterpreter, e.Interpreter = false, ""
		e.Watch &^= event.WatchLoader
	}
	p.Executable, p.Args, p.ArgsTruncated = e.Executable, e.Args, e.ArgsTruncated
	p.Credential = e.Watch&event.WatchCredential != 0 || a.cfg.Rules.IsCredential("", e.Comm)
	p.LoaderEnv = a.loaderEnv(e)
	a.table.Put(p)

	parent := a.parent(p)
	ev := a.engineFor(p).Exec(p, parent, e)
	defer detect.Release(ev) // its documents are written by then
	alerts := a.evaluate(ev)
	var sh ecs.Shared // what the event's documents share, made once
	// A vouched exec is counted into its summary, like the repeats the
	// kernel counts once it has the verdict: not a document of its own.
	vouched := a.vouchable(p, e, ev, len(alerts))
	if !vouched && a.keepTelemetry(len(alerts) > 0 || (len(p.LoaderEnv) > 0 || e.Watch&event.WatchLoader != 0) && !e.LoaderLike) {
		a.write(a.enc.With(a.enc.Exec(&sh, p, parent, e), a.enc.FactsFor(&sh, ev.Fields)))
	}
	for _, al := range alerts {
		a.writeAlert(&sh, p, parent, al)
	}
	if vouched {
		a.vouchFor(p, e, ev)
	}
	if e.Traced && (p.Credential || e.Watch&event.WatchLoader != 0) {
		a.tracedExec(p, e)
	}
}

func (a *Agent) handleImage(il *event.ImageLoad) {
	p := a.processFor(il)
	if p.Root != "" {
		il.Path = inRoot(p.Root, il.Path)
	}
	var start, end uint64
	if il.Deleted || il.Memfd {
		// The name leads nowhere: find the live mapping to read it through.
		start, end = a.mappingOf(il)
	}
	parent := a.parent(p)
	eng := a.engineFor(p)
	ev, j, expected, repeat := eng.ImageLoad(p, parent, il, start, end)
	if repeat {
		return
	}
	defer detect.Release(ev) // its documents are written by then
	alerts := a.evaluate(ev)
	var sh ecs.Shared // what the event's documents share, made once
	vouched := len(alerts) == 0 && slices.Contains(p.Vouched, ev.Libraries[0].Path)
	if !vouched && a.keepTelemetry(len(alerts) > 0 || !expected) {
		if j == nil {
			j = eng.Judge(judge.Mapped(il, start, end))
		}
		a.write(a.enc.With(a.enc.ImageLoad(&sh, p, parent, il, j), a.enc.FactsFor(&sh, ev.Fields)))
	}
	for _, al := range alerts {
		a.writeAlert(&sh, p, parent, al)
	}
}

// Change takes a loader configuration change from the watcher (its own
// goroutine; it may wait for room in the queue).
func (a *Agent) Change(c *loaderconf.Change) {
	a.stats.Changes.Add(1)
	a.enqueueWait(item{change: c})
}

func (a *Agent) handleChange(c *loaderconf.Change) {
	// What the loader would find may have changed: judge again.
	a.forgetVouched("loader configuration changed")
	var writer *proctable.Process
	if c.Writer != nil {
		writer = a.writerProcess(c.Writer)
	}
	var parent *proctable.Process
	if writer != nil {
		parent = a.parent(writer)
	}
	a.reportChange(c, writer, parent, a.engine)
}

// reportChange judges a configuration change with eng (the host's, or the
// writer's container's) and writes it and its alerts.
func (a *Agent) reportChange(c *loaderconf.Change, writer, parent *proctable.Process, eng *detect.Engine) {
	ev := eng.LoaderConfig(c, writer, parent)
	defer detect.Release(ev) // its documents are written by then
	alerts := a.evaluate(ev)
	var sh ecs.Shared // what the event's documents share, made once
	// Every change to the loader's configuration is notable.
	if a.keepTelemetry(true) {
		a.write(a.enc.With(a.enc.FileChange(&sh, c, writer, parent, eng.ByPackageManager(c.Writer)), a.enc.FactsFor(&sh, ev.Fields)))
	}
	for _, al := range alerts {
		a.writeAlert(&sh, writer, parent, al)
	}
}
