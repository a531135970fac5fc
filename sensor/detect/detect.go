// Package detect judges what the sensor saw against the rules: a loader
// variable or loader flag at exec, and a library mapped into a credential
// process that its loader would not have loaded. It computes facts (where a
// library lives, what the loader would load) and scores them; the conditions
// and weights come from the rules data.
package detect

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/proctable"
)

// maxClosures bounds the cached expected sets (one per executable).
const maxClosures = 1024

// Library is one library (or search directory) an alert is about.
type Library struct {
	Path     string // resolved path, as mapped or as the loader would expand it
	Value    string // as written in the variable or flag, when it came from one
	Kind     ldso.Kind
	Source   string // LD_PRELOAD, --preload, mmap, mprotect, /proc/PID/maps
	Location string // location class from the rules
	Deleted  bool
	Memfd    bool
	Dev, Ino uint64
	Size     int64
	// Judgement is the library's verdict (nil for search directories and
	// names the judge could not reach).
	Judgement *judge.Judgement
	// Overrides lists the target's imported functions the library defines.
	Overrides []string
}

// Alert is a detection with its evidence.
type Alert struct {
	Key        string // rules.LoaderVariableAtExec, rules.UnexpectedLibrary
	Detection  *rules.Detection
	Techniques []string // ATT&CK ids, looked up in the rules' techniques
	Time       time.Time
	Score      int
	Level      string
	Reasons    []string
	Libraries  []Library
	Target     string // the program the hook targets
	Credential bool   // the target is a credential program
	// targetWhy says why the target counts as a credential one, when it is
	// not a program by name (a preload list reaches every program).
	targetWhy string
}

// Exec is a process start with its context, for detections that need both.
type Exec struct {
	Process *proctable.Process
	Event   *event.Exec
}

// Engine evaluates events against one rule set.
type Engine struct {
	rules    *rules.Set
	resolver *ldso.Resolver
	judge    *judge.Judge
	imports  *judge.Imports

	mu       sync.Mutex
	closures map[closureKey]*closureResult
}

type closureKey struct {
	path string
	id   ldso.FileID
}

type closureResult struct {
	c   *ldso.Closure
	err error
}

// New returns an engine for rules, resolving expected sets with resolver
// and judging libraries with jd (nil: no judgement).
func New(r *rules.Set, resolver *ldso.Resolver, jd *judge.Judge) *Engine {
	return &Engine{rules: r, resolver: resolver, judge: jd, imports: judge.NewImports(), closures: map[closureKey]*closureResult{}}
}

// Rules returns the rule set in force.
func (e *Engine) Rules() *rules.Set { return e.rules }

// Exec judges a process start. It returns nil when the exec carries nothing
// the loader would act on.
func (e *Engine) Exec(p *proctable.Process, ex *event.Exec) *Alert {
	var env []string
	for _, kv := range p.LoaderEnv {
		name, val, _ := strings.Cut(kv, "=")
		if e.rules.IsLoaderVariable(name) && val != "" {
			env = append(env, kv)
		}
	}
	items := ldso.FromEnv(env)
	target, credential := p.Executable, p.Credential
	if e.rules.IsLoader(filepath.Base(p.Executable)) || ex.Watch&event.WatchLoader != 0 {
		inv := ldso.ParseInvocation(p.Args)
		items = append(items, inv.Items...)
		if inv.Program != "" {
			target = inv.Program
			credential = credential || e.rules.IsCredentialProgram(filepath.Base(inv.Program))
		}
	}
	if len(items) == 0 {
		return nil
	}
	a := e.newAlert(rules.LoaderVariableAtExec, ex.Time, target, credential)
	best := 0
	for _, it := range items {
		lib := Library{Path: it.Path, Value: it.Value, Kind: it.Kind, Source: it.Source}
		lib.Location = e.locationOf(it)
		w := e.rules.Scoring.Location[lib.Location]
		if it.Kind == ldso.SearchDir {
			w = max(0, w-e.rules.Scoring.SearchPathDiscount)
		}
		a.Reasons = append(a.Reasons, fmt.Sprintf("%s names %s %s (%s)", it.Source, kindNoun(it.Kind), it.Value, lib.Location))
		if it.Kind != ldso.SearchDir && strings.HasPrefix(it.Path, "/") {
			w += e.judgeInto(&lib, judge.Input{Path: filepath.Clean(it.Path)}, target, a)
		}
		best = max(best, w)
		a.Libraries = append(a.Libraries, lib)
	}
	e.score(a, best)
	return a
}

// judgeInto judges a library into lib, adds its findings to the alert's
// reasons, and returns the weight they add.
func (e *Engine) judgeInto(lib *Library, in judge.Input, target string, a *Alert) int {
	if e.judge == nil {
		return 0
	}
	j := e.judge.Judge(context.Background(), in)
	lib.Judgement = j
	if !j.Exists {
		return 0
	}
	if target == "" {
		// No one target (a preload list reaches every program).
	} else if imports, err := e.imports.Of(target); err == nil {
		lib.Overrides = judge.Overrides(j, imports)
	}
	w := j.Score()
	for _, f := range j.Findings {
		a.Reasons = append(a.Reasons, f.Text)
	}
	if len(lib.Overrides) > 0 {
		w += e.rules.Judgement.Weights[rules.FindingOverridesImports]
		a.Reasons = append(a.Reasons, fmt.Sprintf("would override %s imported by %s", strings.Join(lib.Overrides, ", "), filepath.Base(target)))
	}
	return w
}

// locationOf classes a variable's item. A bare name in LD_PRELOAD is looked
// up in the loader's search path: it is as trustworthy as where it resolves.
func (e *Engine) locationOf(it ldso.Item) string {
	if it.Kind == ldso.Preload && !strings.Contains(it.Path, "/") {
		return "system"
	}
	return e.rules.LocationClass(filepath.Clean(it.Path), false, false)
}

func kindNoun(k ldso.Kind) string {
	switch k {
	case ldso.Preload:
		return "preload library"
	case ldso.Audit:
		return "audit module"
	case ldso.SearchDir:
		return "search directory"
	case "include":
		return "include"
	case "environmentfile":
		return "environment file"
	}
	return "value"
}

// ImageLoad judges a file mapped executable into process p. It returns the
// alerts (none, an unexpected library, or a tampered one), the library's
// judgement when one was made, and whether the library was expected. A
// library already judged in p is skipped (repeat true). start and end bound
// the live mapping, for reading deleted and memory-backed files.
func (e *Engine) ImageLoad(p *proctable.Process, il *event.ImageLoad, start, end uint64) (alerts []*Alert, j *judge.Judgement, expected, repeat bool) {
	key := il.Path
	if il.Deleted || il.Memfd {
		key = fmt.Sprintf("%s\x00%d:%d", il.Path, il.Dev, il.Ino)
	}
	if p.Judged == nil {
		p.Judged = map[string]bool{}
	}
	if p.Judged[key] {
		return nil, nil, false, true
	}
	p.Judged[key] = true

	id := ldso.FileID{Dev: il.Dev, Ino: il.Ino}
	reasons := []string{}
	if !il.Deleted && !il.Memfd {
		if p.Expected == nil {
			c, err := e.closure(p.Executable)
			if err != nil {
				reasons = append(reasons, fmt.Sprintf("expected set unknown: %v", err))
				c = &ldso.Closure{Paths: map[string]bool{}, IDs: map[ldso.FileID]bool{}}
			}
			p.Expected = c
		}
		if p.Extra == nil {
			p.Extra = &ldso.Closure{Paths: map[string]bool{}, IDs: map[ldso.FileID]bool{}}
		}
		switch {
		case il.Path == p.Executable || p.Expected.Contains(il.Path, id) || p.Extra.Contains(il.Path, id):
			expected = true
		case e.rules.ExpectedFamily(il.Path):
			expected = true
			// What a PAM or NSS module needs comes with it.
			if c, err := e.closure(il.Path); err == nil {
				for path := range c.Paths {
					p.Extra.Add(path)
				}
			}
		}
	}
	if !p.Credential {
		return nil, nil, expected, false
	}

	lib := Library{
		Path: il.Path, Kind: ldso.Preload, Source: "mmap", Deleted: il.Deleted, Memfd: il.Memfd,
		Dev: il.Dev, Ino: il.Ino, Size: il.Size,
	}
	if il.Mprotect {
		lib.Source = "mprotect"
	}
	if il.FromSweep {
		lib.Source = "/proc/PID/maps"
	}
	lib.Location = e.rules.LocationClass(il.Path, il.Deleted, il.Memfd)
	a := e.newAlert(rules.UnexpectedLibrary, il.Time, p.Executable, true)
	in := judge.Input{Path: il.Path, Deleted: il.Deleted, Memfd: il.Memfd, PID: il.PID, Start: start, End: end}
	if expected {
		// Expected by name: judged for what the name now leads to.
		a = e.newAlert(rules.TamperedLibrary, il.Time, p.Executable, true)
		w := e.judgeInto(&lib, in, p.Executable, a)
		j = lib.Judgement
		if j == nil || !(j.Has(rules.FindingPackageModified) || j.Has(rules.FindingSymlinkRetargeted) || j.Has(rules.FindingUnownedInSystemDir)) {
			return nil, j, true, false
		}
		a.Libraries = []Library{lib}
		a.Reasons = append([]string{fmt.Sprintf("%s, loaded by %s under its usual name, is not what its package shipped", il.Path, filepath.Base(p.Executable))}, a.Reasons...)
		e.score(a, e.rules.Scoring.Location[lib.Location]+w)
		return []*Alert{a}, j, true, false
	}

	a.Reasons = append(a.Reasons, fmt.Sprintf("%s mapped executable into %s, which its loader would not load (%s)", il.Path, filepath.Base(p.Executable), lib.Location))
	if il.Deleted {
		a.Reasons = append(a.Reasons, "the file was deleted")
	}
	if il.Memfd {
		a.Reasons = append(a.Reasons, "the file is memory-backed (memfd)")
	}
	a.Reasons = append(a.Reasons, reasons...)
	w := e.judgeInto(&lib, in, p.Executable, a)
	a.Libraries = []Library{lib}
	e.score(a, e.rules.Scoring.Location[lib.Location]+w)
	return []*Alert{a}, lib.Judgement, false, false
}

func (e *Engine) newAlert(key string, t time.Time, target string, credential bool) *Alert {
	d := e.rules.Detections[key]
	techs := append([]string{}, d.Techniques...)
	if credential {
		techs = append(techs, d.CredentialTechniques...)
	}
	sort.Strings(techs)
	return &Alert{Key: key, Detection: d, Techniques: techs, Time: t, Target: target, Credential: credential}
}

// score sets the alert's score and level; for a credential target it puts
// why first (targetWhy, or that the target is a credential program).
func (e *Engine) score(a *Alert, locationWeight int) {
	target := "other"
	if a.Credential {
		target = "credential"
		why := a.targetWhy
		if why == "" {
			why = filepath.Base(a.Target) + " is a credential program"
		}
		a.Reasons = append([]string{why}, a.Reasons...)
	}
	a.Score = max(0, min(100, e.rules.Scoring.Target[target]+locationWeight))
	a.Level = e.rules.Level(a.Score)
}

// Judge judges one library (nil when the engine has no judge), for
// telemetry that is not an alert.
func (e *Engine) Judge(in judge.Input) *judge.Judgement {
	if e.judge == nil {
		return nil
	}
	return e.judge.Judge(context.Background(), in)
}

// closure returns the expected set of an executable, cached per file.
func (e *Engine) closure(path string) (*ldso.Closure, error) {
	id, err := ldso.StatID(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	k := closureKey{path: path, id: id}
	e.mu.Lock()
	r, ok := e.closures[k]
	e.mu.Unlock()
	if ok {
		return r.c, r.err
	}
	c, err := e.resolver.Resolve(path)
	e.mu.Lock()
	if len(e.closures) >= maxClosures {
		clear(e.closures) // rare: a simple reset beats LRU bookkeeping here
	}
	e.closures[k] = &closureResult{c: c, err: err}
	e.mu.Unlock()
	return c, err
}
