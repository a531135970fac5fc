package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hookwatch/hookwatch/sensor/event"
	"github.com/hookwatch/hookwatch/sensor/judge"
	"github.com/hookwatch/hookwatch/sensor/ldso"
	"github.com/hookwatch/hookwatch/sensor/loaderconf"
	"github.com/hookwatch/hookwatch/sensor/proctable"
	"github.com/hookwatch/hookwatch/sensor/ruleset"
)

// judged are the kinds of item whose file is a library a program loads
// because the configuration says so: each is judged like a mapped library.
var judged = map[ldso.Kind]bool{ldso.Preload: true, ldso.Audit: true, loaderconf.KindModule: true, loaderconf.KindNSS: true}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

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

// LoaderConfig builds the file_event of a change to the loader's
// configuration: which file, who wrote it, what the loader would now load
// that it did not before, and the judgement of each added library.
func (e *Engine) LoaderConfig(c *loaderconf.Change, writer, parent *proctable.Process) *Event {
	target, credential := "every process", true
	switch c.Kind {
	case "ldconf", "cache":
		// Search directories change where libraries come from, for
		// every program alike.
		credential = false
	case "unit":
		target = "the service " + filepath.Base(c.Path)
	case "pam", "pamconf":
		target = "the PAM stack " + filepath.Base(c.Path)
	case "nsswitch":
		target = "every program that looks up a user, group or host"
	case "sudoconf":
		target = "sudo"
	case "sshconf":
		target = "ssh and sshd"
	}
	ev := e.newEvent(ruleset.FileEvent, c.Time, target, credential)
	ev.Target = c.Path
	e.processFields(ev.Fields, writer, parent)
	f := ev.Fields
	f["TargetFilename"] = c.Path
	f["ConfigKind"] = c.Kind
	f["FileAction"] = c.Type
	setString(f, "RenamedTo", c.RenamedTo)
	f["ByPackageManager"] = e.ByPackageManager(c.Writer)
	f["StartupSweep"] = c.Startup

	best := -1
	switch {
	case c.Type == "rename" && c.Kind == "preload":
		// Azazel renames the preload file away so `cat` and `ls /etc`
		// see nothing, and back when it needs the loader again.
		ev.Reasons = append(ev.Reasons, fmt.Sprintf("%s renamed away to %s: hiding it", c.Path, c.RenamedTo))
		best = e.rules.Scoring.Location["other"]
	default:
		for _, it := range c.Added {
			if (it.Kind == loaderconf.KindModule || it.Kind == loaderconf.KindNSS) && !exists(e.onHost(it.Path)) {
				// Named but absent ("-session optional pam_systemd.so"
				// on a host without it): nothing is loaded. A file put
				// there later is judged when a program maps it.
				ev.Reasons = append(ev.Reasons, fmt.Sprintf("%s names %s, which does not exist (not loaded)", c.Path, it.Path))
				continue
			}
			lib := Library{Path: it.Path, Value: it.Value, Kind: it.Kind, Source: c.Path}
			lib.Location = e.locationOf(it)
			w := e.rules.Scoring.Location[lib.Location]
			if it.Kind == ldso.SearchDir || it.Kind == "include" || it.Kind == "environmentfile" {
				w = max(0, w-e.rules.Scoring.SearchPathDiscount)
			}
			ev.Reasons = append(ev.Reasons, fmt.Sprintf("%s now names %s %s (%s)", c.Path, kindNoun(it.Kind), it.Value, lib.Location))
			if judged[it.Kind] && strings.HasPrefix(it.Path, "/") {
				w += e.judgeInto(&lib, judge.Input{Path: filepath.Clean(it.Path)}, "", ev)
			}
			best = max(best, w)
			ev.Libraries = append(ev.Libraries, lib)
		}
	}
	if best >= 0 {
		if c.Startup {
			ev.Reasons = append(ev.Reasons, "present when hookwatch started")
		}
		if c.Writer != nil {
			ev.Reasons = append(ev.Reasons, fmt.Sprintf("written by %s (pid %d)", c.Writer.Comm, c.Writer.PID))
		}
		switch c.Kind {
		case "pam", "pamconf", "nsswitch", "sudoconf", "sshconf":
			ev.targetWhy = fmt.Sprintf("%s configures %s: what it names is loaded with the passwords", c.Path, target)
		default:
			ev.targetWhy = fmt.Sprintf("%s reaches %s, credential programs included", filepath.Base(c.Path), target)
		}
		e.score(ev, best)
	}
	e.libraryFields(ev)
	return ev
}
