// Package sweep reports the processes that were running before the sensor
// started, so a hook planted earlier is still seen: every credential
// program, the loader run directly, and every process whose environment
// holds a loader variable is marked watched in the collector, and handed
// on as the kernel would have reported it (its exec, then each executable
// mapping), marked FromSweep.
package sweep

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/procfs"
)

// Config is what a sweep reads.
type Config struct {
	Proc  procfs.FS
	Rules *rules.Set
	Self  uint32 // the sensor's own pid, left out
}

// Watcher marks a running process watched (the collector).
type Watcher interface {
	Watch(pid uint32, why event.Watch) error
}

// Emit takes what the sweep forges: an exec, then the process's
// executable mappings. It may wait (the sweep is not the kernel reader).
type Emit func(exec *event.Exec, images []*event.ImageLoad)

// Run sweeps every process; swept is how many it examined. A process gone
// meanwhile is skipped; an error marking one is logged by warn and ends
// the marking of that process only.
func Run(ctx context.Context, cfg Config, w Watcher, emit Emit, warn func(pid uint32, err error)) (swept int, err error) {
	pids, err := cfg.Proc.PIDs()
	if err != nil {
		return 0, err
	}
	for _, pid := range pids {
		if ctx.Err() != nil {
			return swept, nil
		}
		if pid == cfg.Self {
			continue
		}
		if one(cfg, w, emit, warn, pid) {
			swept++
		}
	}
	return swept, nil
}

// one sweeps a process; false when it could not be read (a kernel thread,
// or gone already).
func one(cfg Config, w Watcher, emit Emit, warn func(uint32, error), pid uint32) bool {
	st, err := cfg.Proc.Stat(pid)
	if err != nil {
		return false
	}
	exe, err := cfg.Proc.Exe(pid)
	if err != nil {
		return false
	}
	env, _ := cfg.Proc.Environ(pid)
	loaderEnv := cfg.Rules.LoaderEnv(env)
	credential := cfg.Rules.IsCredential(exe, st.Comm)
	loader := cfg.Rules.IsLoader(filepath.Base(exe))
	if !credential && !loader && len(loaderEnv) == 0 {
		return true
	}
	var watch event.Watch
	if credential {
		watch |= event.WatchCredential
	}
	if loader {
		watch |= event.WatchLoader
	}
	if len(loaderEnv) > 0 {
		watch |= event.WatchLoaderEnv
	}
	// Every thread: a reader may name any of them (ptrace, process_vm_readv).
	tids, _ := cfg.Proc.Threads(pid)
	for _, tid := range append([]uint32{pid}, tids...) {
		if err := w.Watch(tid, watch); err != nil {
			warn(tid, err)
			break
		}
	}
	args, _ := cfg.Proc.Cmdline(pid)
	proc := event.Proc{
		Time: time.Now(), StartTime: st.StartTicks * (1e9 / procfs.TicksPerSecond), PID: pid, TID: pid, PPID: st.PPID,
		UID: st.UID, GID: st.GID, EUID: st.EUID, EGID: st.EGID, LoginUID: ^uint32(0), Comm: st.Comm,
	}
	exec := &event.Exec{Proc: proc, Watch: watch, Executable: exe, Args: args, LoaderEnv: loaderEnv, FromSweep: true}
	emit(exec, images(cfg, pid, proc, watch))
	return true
}

// images are the process's executable mappings, one per file.
func images(cfg Config, pid uint32, proc event.Proc, watch event.Watch) []*event.ImageLoad {
	maps, err := cfg.Proc.Maps(pid)
	if err != nil {
		return nil
	}
	var out []*event.ImageLoad
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
		name := strconv.FormatUint(m.Start, 16) + "-" + strconv.FormatUint(m.End, 16)
		if fi, err := os.Stat(filepath.Join(cfg.Proc.Root, strconv.Itoa(int(pid)), "map_files", name)); err == nil {
			il.Version.Size = fi.Size()
		}
		out = append(out, il)
	}
	return out
}
