package agent

// Judgement inside a container: an engine per container, reading the
// container's files, loader cache and package database through a directory
// descriptor of its root, so a library is judged against what the
// container's own packages installed, not the host's file of the same name.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hookwatch/hookwatch/sensor/detect"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// maxContainerEngines bounds the containers judged at once (each holds a
// descriptor of its root and its judgements).
const maxContainerEngines = 64

type containerEngine struct {
	root *os.File
	eng  *detect.Engine
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
	id := p.Container.ID
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok {
		return e.eng
	}
	root := openRoot(p.PID, p.Cgroup)
	if root == nil {
		return nil
	}
	if len(c.m) >= maxContainerEngines {
		for _, e := range c.m {
			e.root.Close()
		}
		clear(c.m)
	}
	e := &containerEngine{root: root, eng: c.build(fmt.Sprintf("/proc/self/fd/%d", root.Fd()))}
	c.m[id] = e
	return e.eng
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

// engineFor is the engine that judges p: its container's, else the host's.
func (a *Agent) engineFor(p *proctable.Process) *detect.Engine {
	if p == nil || p.Container.ID == "" || a.containers == nil {
		return a.engine
	}
	if e := a.containers.of(p); e != nil {
		return e
	}
	return a.engine
}
