package agent

// Judgement inside a container: an engine per container, reading the
// container's files, loader cache and package database through a directory
// descriptor of its root, so a library is judged against what the
// container's own packages installed, not the host's file of the same name.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/loaderconf"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// maxContainerEngines bounds the containers judged at once (each holds a
// descriptor of its root and its judgements).
const maxContainerEngines = 64

type containerEngine struct {
	root *os.File
	path string // /proc/self/fd/N: the root, as paths are opened through it
	// hostPath is a chroot's directory as the host names it ("" for a
	// container): the kernel's paths of its files start with it.
	hostPath string
	eng      *detect.Engine // built at first use
}

// containerEngines builds and keeps the engines. The root is opened once,
// from any live process of the container: the descriptor keeps it
// reachable after that process (often a short-lived one) is gone.
type containerEngines struct {
	mu    sync.Mutex
	build func(root string) *detect.Engine
	m     map[string]*containerEngine
}

func newContainerEngines(build func(root string) *detect.Engine) *containerEngines {
	return &containerEngines{build: build, m: map[string]*containerEngine{}}
}

// reset drops every engine (new rules), keeping none of their verdicts.
func (c *containerEngines) reset(build func(root string) *detect.Engine) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.m {
		e.root.Close()
	}
	c.m, c.build = map[string]*containerEngine{}, build
}

// of returns the engine of p's container, or nil when its root cannot be
// reached (every process of it gone).
func (c *containerEngines) of(p *proctable.Process) *detect.Engine {
	_, eng := c.rootOf(p)
	return eng
}

// rootOf returns the root of p's container, as a path to open files
// through, and its engine (nil when its root cannot be reached).
func (c *containerEngines) rootOf(p *proctable.Process) (string, *detect.Engine) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.open(p.Container.ID, p.PID, p.Cgroup)
	if e == nil {
		return "", nil
	}
	if e.eng == nil {
		e.eng = c.build(e.path)
	}
	return e.path, e.eng
}

// prime opens a new container's root as soon as the kernel reports one of
// its processes (from the reader, before the queue): a container whose
// last process exits at once is still reachable when its events are judged.
func (c *containerEngines) prime(id string, pid uint32, cgroup string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open(id, pid, cgroup)
}

// open returns the container's entry, opening its root if it is new (nil:
// no process of it is left). c.mu is held.
func (c *containerEngines) open(id string, pid uint32, cgroup string) *containerEngine {
	if e, ok := c.m[id]; ok {
		return e
	}
	root := openRoot(pid, cgroup)
	if root == nil {
		return nil
	}
	if len(c.m) >= maxContainerEngines {
		for _, e := range c.m {
			e.root.Close()
		}
		clear(c.m)
	}
	e := &containerEngine{root: root, path: fmt.Sprintf("/proc/self/fd/%d", root.Fd())}
	c.m[id] = e
	return e
}

// openRoot opens the root directory of pid, or of another process of its
// cgroup when pid is gone.
func openRoot(pid uint32, cgroup string) *os.File {
	pids := []uint32{pid}
	if cgroup != "" {
		for _, h := range []string{"", "unified", "pids", "systemd"} {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", h, cgroup, "cgroup.procs"))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if n, err := strconv.ParseUint(f, 10, 32); err == nil {
					pids = append(pids, uint32(n))
				}
			}
			break
		}
	}
	for _, p := range pids {
		f, err := os.OpenFile(fmt.Sprintf("/proc/%d/root", p), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == nil {
			return f
		}
	}
	return nil
}

// primeRoot finds the root directory of a chrooted process (a build
// chroot, debootstrap's second stage, a container no runtime registered),
// the directory dev:ino the kernel reported, and returns its key (""
// unknown). It is opened through the process or its parent (in a chroot
// build, a shell of the same root), whichever still lives, and kept: the
// next process in it is found even when it and its parent are gone. Its
// files are judged there like a container's, by an engine per root.
func (c *containerEngines) primeRoot(dev, ino uint64, pids ...uint32) string {
	key := fmt.Sprintf("root:%d:%d", dev, ino)
	c.mu.Lock()
	_, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return key
	}
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/root", pid)
		path, err := os.Readlink(dir)
		if err != nil || !filepath.IsAbs(path) {
			continue
		}
		f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(int(f.Fd()), &st) != nil || st.Dev != dev || st.Ino != ino {
			f.Close() // not that root (the parent is outside it)
			continue
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.m) >= maxContainerEngines {
			for _, e := range c.m {
				e.root.Close()
			}
			clear(c.m)
		}
		c.m[key] = &containerEngine{root: f, path: fmt.Sprintf("/proc/self/fd/%d", f.Fd()), hostPath: path}
		return key
	}
	return ""
}

// dirOf is the path to open a primed chroot's files through ("": not
// known).
func (c *containerEngines) dirOf(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		return e.path
	}
	return ""
}

// rootPath is the host path of a chroot primed before ("": not known).
func (c *containerEngines) rootPath(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		return e.hostPath
	}
	return ""
}

// ofRoot returns the engine of a chroot primed before (nil: not known).
func (c *containerEngines) ofRoot(key string) *detect.Engine {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil
	}
	if e.eng == nil {
		e.eng = c.build(e.path)
	}
	return e.eng
}

// inRoot is a path the kernel resolved past a chroot's root, as the
// process names it within its root.
func inRoot(root, path string) string {
	if rest, ok := strings.CutPrefix(path, root); ok && root != "" && strings.HasPrefix(rest, "/") {
		return rest
	}
	return path
}

// containerLoader says whether interp is the own loader of p's container
// or chroot, read through the root opened when it was first seen (a
// process's /proc/PID/root vanishes with it, mid-judgement at times). A
// root that could not be opened leaves the path alone to judge.
func (a *Agent) containerLoader(p *proctable.Process, interp string) bool {
	if a.containers == nil || (p.Container.ID == "" && p.RootKey == "") {
		return false
	}
	var root string
	if p.Container.ID != "" {
		root, _ = a.containers.rootOf(p)
	} else {
		root = a.containers.dirOf(p.RootKey)
	}
	if root == "" {
		root = fmt.Sprintf("/proc/%d/root", p.PID)
	}
	return a.cfg.ContainerLoader(root, interp)
}

// engineFor is the engine that judges p: its container's or its chroot's,
// else the host's.
func (a *Agent) engineFor(p *proctable.Process) *detect.Engine {
	if p == nil || a.containers == nil {
		return a.engine
	}
	var e *detect.Engine
	switch {
	case p.Container.ID != "":
		e = a.containers.of(p)
	case p.RootKey != "":
		e = a.containers.ofRoot(p.RootKey)
	}
	if e != nil {
		return e
	}
	return a.engine
}

// containerSettle is how long after its open a container's configuration
// file is read: the writer writes after it opens.
const containerSettle = 150 * time.Millisecond

// inContainer says the kernel reported a write to a file of a container
// (the writer's cgroup names one).
func (a *Agent) inContainer(op *event.FileOp) bool {
	return op.Op == "open-write" && op.Cgroup != "" && a.cfg.Containers != nil && a.containers != nil &&
		a.cfg.Containers.FromPath(op.Cgroup).ID != ""
}

// handleContainerFile reads a container's /etc/ld.so.preload, as the
// writer's container holds it, once the write has settled, and reports
// what it names as a change judged in the container's root. The host's
// watcher sees only the host's files; the state before the write is not
// known, so everything the file names counts as added.
func (a *Agent) handleContainerFile(op *event.FileOp) {
	if d := time.Until(op.Time.Add(containerSettle)); d > 0 {
		time.Sleep(d) // rare: one write of a container's preload file
	}
	writer := a.writerProcess(op)
	writer.Container, writer.Cgroup = a.containerOf(op.PID, op.Cgroup), op.Cgroup
	root, eng := a.containers.rootOf(writer)
	if eng == nil {
		a.log.WithField("container", writer.Container.ID).Warn("a container's loader configuration was written, but no process of the container is left to read it through")
		return
	}
	c := &loaderconf.Change{Time: op.Time, Path: op.Path, Kind: "preload", Type: "change", Writer: op, Writers: 1}
	if f, err := os.Open(filepath.Join(root, op.Path)); err == nil {
		if b, err := io.ReadAll(io.LimitReader(f, 1<<20)); err == nil {
			c.Exists, c.Size, c.Content = true, int64(len(b)), b
			sum := sha256.Sum256(b)
			c.SHA256 = hex.EncodeToString(sum[:])
			parsed := loaderconf.ParsePreload(op.Path, b)
			c.Items, c.ItemsTruncated, c.Added = parsed.Items, parsed.Truncated, parsed.Items
		}
		f.Close()
	}
	a.reportChange(c, writer, a.parent(writer), eng)
}
