package agent

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/procfs"
)

// sweep reports processes that were running before the sensor started, so a
// hook planted earlier is still seen: every credential program, the loader
// run directly, and every process whose environment holds a loader variable
// is marked watched in the collector, and its executable mappings are judged
// as if they had just been made.
func (a *Agent) sweep(ctx context.Context, c Collector) {
	pids, err := a.cfg.Proc.PIDs()
	if err != nil {
		a.log.WithError(err).Warn("startup sweep skipped")
		return
	}
	self := uint32(os.Getpid())
	for _, pid := range pids {
		if ctx.Err() != nil {
			return
		}
		if pid == self {
			continue
		}
		a.sweepOne(c, pid)
	}
}

func (a *Agent) sweepOne(c Collector, pid uint32) {
	p, err := a.fromProc(pid)
	if err != nil {
		return // a kernel thread, or gone already
	}
	a.stats.Swept.Add(1)
	env, _ := a.cfg.Proc.Environ(pid)
	loaderEnv := a.cfg.Rules.LoaderEnv(env)
	loader := a.cfg.Rules.IsLoader(filepath.Base(p.Executable))
	if !p.Credential && !loader && len(loaderEnv) == 0 {
		return
	}
	var watch event.Watch
	if p.Credential {
		watch |= event.WatchCredential
	}
	if loader {
		watch |= event.WatchLoader
	}
	if len(loaderEnv) > 0 {
		watch |= event.WatchLoaderEnv
	}
	// Every thread: a reader may name any of them (ptrace, process_vm_readv).
	tids, _ := a.cfg.Proc.Threads(pid)
	for _, tid := range append([]uint32{pid}, tids...) {
		if err := c.Watch(tid, watch); err != nil {
			a.log.WithError(err).WithField("pid", tid).Warn("cannot watch a running process")
			break
		}
	}
	now := time.Now()
	startNS := p.StartTicks * (1e9 / ticksPerSecond)
	proc := event.Proc{
		Time: now, StartTime: startNS, PID: pid, TID: pid, PPID: p.PPID,
		UID: p.UID, GID: p.GID, EUID: p.EUID, EGID: p.EGID, LoginUID: ^uint32(0), Comm: p.Name,
	}
	a.enqueueWait(item{exec: &event.Exec{
		Proc: proc, Watch: watch, Executable: p.Executable, Args: p.Args,
		LoaderEnv: loaderEnv, FromSweep: true,
	}})

	maps, err := a.cfg.Proc.Maps(pid)
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, m := range maps {
		if !m.Executable() || !strings.HasPrefix(m.Path, "/") || seen[m.Path] {
			continue
		}
		seen[m.Path] = true
		il := &event.ImageLoad{
			Proc: proc, Watch: watch, Path: m.Path, Ino: m.Inode, Dev: procfs.ParseDev(m.Dev),
			Addr: m.Start, Deleted: m.Deleted, Memfd: strings.HasPrefix(m.Path, "/memfd:"), FromSweep: true,
		}
		if fi, err := os.Stat(filepath.Join(a.cfg.Proc.Root, strconv.Itoa(int(pid)), "map_files", mapFilesName(m))); err == nil {
			il.Size = fi.Size()
		}
		a.enqueueWait(item{image: il})
	}
}

// enqueueWait queues without dropping: the sweep is not the kernel reader,
// it can wait.
func (a *Agent) enqueueWait(it item) {
	a.queue <- it
}

func mapFilesName(m procfs.Mapping) string {
	return strconv.FormatUint(m.Start, 16) + "-" + strconv.FormatUint(m.End, 16)
}

// bootTime is the wall-clock time of boot, for turning start times since
// boot into dates.
func bootTime() time.Time {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return time.Time{}
	}
	return time.Now().Add(-time.Duration(ts.Nano()))
}
