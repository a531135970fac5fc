// Package agent wires hookwatch together: it takes events from a collector,
// keeps process context, asks the detection engine for a verdict, and writes
// telemetry and alerts. The collector's reader never waits on it: events the
// agent cannot queue are dropped and counted.
package agent

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/container"
	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/ecs"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/fold"
	"github.com/hookwatch/hookwatch/sensor/loaderconf"
	"github.com/hookwatch/hookwatch/sensor/observation"
	"github.com/hookwatch/hookwatch/sensor/procfs"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// ticksPerSecond is /proc's unit of start times.
const ticksPerSecond = procfs.TicksPerSecond

// startTicks converts the kernel's start time (ns since boot) to /proc's
// unit, so a record and /proc agree on a process's identity.
func startTicks(ns uint64) uint64 { return ns / (1e9 / ticksPerSecond) }

// Collector is a source of kernel events (eBPF today).
type Collector interface {
	Run(ctx context.Context, h event.Handler) error
	// Watch asks the collector to report a running process's mappings.
	Watch(pid uint32, why event.Watch) error
}

// Config is the agent's configuration.
type Config struct {
	Rules        *rules.Set
	Host         ecs.Host
	Telemetry    string
	QueueSize    int
	MaxProcesses int
	Sweep        bool
	Proc         procfs.FS
	// Fold folds repeats of an alert into follow-ups; nil folds nothing.
	Fold *fold.Folder
	// Containers names the container of a process; nil: none are named.
	Containers *container.Resolver

	// ContainerLoader says whether an interpreter, in a container's or a
	// chroot's root (a path to open its files through), is that root's own
	// system loader (agent's containerLoader); nil: never.
	ContainerLoader func(root, interp string) bool
	// ContainerEngine builds an engine judging in a container's root
	// (/proc/self/fd/N); nil: containers are judged by the host's files.
	ContainerEngine func(root string) *detect.Engine
	// VouchSummary is the interval of the summaries of execs the kernel
	// counted under a vouched verdict (agent/vouch.go); 0: no verdict is
	// handed to the kernel, every exec is delivered.
	VouchSummary time.Duration
}

// Stats counts what the agent did, for logs and metrics.
type Stats struct {
	Execs, ImageLoads atomic.Uint64 // events taken from the collector
	FileOps           atomic.Uint64
	Accesses          atomic.Uint64 // reaches into a watched process's memory
	AccessesIgnored   atomic.Uint64 // of those, on a process that is not a credential one, or unnamed
	Changes           atomic.Uint64 // loader configuration changes
	Dropped           atomic.Uint64 // events dropped: the queue was full
	Written           atomic.Uint64 // documents written
	Alerts            atomic.Uint64
	RuleErrors        atomic.Uint64 // rule evaluations that failed
	RulesLoaded       atomic.Int64  // Sigma rules in force
	RuleFilesRejected atomic.Int64  // user rule and allowlist files not loaded
	WriteErrors       atomic.Uint64
	Swept             atomic.Uint64 // processes examined by the startup sweep
	Folded            atomic.Uint64 // alerts folded into a follow-up instead of written
	VouchedExecs      atomic.Uint64 // execs the kernel counted under a vouched verdict, summarized
	RootUnknown       atomic.Uint64 // execs in a chroot whose root was gone before it could be opened: judged by the host's files
}

type item struct {
	exec   *event.Exec
	root   string // exec: the key of the root directory it runs in, when not hookwatch's
	image  *event.ImageLoad
	access *event.Access
	// containerFile: a container's loader configuration written (its
	// root, not the host's, holds the file).
	containerFile *event.FileOp
	change        *loaderconf.Change
	reload        *Reload
	ping          chan struct{}
	tick          time.Time // close the fold windows that ended by then
	forget        string    // drop the kernel's verdicts, and why
}

// Reload replaces the rules, the engine and the telemetry level. It takes
// effect in queue order: nothing queued before it is judged by the new
// rules, nothing after by the old.
type Reload struct {
	Rules   *rules.Set
	Engine  *detect.Engine
	Encoder *ecs.Encoder // nil: keep the encoder
	// ContainerEngine replaces the containers' engines (nil: keep them).
	ContainerEngine func(root string) *detect.Engine
	Telemetry       string
	Sweep           bool
	after           func()
}

// Agent processes events. Create it with New.
type Agent struct {
	cfg    Config
	log    logrus.FieldLogger
	engine *detect.Engine
	enc    *ecs.Encoder
	out    Publisher
	table  *proctable.Table
	queue  chan item
	stats  Stats
	bootAt time.Time
	files  FileWatcher
	ready  func()
	// containers judges in containers' roots (nil: by the host's files).
	containers *containerEngines
	// vouch hands verdicts to the kernel (nil: it cannot, or telemetry all).
	vouch *vouching

	alertsMu sync.Mutex
	alerts   map[string]*RuleCount
	// ruleErrSeen holds the rule failures already logged (worker only).
	ruleErrSeen map[string]bool
}

// RuleCount is how many alerts one rule raised.
type RuleCount struct {
	ID, Name string
	Count    uint64
}

// OnReady sets what to call once everything is watched and the sweeps are
// done: from then on nothing is missed.
func (a *Agent) OnReady(f func()) { a.ready = f }

// Reload queues a change of rules; after runs in the worker once it is in
// effect (to switch the output at the same point).
func (a *Agent) Reload(r Reload, after func()) {
	r.after = after
	a.enqueueWait(item{reload: &r})
}

// SetRuleStatus records how many rules are in force and how many user
// files were rejected, for the metrics.
func (a *Agent) SetRuleStatus(loaded, rejected int) {
	a.stats.RulesLoaded.Store(int64(loaded))
	a.stats.RuleFilesRejected.Store(int64(rejected))
}

// Ping checks that the worker is processing its queue: it answers within
// timeout, or the agent is stuck.
func (a *Agent) Ping(timeout time.Duration) error {
	done := make(chan struct{})
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case a.queue <- item{ping: done}:
	case <-t.C:
		return fmt.Errorf("queue full for %s", timeout)
	}
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("worker did not answer within %s", timeout)
	}
}

// QueueDepth is the number of events waiting.
func (a *Agent) QueueDepth() int { return len(a.queue) }

// Processes is the number of processes in the context table.
func (a *Agent) Processes() int { return a.table.Len() }

// AlertsByRule counts alerts per rule.
func (a *Agent) AlertsByRule() []RuleCount {
	a.alertsMu.Lock()
	defer a.alertsMu.Unlock()
	out := make([]RuleCount, 0, len(a.alerts))
	for _, r := range a.alerts {
		out = append(out, *r)
	}
	return out
}

// WatchFiles hands the kernel's file reports to w (the loader
// configuration watcher).
func (a *Agent) WatchFiles(w FileWatcher) { a.files = w }

// FileWatcher watches the loader's configuration (the loaderconf
// package): it takes the kernel's reports of who touched the files, and
// reports changes.
type FileWatcher interface {
	Attribute(*event.FileOp)
	Sweep() []*loaderconf.Change
	Run(ctx context.Context, emit func(*loaderconf.Change)) error
}

// Publisher delivers documents (the output package's).
type Publisher interface {
	Publish(o *observation.Observation) error
	// Flush writes what the outputs keep; lost is how many documents
	// could not be written.
	Flush() (lost int, err error)
}

// New returns an agent writing to out.
func New(cfg Config, engine *detect.Engine, enc *ecs.Encoder, out Publisher, log logrus.FieldLogger) *Agent {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 8192
	}
	if cfg.MaxProcesses <= 0 {
		cfg.MaxProcesses = 16384
	}
	if cfg.Telemetry == "" {
		cfg.Telemetry = TelemetryLoader
	}
	var containers *containerEngines
	if cfg.ContainerEngine != nil {
		containers = newContainerEngines(cfg.ContainerEngine)
	}
	return &Agent{
		cfg: cfg, log: log, engine: engine, enc: enc, out: out, containers: containers,
		table:  proctable.New(cfg.MaxProcesses),
		queue:  make(chan item, cfg.QueueSize),
		bootAt: bootTime(),
	}
}

// Stats returns the agent's counters.
func (a *Agent) Stats() *Stats { return &a.stats }

// Exec implements event.Handler; it never blocks.
func (a *Agent) Exec(e *event.Exec) {
	a.stats.Execs.Add(1)
	var c container.Container
	if e.Cgroup != "" && a.containers != nil && a.cfg.Containers != nil {
		if c = a.cfg.Containers.FromPath(e.Cgroup); c.ID != "" {
			a.containers.prime(c.ID, e.PID, e.Cgroup)
		}
	}
	var root string
	if e.OtherRoot && c.ID == "" && a.containers != nil {
		// A chroot: its root is opened now, while the process (often a
		// short-lived one) still lives.
		root = a.containers.primeRoot(e.RootDev, e.RootIno, e.PID, e.PPID)
	}
	a.enqueue(item{exec: e, root: root})
}

// ImageLoad implements event.Handler; it never blocks.
func (a *Agent) ImageLoad(e *event.ImageLoad) {
	a.stats.ImageLoads.Add(1)
	a.enqueue(item{image: e})
}

// FileOp implements event.Handler; it never blocks. The report goes to the
// watcher at once, not through the queue: a change it explains may be
// settled while the queue is still busy with other work.
func (a *Agent) FileOp(e *event.FileOp) {
	a.stats.FileOps.Add(1)
	if a.inContainer(e) {
		// Not the host's file: the watcher of the host's files must not
		// take this writer for theirs.
		a.enqueue(item{containerFile: e})
		return
	}
	if a.files != nil {
		a.files.Attribute(e)
	}
}

func (a *Agent) enqueue(it item) {
	select {
	case a.queue <- it:
	default:
		a.stats.Dropped.Add(1)
	}
}

// Run processes events from c until ctx is done. With Sweep set it first
// reports what is already running (after c is attached, so nothing falls
// between the two).
func (a *Agent) Run(ctx context.Context, c Collector) error {
	a.startVouching(c)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for it := range a.queue {
			a.process(it)
			if len(a.queue) == 0 {
				a.flush() // caught up: what is kept goes out now
			}
		}
		// Nothing folded is lost at exit: every open window is closed,
		// and every exec the kernel counted is summarized.
		if a.cfg.Fold != nil {
			a.writeFollowUps(a.cfg.Fold.Flush())
		}
		a.stopVouching()
		a.flush()
	}()
	// The worker owns the folder and the verdicts: windows are closed and
	// summaries written through the queue.
	tickCtx, stopTicks := context.WithCancel(ctx)
	ticksDone := make(chan struct{})
	if a.cfg.Fold == nil && a.vouch == nil {
		close(ticksDone)
	} else {
		go func() {
			defer close(ticksDone)
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-tickCtx.Done():
					return
				case now := <-t.C:
					select {
					case a.queue <- item{tick: now}:
					default: // busy: the next tick closes them
					}
				}
			}
		}()
	}

	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx, a) }()
	filesCtx, stopFiles := context.WithCancel(ctx)
	defer stopFiles()
	filesDone := make(chan struct{})
	if a.files != nil {
		// The watcher learns what the files say now either way; without
		// the sweep it just does not report it.
		for _, ch := range a.files.Sweep() {
			if a.cfg.Sweep {
				a.Change(ch)
			}
		}
		go func() {
			defer close(filesDone)
			if err := a.files.Run(filesCtx, a.Change); err != nil {
				a.log.WithError(err).Warn("loader configuration watch stopped")
			}
		}()
	} else {
		close(filesDone)
	}
	if a.cfg.Sweep {
		a.sweep(ctx, c)
	}
	if a.ready != nil {
		a.ready()
	}
	err := <-errc
	// Nothing may be queued after the queue closes: stop the watcher and
	// the ticks first.
	stopFiles()
	<-filesDone
	stopTicks()
	<-ticksDone
	close(a.queue)
	wg.Wait()
	return err
}

func (a *Agent) process(it item) {
	switch {
	case it.exec != nil:
		a.handleExec(it.exec, it.root)
	case it.image != nil:
		a.handleImage(it.image)
	case it.access != nil:
		a.handleAccess(it.access)
	case it.containerFile != nil:
		a.handleContainerFile(it.containerFile)
	case it.change != nil:
		a.handleChange(it.change)
	case it.reload != nil:
		r := it.reload
		a.cfg.Rules, a.engine, a.cfg.Telemetry, a.cfg.Sweep = r.Rules, r.Engine, r.Telemetry, r.Sweep
		if r.Encoder != nil {
			a.enc = r.Encoder
		}
		if r.ContainerEngine != nil && a.containers != nil {
			a.containers.reset(r.ContainerEngine)
		}
		// Verdicts of the old rules are not the new rules' verdicts.
		a.forgetVouched("reload")
		if r.after != nil {
			r.after()
		}
	case it.ping != nil:
		close(it.ping)
	case it.forget != "":
		a.forgetVouched(it.forget)
	case !it.tick.IsZero():
		if a.cfg.Fold != nil {
			a.writeFollowUps(a.cfg.Fold.Expired(it.tick))
		}
		a.summarizeVouched(false)
	}
}
