package detect

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hookwatch/hookwatch/rules"
	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/loaderconf"
)

// ByPackageManager reports whether a change was made by the package manager
// or something it ran (ldconfig from a postinst): the writer's comm or one
// of its ancestors' is a package manager's.
func (e *Engine) ByPackageManager(op *event.FileOp) bool {
	if op == nil {
		return false
	}
	if e.rules.IsPackageManager(op.Comm) {
		return true
	}
	for _, a := range op.Ancestors {
		if e.rules.IsPackageManager(a) {
			return true
		}
	}
	return false
}

// LoaderConfig judges a change to the loader's configuration. It returns
// nil for changes that are telemetry: made by the package manager, the
// cache rebuilt, deletions, or nothing the loader would act on added.
func (e *Engine) LoaderConfig(c *loaderconf.Change) *Alert {
	if e.ByPackageManager(c.Writer) || c.Kind == "cache" {
		return nil
	}
	target, credential := "every process", true
	if c.Kind == "ldconf" {
		// Search directories change where libraries come from, for
		// every program alike.
		credential = false
	}
	if c.Kind == "unit" {
		target = "the service " + filepath.Base(c.Path)
	}
	a := e.newAlert(rules.LoaderConfigTampering, c.Time, target, credential)
	a.Target = c.Path
	best := 0
	switch {
	case c.Type == "rename" && c.Kind == "preload":
		// Azazel renames the preload file away so `cat` and `ls /etc`
		// see nothing, and back when it needs the loader again.
		a.Reasons = append(a.Reasons, fmt.Sprintf("%s renamed away to %s: hiding it", c.Path, c.RenamedTo))
		best = e.rules.Scoring.Location["other"]
	case len(c.Added) > 0:
		for _, it := range c.Added {
			lib := Library{Path: it.Path, Value: it.Value, Kind: it.Kind, Source: c.Path}
			lib.Location = e.locationOf(it)
			w := e.rules.Scoring.Location[lib.Location]
			if it.Kind == ldso.SearchDir || it.Kind == "include" || it.Kind == "environmentfile" {
				w = max(0, w-e.rules.Scoring.SearchPathDiscount)
			}
			a.Reasons = append(a.Reasons, fmt.Sprintf("%s now names %s %s (%s)", c.Path, kindNoun(it.Kind), it.Value, lib.Location))
			if (it.Kind == ldso.Preload || it.Kind == ldso.Audit) && strings.HasPrefix(it.Path, "/") {
				w += e.judgeInto(&lib, judge.Input{Path: filepath.Clean(it.Path)}, "", a)
			}
			best = max(best, w)
			a.Libraries = append(a.Libraries, lib)
		}
	default:
		return nil
	}
	if c.Startup {
		a.Reasons = append(a.Reasons, "present when hookwatch started")
	}
	if c.Writer != nil {
		a.Reasons = append(a.Reasons, fmt.Sprintf("written by %s (pid %d)", c.Writer.Comm, c.Writer.PID))
	}
	a.targetWhy = fmt.Sprintf("%s reaches %s, credential programs included", filepath.Base(c.Path), target)
	e.score(a, best)
	return a
}

// AlternateLoader judges an exec whose interpreter is not a system loader,
// or a loader-like program with no interpreter. It returns nil for a
// static-pie program that is not a loader.
func (e *Engine) AlternateLoader(p *Exec) *Alert {
	ex := p.Event
	var reason, lib string
	switch {
	case ex.OddInterpreter:
		reason = fmt.Sprintf("%s runs with ELF interpreter %s, not a system loader", ex.Executable, ex.Interpreter)
		lib = ex.Interpreter
	case ex.LoaderLike && ldso.IsLoader(ex.Executable):
		reason = fmt.Sprintf("%s is a copy of the dynamic loader, run under another name", ex.Executable)
		lib = ex.Executable
	default:
		return nil
	}
	target, credential := ex.Executable, p.Process.Credential
	if ex.LoaderLike {
		inv := ldso.ParseInvocation(p.Process.Args)
		if inv.Program != "" {
			target = inv.Program
			credential = credential || e.rules.IsCredentialProgram(filepath.Base(inv.Program))
		}
		for _, it := range inv.Items {
			reason += fmt.Sprintf("; %s %s", it.Source, it.Value)
		}
	}
	a := e.newAlert(rules.AlternateLoader, ex.Time, target, credential)
	l := Library{Path: lib, Kind: "interpreter", Source: "exec", Location: e.rules.LocationClass(lib, false, false)}
	a.Reasons = append(a.Reasons, reason)
	w := e.rules.Scoring.Location[l.Location] + e.judgeInto(&l, judge.Input{Path: lib}, target, a)
	a.Libraries = []Library{l}
	// Swapping the loader is never routine: it weighs as much as a
	// library in a temporary directory, wherever the copy lives.
	e.score(a, max(w, e.rules.Scoring.Location["temporary"]))
	return a
}
