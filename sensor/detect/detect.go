// Package detect turns what the sensor saw into the events the Sigma rules
// decide on. It computes facts (what the loader would load, where a library
// lives, whether an allowlist entry vouches for it, what the library's
// judgement found, a risk score) and lays them out as the fields of a
// process_creation, image_load or file_event; the rules, not this package,
// say which events are alerts and how severe.
package detect

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hookwatch/hookwatch/internal/bounded"
	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/allowlist"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/loaderconf"
	"github.com/hookwatch/hookwatch/sensor/proctable"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

// maxClosures bounds the cached expected sets (one per executable).
const maxClosures = 1024

// Library is one library (or search directory) an event is about.
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
	// Trust is the library's trust class (Trust* constants).
	Trust string
	// Allowlist is the allowlist entry that vouches for it, if any.
	Allowlist string
}

// Trust classes of a library, worst last.
const (
	TrustAllowlisted = "allowlisted" // an allowlist entry vouches for path and bytes
	TrustPackaged    = "packaged"    // a package owns it and its bytes match
	TrustUnvouched   = "unvouched"   // nothing vouches for it
	TrustUntrusted   = "untrusted"   // it lives where anyone can plant it, or nowhere
)

var trustRank = map[string]int{TrustAllowlisted: 1, TrustPackaged: 2, TrustUnvouched: 3, TrustUntrusted: 4}

// Event is one observation as the rules see it: its Sigma category, its
// fields, and the evidence an alert on it carries.
type Event struct {
	Category string
	Fields   map[string]any
	Time     time.Time
	// Score is the risk score (0-100) the facts add up to; 0 when the
	// event carries nothing the loader would act on.
	Score     int
	Reasons   []string
	Libraries []Library
	Target    string // the program the hook targets, or the file changed
	// Credential says the target handles credentials (a credential
	// program, or everything a preload file reaches).
	Credential bool
	// targetWhy says why the target counts as a credential one, when it is
	// not a program by name.
	targetWhy string
}

// Alert is an event a rule matched.
type Alert struct {
	*Event
	Rule *ruleset.Rule
}

// Names resolves user ids to names.
type Names interface {
	User(uid uint32) (string, bool)
}

// Config is what an engine works with.
type Config struct {
	Rules    *rules.Set
	Sigma    *ruleset.Set
	Allow    *allowlist.List
	Resolver *ldso.Resolver
	Judge    *judge.Judge // nil: no judgement
	Names    Names        // nil: users by id
	// Root is where the paths of events are read ("" or "/": the host; a
	// container's root, which the Resolver and Judge read through too).
	Root string
	// MaxProcesses bounds the processes whose libraries are remembered
	// (0: defaultMaxProcesses); the agent's process table holds as many.
	MaxProcesses int
}

// Engine builds events and evaluates them against one rule set.
type Engine struct {
	cfg     Config
	rules   *rules.Set
	imports *judge.Imports

	closures *bounded.Map[closureKey, closureResult]
	programs *bounded.Map[closureKey, program]
	purposes *purposes
	// procs is what is known of each process's libraries (procstate.go).
	procs *bounded.LRU[procKey, *procState]
	// overrides remembers which of a target's imports a library defines:
	// a judgement is never changed once made, and comparing libc's few
	// thousand symbols with a program's imports at every mapping of every
	// watched process was a tenth of the agent's work in a storm.
	overrides *bounded.Map[overrideKey, []string]
	// families remembers which paths match an expected family's glob:
	// two dozen globs for every unexpected mapping otherwise.
	families *bounded.Map[string, bool]
}

// maxFamilies bounds the paths whose family is remembered.
const maxFamilies = 4096

// expectedFamily is rules.ExpectedFamily, remembered by path.
func (e *Engine) expectedFamily(path string) bool {
	if ok, known := e.families.Get(path); known {
		return ok
	}
	ok := e.rules.ExpectedFamily(path)
	e.families.Put(path, ok)
	return ok
}

// closureKey is an executable by path and version: a verdict on it (its
// expected set, its state) is remade when its bytes may have changed,
// rewritten in place included.
type closureKey struct {
	path string
	v    ldso.Version
}

type closureResult struct {
	c   *ldso.Closure
	err error
}

// New returns an engine.
func New(c Config) *Engine {
	if c.MaxProcesses <= 0 {
		c.MaxProcesses = defaultMaxProcesses
	}
	return &Engine{cfg: c, procs: bounded.NewLRU[procKey, *procState](c.MaxProcesses), rules: c.Rules, imports: judge.NewImports(), closures: bounded.New[closureKey, closureResult](maxClosures), programs: bounded.New[closureKey, program](maxProgramVerdicts),
		purposes: newPurposes(), overrides: bounded.New[overrideKey, []string](maxOverrides), families: bounded.New[string, bool](maxFamilies)}
}

// Rules returns the conditions in force.
func (e *Engine) Rules() *rules.Set { return e.rules }

// Sigma returns the Sigma rules in force.
func (e *Engine) Sigma() *ruleset.Set { return e.cfg.Sigma }

// Evaluate runs the rules of the event's category over it: one alert per
// matching rule. Errors are rules that could not be evaluated.
func (e *Engine) Evaluate(ev *Event) ([]*Alert, []error) {
	if ev == nil || e.cfg.Sigma == nil {
		return nil, nil
	}
	matched, errs := e.cfg.Sigma.Match(ev.Category, ev.Fields)
	var out []*Alert
	for _, r := range matched {
		out = append(out, &Alert{Event: ev, Rule: r})
	}
	return out, errs
}

// Exec builds the process_creation event of a process start: the loader
// variables and flags it carries, the libraries they name and their
// judgement, and whether it runs under an alternate loader.
func (e *Engine) Exec(p, parent *proctable.Process, ex *event.Exec) *Event {
	var env []string
	var vars []string
	for _, kv := range p.LoaderEnv {
		name, val, _ := strings.Cut(kv, "=")
		if e.rules.IsLoaderVariable(name) && val != "" {
			env = append(env, kv)
			vars = append(vars, name)
		}
	}
	items := ldso.FromEnv(env)
	target, credential := p.Executable, p.Credential
	// The loader run directly: by its name, or by comm (the kernel's
	// WatchLoader) when no odd interpreter or loader-like image set it.
	direct := e.rules.IsLoader(filepath.Base(p.Executable)) || (ex.Watch&event.WatchLoader != 0 && !ex.OddInterpreter && !ex.LoaderLike)
	var flags []string
	if direct || ex.LoaderLike {
		inv := ldso.ParseInvocation(p.Args)
		if direct {
			items = append(items, inv.Items...)
			for _, it := range inv.Items {
				flags = append(flags, it.Source)
			}
		}
		if inv.Program != "" {
			target = inv.Program
			credential = credential || e.rules.IsCredential(inv.Program, "")
		}
	}
	ev := e.newEvent(ruleset.ProcessCreation, ex.Time, target, credential)
	e.processFields(ev.Fields, p, parent)
	setList(ev.Fields, "LoaderVariable", vars)
	setList(ev.Fields, "LoaderFlag", flags)
	ev.Fields["LoaderRunDirectly"] = direct
	ev.Fields["TargetImage"] = target
	exe := exeVersion(ex)
	if credential {
		prog := e.credentialProgram(target, seenAs(target, p.Executable, exe))
		setString(ev.Fields, "ImageState", prog.state)
		switch prog.state {
		case ImageModified:
			ev.Reasons = append(ev.Reasons, fmt.Sprintf("%s is not what its package shipped", target))
		case ImageNotPackaged:
			ev.Reasons = append(ev.Reasons, fmt.Sprintf("%s is a credential program by name that no package installed (its libraries are expected as %s loads them)", target, prog.reference))
		case ImageCopy:
			ev.Reasons = append(ev.Reasons, fmt.Sprintf("%s is a copy of %s", target, prog.reference))
		}
	}

	var dirs []string
	for _, it := range items {
		if it.Kind == ldso.SearchDir {
			dirs = append(dirs, it.Path)
		}
	}
	best := 0
	for _, it := range items {
		if it.Kind == ldso.Preload && !strings.Contains(it.Path, "/") && e.cfg.Resolver != nil {
			// A bare name is searched for as the loader would, so the
			// library it leads to is judged (fakeroot preloads this way).
			if found := e.cfg.Resolver.Find(it.Path, target, dirs); found != "" {
				// The file the loader maps: ld.so.cache names it through
				// /lib (a symlink to /usr/lib) and a development symlink
				// (libeatmydata.so), the package and the allowlists by
				// its real path.
				if real, err := filepath.EvalSymlinks(e.onHost(found)); err == nil {
					found = e.fromHost(real)
				}
				it.Path = found
			}
		}
		lib := Library{Path: it.Path, Value: it.Value, Kind: it.Kind, Source: it.Source}
		lib.Location = e.locationOf(it)
		w := e.rules.Scoring.Location[lib.Location]
		if it.Kind == ldso.SearchDir {
			w = max(0, w-e.rules.Scoring.SearchPathDiscount)
		}
		ev.Reasons = append(ev.Reasons, fmt.Sprintf("%s names %s %s (%s)", it.Source, kindNoun(it.Kind), it.Value, lib.Location))
		if it.Kind != ldso.SearchDir && strings.HasPrefix(it.Path, "/") {
			w += e.judgeInto(&lib, judge.Input{Path: filepath.Clean(it.Path)}, target, ev)
		}
		best = max(best, w)
		ev.Libraries = append(ev.Libraries, lib)
	}
	if alt := e.alternateLoader(p, ex, target, ev); alt >= 0 {
		best = max(best, alt)
	}
	if len(ev.Libraries) > 0 {
		e.score(ev, best)
	}
	e.libraryFields(ev)
	s := e.newImage(p, exe)
	for _, l := range ev.Libraries {
		if l.Trust == TrustAllowlisted {
			e.addExtra(s, l.Path)
		}
	}
	return ev
}

// alternateLoader adds the facts of an exec whose interpreter is not a
// system loader, or of a copy of the loader run under another name, and
// returns their weight (-1: neither).
func (e *Engine) alternateLoader(p *proctable.Process, ex *event.Exec, target string, ev *Event) int {
	setString(ev.Fields, "Interpreter", ex.Interpreter)
	ev.Fields["InterpreterUnexpected"] = ex.OddInterpreter
	copyOfLoader := ex.LoaderLike && ldso.IsLoader(ex.Executable)
	ev.Fields["LoaderCopy"] = copyOfLoader
	var reason, lib string
	switch {
	case ex.OddInterpreter:
		reason = fmt.Sprintf("%s runs with ELF interpreter %s, not a system loader", ex.Executable, ex.Interpreter)
		lib = ex.Interpreter
	case copyOfLoader:
		reason = fmt.Sprintf("%s is a copy of the dynamic loader, run under another name", ex.Executable)
		lib = ex.Executable
	default:
		return -1
	}
	if ex.LoaderLike {
		for _, it := range ldso.ParseInvocation(p.Args).Items {
			reason += fmt.Sprintf("; %s %s", it.Source, it.Value)
		}
	}
	l := Library{Path: lib, Kind: "interpreter", Source: "exec", Location: e.rules.LocationClass(lib, false, false)}
	ev.Reasons = append(ev.Reasons, reason)
	w := e.rules.Scoring.Location[l.Location] + e.judgeInto(&l, judge.Input{Path: lib}, target, ev)
	ev.Libraries = append([]Library{l}, ev.Libraries...)
	// Swapping the loader is never routine: it weighs as much as a
	// library in a temporary directory, wherever the copy lives.
	return max(w, e.rules.Scoring.Location["temporary"])
}

// locationOf classes a variable's item. A bare name in LD_PRELOAD is looked
// up in the loader's search path: it is as trustworthy as where it resolves.
func (e *Engine) locationOf(it ldso.Item) string {
	if it.Kind == ldso.Preload && !strings.Contains(it.Path, "/") {
		return "system"
	}
	return e.rules.LocationClass(filepath.Clean(it.Path), false, false)
}

// kindNoun names a loader item's kind in reasons.
func kindNoun(k ldso.Kind) string {
	switch k {
	case ldso.Preload:
		return "preload library"
	case ldso.Audit:
		return "audit module"
	case ldso.SearchDir:
		return "search directory"
	case "environmentfile":
		return "environment file"
	case loaderconf.KindNSS:
		return "name service source"
	case loaderconf.KindPAMExecAuthtok:
		return "pam_exec handing the password to"
	case "include", loaderconf.KindModule:
		return string(k)
	}
	return "value"
}

func (e *Engine) newEvent(category string, t time.Time, target string, credential bool) *Event {
	f, _ := fieldMaps.Get().(map[string]any)
	if f == nil {
		// Sized for an event's two dozen fields: grown step by step, the
		// map was rebuilt twice per event.
		f = make(map[string]any, 24)
	}
	f["CredentialTarget"], f["RiskScore"] = credential, 0
	return &Event{Category: category, Time: t, Target: target, Credential: credential, Fields: f}
}

// fieldMaps are the fields maps of events done with (Release): an event's
// map was a sixth of the agent's garbage in a storm.
var fieldMaps sync.Pool

// Release hands back ev's fields map once ev and its alerts are done with:
// every document written, nothing holding ev. Its fields are gone then.
func Release(ev *Event) {
	if ev == nil || ev.Fields == nil {
		return
	}
	clear(ev.Fields)
	fieldMaps.Put(ev.Fields)
	ev.Fields = nil
}

// score sets the event's risk score; for a credential target it puts why
// first (targetWhy, or that the target is a credential program).
func (e *Engine) score(ev *Event, locationWeight int) {
	target := "other"
	if ev.Credential {
		target = "credential"
		why := ev.targetWhy
		if why == "" {
			why = filepath.Base(ev.Target) + " is a credential program"
		}
		ev.Reasons = append([]string{why}, ev.Reasons...)
	}
	ev.Score = max(0, min(100, e.rules.Scoring.Target[target]+locationWeight))
	ev.Fields["RiskScore"] = ev.Score
}

// Judge judges one library (nil when the engine has no judge), for
// telemetry that is not an alert.
func (e *Engine) Judge(in judge.Input) *judge.Judgement {
	if e.cfg.Judge == nil {
		return nil
	}
	return e.cfg.Judge.Judge(context.Background(), in)
}
