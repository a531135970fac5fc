package detect

// What the engine knows of each process's libraries, by entity id: kept
// with the judgements it is made of, not in the agent's process table.

import (
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// defaultMaxProcesses bounds the processes remembered when the
// configuration names no bound.
const defaultMaxProcesses = 65536

// procState is what the engine knows of one process image's libraries.
type procState struct {
	// expected is what the loader would map for the executable, and
	// extra what expected families (PAM, NSS) and allowlisted preloaders
	// pulled in since. Nil until needed.
	expected, extra *ldso.Closure
	// judged holds the libraries already judged in this process, so a
	// library mapped in several segments is reported once: a short list
	// (most processes map a few), a set past smallJudged.
	judged    []string
	judgedSet map[string]bool
	// exe is the executable's version as the kernel told it at exec
	// (zero: not told).
	exe ldso.Version
}

// smallJudged is how many judged libraries a process keeps in a list
// before a set: a list of a few costs a tenth of a map, and the state of
// thousands of processes is kept.
const smallJudged = 32

// firstJudging says whether the library named key is judged in this
// process for the first time, and remembers it.
func (s *procState) firstJudging(key string) bool {
	if s.judgedSet != nil {
		if s.judgedSet[key] {
			return false
		}
		s.judgedSet[key] = true
		return true
	}
	for _, k := range s.judged {
		if k == key {
			return false
		}
	}
	s.judged = append(s.judged, key)
	if len(s.judged) > smallJudged {
		s.judgedSet = make(map[string]bool, 2*smallJudged)
		for _, k := range s.judged {
			s.judgedSet[k] = true
		}
		s.judged = nil
	}
	return true
}

// procKey names a process: by entity id, or (a process built without one,
// as tests do) by its context.
type procKey struct {
	id string
	p  *proctable.Process
}

func keyOf(p *proctable.Process) procKey {
	if p.EntityID != "" {
		return procKey{id: p.EntityID}
	}
	return procKey{p: p}
}

// stateOf returns p's state. A process first seen mapping a library has
// its parent's expected sets when it runs the same executable (forked,
// not exec'd: the same image), else a fresh state.
func (e *Engine) stateOf(p, parent *proctable.Process) *procState {
	k := keyOf(p)
	if s, ok := e.procs.Get(k); ok {
		return s
	}
	s := &procState{}
	if parent != nil && parent.Executable == p.Executable {
		if ps, ok := e.procs.Get(keyOf(parent)); ok {
			s.expected, s.extra, s.exe = ps.expected, ps.extra, ps.exe
		}
	}
	e.procs.Put(k, s)
	return s
}

// newImage starts p's state afresh: an exec replaced its image, of
// version exe.
func (e *Engine) newImage(p *proctable.Process, exe ldso.Version) *procState {
	s := &procState{exe: exe}
	e.procs.Put(keyOf(p), s)
	return s
}

// addExtra adds what a library needs to the process's expected set:
// a library loaded on purpose (an expected family, an allowlisted
// preloader) brings its own DT_NEEDED libraries with it (libfaketime
// brings libm).
func (e *Engine) addExtra(s *procState, lib string) {
	if s.extra == nil {
		s.extra = emptyClosure()
	}
	if c, err := e.closure(lib, ldso.Version{}); err == nil {
		for path := range c.Paths {
			s.extra.Add(path)
		}
	}
}

func emptyClosure() *ldso.Closure {
	return &ldso.Closure{Paths: map[string]bool{}, IDs: map[ldso.FileID]bool{}}
}
